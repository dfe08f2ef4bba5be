// One step's contrast scores from the branches' last hidden rows.
//
// A token the plausibility cutoff removes scores −∞ whatever the counterfactual logits say, and each
// logit is a dot product of one (normed) hidden row with one lm_head column. So the factual rows go
// through the full lm_head (as in plain decoding: they decide the cutoff), and each counterfactual row
// only through the columns of the tokens that survive it, usually a handful instead of the whole
// vocabulary: the kept tokens' lm_head rows are gathered in their stored dtype (16-bit host weights read
// in place; a resident lm_head from a token-major copy in JS memory, since a backend gather of columns
// costs more than the full matMul on wasm) and multiplied with all the row's counterfactual rows at
// once (the native GEMV reads each gathered row once). The scores are the same function as
// `contrastLogits` on full rows. Every branch gets full logits when a caller wants to see them
// (`onStep`), when ε = 0 (nothing is cut) or when the cutoff keeps so many tokens that the gather costs
// more than a full product. On wasm the cutoff itself (max, −∞ mask, kept indices) runs in a SIMD
// kernel before the factual row is downloaded.
// Either way ε acts in one place, `plausibleScores`: the contrast of the kept tokens, −∞ for the rest.
import * as tf from "@tensorflow/tfjs-core";
import type { LlavaModel } from "../model/llava.js";
import { averageDraws, contrastLogits, plausibleTokens } from "./contrast.js";
import type { DecodingPlan } from "./plan.js";
import { cutoffKernel } from "../model/kernels/kernels.js";
import { nativeLinear, nativeWeight } from "../model/kernels/native.js";

/**
 * Above this fraction of the vocabulary kept, counterfactual rows get full logits from the backend: at
 * 7B widths a gathered float32 row costs ≈ 8 µs, so 1/8 of 32 064 tokens ≈ 35 ms, about what one more
 * row adds to a full lm_head product on XNNPACK.
 */
export const MAX_DOT_FRACTION = 1 / 8;

export interface StepRows {
  /** Pre-norm last-layer output of every computed row `[R,D]`. Not owned. */
  hidden: tf.Tensor2D;
  /** rowOf[branch][b]: the row of `hidden` holding that branch for batch row b. */
  rowOf: number[][];
}

export interface StepScores {
  scores: Float32Array[];
  /** Full logits per branch and batch row, only when asked for. */
  branchLogits?: Float32Array[][];
}

/** Scores for step `step` (0 = the prefill's next token); `full` asks for every branch's logits. */
export function stepScores(model: LlavaModel, plan: DecodingPlan, step: number, rows: StepRows, full: boolean): StepScores {
  return full || !(plan.epsilon > 0) ? fullScores(model, plan, step, rows) : cutoffScores(model, plan, step, rows);
}

function fullScores(model: LlavaModel, plan: DecodingPlan, step: number, { hidden, rowOf }: StepRows): StepScores {
  const needed = [...new Set(rowOf.flat())];
  const logits = readLogits(model, hidden, needed);
  const V = model.config.text.vocabSize;
  const at = new Map(needed.map((r, i) => [r, i]));
  const branchLogits = rowOf.map((byRow) => byRow.map((r) => logits.subarray(at.get(r)! * V, (at.get(r)! + 1) * V)));
  const scores = rowOf[0].map((_, b) => {
    const branch = (i: number) => branchLogits[i][b];
    if (!(plan.epsilon > 0)) return contrastRow(plan, step, branch(0), branch); // ε = 0: nothing is cut
    const kept = plausibleTokens(branch(0), plan.epsilon);
    return plausibleScores(plan, step, kept, (i) => pick(branch(i), kept), new Float32Array(V).fill(-Infinity));
  });
  return { scores, branchLogits };
}

