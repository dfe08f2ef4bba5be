// tfjs-core's Node build registers neither the chained tensor methods (x.reshape(...)) nor any
// gradient. The union package registers both on the same (deduplicated) tfjs-core instance, so
// every entry point imports this module once before using tensors. It is required, not imported:
// an ESM import of the union's CommonJS bundle makes Node scan it for named exports, which cost
// about 0.15 s of every command's start-up, and nothing here uses its exports.
import { createRequire } from "node:module";
// the chained methods' types come from the union's declarations (erased at run time)
import type {} from "@tensorflow/tfjs";

createRequire(import.meta.url)("@tensorflow/tfjs");
