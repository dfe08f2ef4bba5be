// `causalmm inspect`: one forward on raw ids, named tensors written as float32 .npy; optional greedy
// tokens; with ask's CausalMM flags, contrastive greedy decoding with every branch's logits per step.
import * as tf from "@tensorflow/tfjs-core";
import { makeDirs } from "../../util/files.js";
import { join } from "node:path";
import type { ParsedArgs } from "../args.js";
import { defineCommand, listOpt, need, numOpt, str } from "../args.js";
import { readNpy, writeNpy } from "../../weights/npy.js";
import { inspectForward, TENSOR_NAME_HELP, type Captured } from "../../introspect/inspect.js";
import { traceContrast, TRACE_TENSORS, TRACE_TENSOR_HELP } from "../../introspect/contrast-trace.js";
import { buildPlan, describePlan, type CausalOptions } from "../../causal/presets.js";
import { CAUSAL_FLAGS } from "../ask-flags.js";
import { applyFlags } from "../prompt-flags.js";
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
  if (a.dtype !== "float32" || a.shape.length !== 4)
    throw new Error(`${path}: pixel values must be float32 [N,C,H,W], got ${a.dtype} [${a.shape}]`);
  return tf.tensor4d(a.data as Float32Array, a.shape as [number, number, number, number]);
}

/** CausalMM / baseline options from the same flags `ask` takes; undefined when none is given. */
function causalOptions(args: ParsedArgs): CausalOptions | undefined {
  return applyFlags(args, CAUSAL_FLAGS).causal;
}

/** `--prompt-ids KEY=FILE` → the ids of the other prompts a plan's branches read (noimage, icd). */
function otherPrompts(args: ParsedArgs): Record<string, number[][]> {
  const out: Record<string, number[][]> = {};
  for (const entry of listOpt(args, "prompt-ids")) {
    const m = /^([a-z]+)=(.+)$/.exec(entry);
    if (!m || m[1] === "main") throw new Error(`inspect: --prompt-ids wants KEY=FILE.npy with KEY noimage or icd, got '${entry}'`);
    out[m[1]] = readIds(m[2]);
  }
  return out;
}

async function run(args: ParsedArgs): Promise<void> {
  const names = (str(args, "tensors") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const traced = names.filter((n) => (TRACE_TENSORS as readonly string[]).includes(n));
  const forwardNames = names.filter((n) => !traced.includes(n));
  const causal = causalOptions(args);
  if (traced.length && !causal)
    throw new Error(`inspect: ${traced.join(", ")} need contrastive decoding (--cf, --preset, --baseline or --gamma/--epsilon)`);
  const out = str(args, "out");
  if (names.length && !out) throw new Error("inspect: --out DIR is required with --tensors");
  const greedy = numOpt(args, "greedy");
  const model = await loadModelWithProgress(resolveModelDir(str(args, "model")), str(args, "backend"));
  const ids = readIds(need(args, "input-ids", "inspect"));
  const pvPath = str(args, "pixel-values");
  const pixels = pvPath ? readPixels(pvPath) : null;
  const summary: Record<string, unknown> = { backend: tf.getBackend(), imageTokens: model.numImageTokens };
  const files: Record<string, number[]> = {};
  const write = (name: string, t: Captured) => {
    writeNpy(join(out!, `${name}.npy`), t.shape, t.data);
    files[`${name}.npy`] = t.shape;
  };
  try {
    if (out && names.length) makeDirs(out, "the inspect output");
    if (forwardNames.length) for (const [name, t] of inspectForward(model, ids, pixels, forwardNames)) write(name, t);
    if (causal) {
      const plan = buildPlan(causal, model.config);
      const trace = traceContrast(model, plan, { main: ids, ...otherPrompts(args) }, pixels, greedy ?? 1);
      for (const name of traced) write(name, trace.tensors.get(name)!);
      summary.plan = describePlan(plan);
      if (greedy !== undefined) summary.greedy = trace.tokens;
    } else if (greedy !== undefined) summary.greedy = greedyDecode(model, ids, pixels, greedy).tokens;
  } finally {
    pixels?.dispose();
    model.dispose();
  }
  if (names.length) summary.written = files;
  process.stdout.write(JSON.stringify(summary) + "\n");
}

export const inspectCommand = defineCommand({
  name: "inspect",
  summary: "one forward pass on raw ids: chosen tensors as .npy, N greedy tokens, contrastive decoding with every branch's logits",
  usage:
    "causalmm inspect --model DIR --input-ids IDS.npy [--pixel-values PV.npy] --out DIR --tensors NAME,... [--greedy N] " +
    "[--cf SPEC ... | --preset official | --baseline vcd|noimage|icd|pai] [--gamma G --epsilon E --draws K] [--prompt-ids noimage|icd=IDS.npy]",
  options: [
    { name: "model", type: "string", help: "llava-hf model directory (default: the embedded model)" },
    { name: "input-ids", type: "string", help: "int32/int64 .npy of token ids [S] or [B,S]" },
    { name: "pixel-values", type: "string", help: "float32 .npy [N,3,H,W], already normalised" },
    { name: "out", type: "string", help: "directory for the .npy files" },
    { name: "tensors", type: "string", help: `comma-separated names: ${[...TENSOR_NAME_HELP, ...TRACE_TENSOR_HELP].join("; ")}` },
    {
      name: "greedy",
      type: "number",
      help: "also print N greedy tokens (KV cache) as JSON; contrastive (argmax of the scores) with --cf/--preset/--baseline",
    },
    ...CAUSAL_FLAGS,
    {
      name: "prompt-ids",
      type: "list",
      help: "KEY=IDS.npy: ids of another prompt a baseline reads (noimage: default the input ids without image tokens; icd: required)",
    },
  ],
  run,
});
