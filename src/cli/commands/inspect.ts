// `causalmm inspect`: one forward, named tensors written as float32 .npy; optional greedy tokens.
import * as tf from "@tensorflow/tfjs-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { CommandSpec, ParsedArgs } from "../args.js";
import { need, numOpt, str } from "../args.js";
import { readNpy, writeNpy } from "../../weights/npy.js";
import { inspectForward, TENSOR_NAME_HELP } from "../../introspect/inspect.js";
import { greedyDecode } from "../../generate/greedy.js";
import { loadModelWithProgress } from "../load.js";
import { resolveModelDir } from "../../paths.js";

function readIds(path: string): number[][] {
  const a = readNpy(path);
  if (a.dtype !== "int32" && a.dtype !== "int64") throw new Error(`${path}: input ids must be int32 or int64, got ${a.dtype}`);
  const shape = a.shape.length === 1 ? [1, a.shape[0]] : a.shape;
  if (shape.length !== 2) throw new Error(`${path}: input ids must be [S] or [B,S], got [${a.shape}]`);
  return Array.from({ length: shape[0] }, (_, b) => Array.from(a.data.slice(b * shape[1], (b + 1) * shape[1])));
}

function readPixels(path: string): tf.Tensor4D {
  const a = readNpy(path);
  if (a.dtype !== "float32" || a.shape.length !== 4) throw new Error(`${path}: pixel values must be float32 [N,C,H,W], got ${a.dtype} [${a.shape}]`);
  return tf.tensor4d(a.data as Float32Array, a.shape as [number, number, number, number]);
}

async function run(args: ParsedArgs): Promise<number> {
  const model = await loadModelWithProgress(resolveModelDir(str(args, "model")), str(args, "backend"));
  const ids = readIds(need(args, "input-ids", "inspect"));
  const pvPath = str(args, "pixel-values");
  const pixels = pvPath ? readPixels(pvPath) : null;
  const { numImageTokens } = model;
  const names = (str(args, "tensors") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const out = str(args, "out");
  const summary: Record<string, unknown> = { backend: tf.getBackend(), imageTokens: numImageTokens };
  if (names.length) {
    if (!out) throw new Error("inspect: --out DIR is required with --tensors");
    mkdirSync(out, { recursive: true });
    const got = inspectForward(model, ids, pixels, names);
    const files: Record<string, number[]> = {};
    for (const [name, t] of got) {
      writeNpy(join(out, `${name}.npy`), t.shape, t.data);
      files[`${name}.npy`] = t.shape;
    }
    summary.written = files;
  }
  const greedy = numOpt(args, "greedy");
  if (greedy !== undefined) summary.greedy = greedyDecode(model, ids, pixels, greedy).tokens;
  pixels?.dispose();
  model.dispose();
  process.stdout.write(JSON.stringify(summary) + "\n");
  return 0;
}

export const inspectCommand: CommandSpec = {
  name: "inspect",
  summary: "run one forward pass and write chosen tensors as .npy (and/or N greedy tokens)",
  usage: "causalmm inspect --model DIR --input-ids IDS.npy [--pixel-values PV.npy] --out DIR --tensors NAME,... [--greedy N]",
  options: [
    { name: "model", type: "string", help: "llava-hf model directory (default: the embedded model)" },
    { name: "input-ids", type: "string", help: "int32/int64 .npy of token ids [S] or [B,S]" },
    { name: "pixel-values", type: "string", help: "float32 .npy [N,3,H,W], already normalised" },
    { name: "out", type: "string", help: "directory for the .npy files" },
    { name: "tensors", type: "string", help: `comma-separated names: ${TENSOR_NAME_HELP.join("; ")}` },
    { name: "greedy", type: "number", help: "also print N greedy tokens (KV cache) as JSON" },
  ],
  run,
};
