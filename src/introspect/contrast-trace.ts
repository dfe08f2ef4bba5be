// Contrastive decoding on raw token ids with every branch's logits kept per step, for `causalmm inspect
// --cf/--preset/--baseline`: the tensor-level record of a CausalMM (or baseline) run without a tokenizer.
import type * as tf from "@tensorflow/tfjs-core";
import type { LlavaModel } from "../model/llava.js";
import type { DecodingPlan } from "../causal/plan.js";
import { promptKey } from "../causal/plan.js";
import { CausalSource } from "../causal/source.js";
import { argmax } from "../util/argmax.js";
import type { Captured } from "./inspect.js";

export const TRACE_TENSOR_HELP = [
  "factual.logits ([steps,B,V]: branch 0 of the plan)",
  "cf.logits ([steps,branches−1,B,V]: every other branch, in plan order)",
  "contrast.scores ([steps,B,V]: the scores the token is chosen from, −inf where cut)",
];
export const TRACE_TENSORS = ["factual.logits", "cf.logits", "contrast.scores"] as const;

export interface ContrastTrace {
  /** Branch names in plan order (branch 0 = factual). */
  branches: string[];
  /** Tensors by TRACE_TENSORS name. */
  tensors: Map<string, Captured>;
  /** Greedy tokens per batch row, one per step (argmax of the scores, first on ties). */
  tokens: number[][];
}

/**
 * Greedy contrastive decoding for `steps` tokens (the prefill's scores, then one step per chosen token;
 * no stop token). `prompts` holds "main" and every other prompt a branch reads ("noimage": the ids
 * without their image tokens when not given).
 */
export function traceContrast(
  model: LlavaModel,
  plan: DecodingPlan,
  prompts: Record<string, number[][]>,
  pixels: tf.Tensor4D | null,
  steps: number,
): ContrastTrace {
  if (!(Number.isInteger(steps) && steps >= 1)) throw new Error(`contrastive trace: steps must be a positive integer, got ${steps}`);
  const main = prompts.main;
  const all: Record<string, number[][]> = { ...prompts };
  for (const key of new Set(plan.branches.map(promptKey))) {
    if (all[key]) continue;
    if (key === "noimage") all.noimage = main.map((row) => row.filter((t) => t !== model.config.imageTokenIndex));
    else throw new Error(`the plan's branch reads prompt '${key}': give its ids (inspect: --prompt-ids ${key}=FILE.npy)`);
  }
  const used = Object.fromEntries([...new Set(plan.branches.map(promptKey))].map((k) => [k, all[k]]));
  const B = main.length;
  const V = model.config.text.vocabSize;
  const nb = plan.branches.length;
  const factual = new Float32Array(steps * B * V);
  const cf = new Float32Array(steps * Math.max(0, nb - 1) * B * V);
  const scores = new Float32Array(steps * B * V);
  const onStep = (step: number, branchLogits: Float32Array[][], s: Float32Array[]) => {
    for (let b = 0; b < B; b++) {
      factual.set(branchLogits[0][b], (step * B + b) * V);
      scores.set(s[b], (step * B + b) * V);
      for (let i = 1; i < nb; i++) cf.set(branchLogits[i][b], ((step * (nb - 1) + i - 1) * B + b) * V);
    }
  };
  const src = new CausalSource(model, { plan, prompts: used, pixels, onStep });
  const tokens: number[][] = main.map(() => []);
  try {
    let rows = src.prefill();
    for (let k = 0; k < steps; k++) {
      const next = rows.map((r) => argmax(r));
      next.forEach((t, b) => tokens[b].push(t));
      if (k < steps - 1) rows = src.step(next);
    }
  } finally {
    src.dispose();
  }
  const tensors = new Map<string, Captured>([
    ["factual.logits", { shape: [steps, B, V], data: factual }],
    ["cf.logits", { shape: [steps, nb - 1, B, V], data: cf }],
    ["contrast.scores", { shape: [steps, B, V], data: scores }],
  ]);
  return { branches: plan.branches.map((b) => b.name), tensors, tokens };
}