function cutoffScores(model: LlavaModel, plan: DecodingPlan, step: number, { hidden, rowOf }: StepRows): StepScores {
  const V = model.config.text.vocabSize;
  const maxKept = Math.floor(V * MAX_DOT_FRACTION);
  const factualRows = new Set(rowOf[0]);
  const cfRows = [...new Set(rowOf.flat())].filter((r) => !factualRows.has(r));
  const onDevice = cutoffKernel(model.performance);
  // the factual rows' logits [B,V] (on wasm already cut: −∞ below the cutoff, with the kept indices),
  // and every row after the final norm [R,D] kept for the counterfactual products
  let factual: Float32Array = new Float32Array(0);
  let keptOnDevice: Int32Array | null = null;
  let normed: tf.Tensor2D | null = null;
  tf.tidy(() => {
    const n = model.normOf(hidden); // [R,D]
    const logits = model.headOf(pickRows(n, rowOf[0])); // [B,V]
    if (onDevice) {
      const cut = onDevice(logits, plan.epsilon, maxKept);
      factual = cut.masked.dataSync() as Float32Array;
      keptOnDevice = cut.kept.dataSync() as Int32Array; // [B, maxKept+1]
    } else factual = logits.dataSync() as Float32Array;
    if (cfRows.length) normed = tf.keep(n);
  });
  try {
    const factualRow = (b: number) => factual.subarray(b * V, (b + 1) * V);
    const kept = rowOf[0].map((_, b) => deviceKept(keptOnDevice, b, maxKept) ?? plausibleTokens(factualRow(b), plan.epsilon));
    const few = Math.max(...kept.map((k) => k.length)) <= maxKept;
    const cfFull = few || !cfRows.length ? null : readLogits(model, hidden, cfRows); // [n,V]
    const cfAt = new Map(cfRows.map((r, i) => [r, i]));
    const scores = rowOf[0].map((factualRowIndex, b) => {
      const keep = kept[b];
      const mine = [...new Set(rowOf.map((rows) => rows[b]))].filter((r) => r !== factualRowIndex);
      const restricted = few && mine.length ? keptLogits(model, normed!, mine, keep) : null;
      const compact = (r: number) => {
        if (r === factualRowIndex) return pick(factualRow(b), keep);
        if (restricted) return restricted.get(r)!;
        return pick(cfFull!.subarray(cfAt.get(r)! * V, (cfAt.get(r)! + 1) * V), keep);
      };
      // the device's row is already −∞ where cut (and ours to return); else start from an empty row
      const out = onDevice ? factualRow(b) : new Float32Array(V).fill(-Infinity);
      return plausibleScores(plan, step, keep, (i) => compact(rowOf[i][b]), out);
    });
    return { scores };
  } finally {
    (normed as tf.Tensor2D | null)?.dispose();
  }
}

/**
 * Logits of `tokens` for rows `rows` of the normed `[R,D]`: one product with lm_head's rows of those
 * tokens (gathered in their stored dtype), so each weight row is read once for all the rows.
 */
export function keptLogits(model: LlavaModel, normed: tf.Tensor2D, rows: number[], tokens: Int32Array): Map<number, Float32Array> {
  const n = tokens.length;
  let data: Float32Array = new Float32Array(0);
  if (n > 0) {
    const head = model.lmHeadRows(tokens); // [n, D]
    const w = nativeWeight(head.data, head.dtype, model.config.text.hiddenSize, n, "out,in");
    tf.tidy(() => {
      data = nativeLinear(pickRows(normed, rows), w).dataSync() as Float32Array; // [rows, n]
    });
    w.dispose();
  }
  return new Map(rows.map((r, i) => [r, data.subarray(i * n, (i + 1) * n)]));
}

/** Row b's kept indices from the cutoff kernel's `[B, maxKept+1]` output, or null (none, or too many). */
function deviceKept(kept: Int32Array | null, b: number, maxKept: number): Int32Array | null {
  if (!kept) return null;
  const start = b * (maxKept + 1);
  const count = kept[start];
  return count <= maxKept ? kept.subarray(start + 1, start + 1 + count) : null;
}

/**
 * Where ε acts: the plan's contrast of the tokens `kept` (ascending, from `plausibleTokens` or the
 * cutoff kernel) written into `out`, whose other entries must be −∞. `branch(i)` gives branch i's
 * logits over `kept` (branch 0 is the factual row).
 */
function plausibleScores(
  plan: DecodingPlan,
  step: number,
  kept: Int32Array,
  branch: (i: number) => Float32Array,
  out: Float32Array,
): Float32Array {
  const s = contrastRow(plan, step, branch(0), branch);
  for (let j = 0; j < kept.length; j++) out[kept[j]] = s[j];
  return out;
}

/** The plan's contrast for one batch row, nothing cut; `branch(i)` gives branch i's logits over the same tokens. */
function contrastRow(plan: DecodingPlan, step: number, factual: Float32Array, branch: (i: number) => Float32Array): Float32Array {
  const terms = plan.terms.map((t) => ({
    logits: averageDraws(t.branches.map(branch)),
    weight: typeof t.weight === "function" ? t.weight(step) : t.weight,
  }));
  return contrastLogits(factual, terms, { gamma: plan.gamma, epsilon: 0 });
}

/** Logits `[rows.length, V]` of the given rows of `hidden`, downloaded. */
function readLogits(model: LlavaModel, hidden: tf.Tensor2D, rows: number[]): Float32Array {
  let data: Float32Array = new Float32Array(0);
  tf.tidy(() => {
    data = model.logitsOf(pickRows(hidden, rows)).dataSync() as Float32Array;
  });
  return data; // assigned, not returned from tidy: tidy would walk a returned typed array
}

/** Rows of `[R,D]`: a slice when they are consecutive, else a gather. */
function pickRows(hidden: tf.Tensor2D, rows: number[]): tf.Tensor2D {
  const consecutive = rows.every((r, i) => r === rows[0] + i);
  if (!consecutive) return tf.gather(hidden, tf.tensor1d(rows, "int32")) as tf.Tensor2D; // [n,D]
  return rows.length === hidden.shape[0] ? hidden : hidden.slice([rows[0], 0], [rows.length, -1]); // [n,D]
}

function pick(row: Float32Array, idx: Int32Array): Float32Array {
  const out = new Float32Array(idx.length);
  for (let j = 0; j < idx.length; j++) out[j] = row[idx[j]];
  return out;
}
