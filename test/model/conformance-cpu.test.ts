import { conformanceSuite } from "./conformance.js";

conformanceSuite("cpu");
