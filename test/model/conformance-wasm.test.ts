import { conformanceSuite } from "./conformance.js";

conformanceSuite("wasm");
