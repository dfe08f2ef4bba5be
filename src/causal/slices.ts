// Tensor plumbing for counterfactual attention (counterfactual.ts): taking and replacing slices along
// an axis, and repeating small patterns to full `[B,H,Tq,Tk]` size.
import * as tf from "@tensorflow/tfjs-core";

export type Shape4 = [number, number, number, number];

export const isIdentity = (idx: number[], n: number): boolean => idx.length === n && idx.every((v, i) => v === i);

// Performance notes (cpu and wasm backends, [1,32,600,600]): gather, tile/broadcastTo and (on cpu)
// broadcasting binary ops walk element by element and take ~1 s, while slice/concat of contiguous runs,
// same-shape ops and matMul are 10–50× faster. Hence: head/row selection by runs of slices, and small
// [Tq·Tk] / [rows] patterns expanded to full size by an outer product with ones (each output is one
// product x·1, so the expansion is exact, −∞ included).

/** Sorted unique indices → maximal runs [start, length, positionInIdx]. */
function runsOf(idx: number[]): [number, number, number][] {
  const runs: [number, number, number][] = [];
  idx.forEach((v, k) => {
    const last = runs[runs.length - 1];
    if (last && last[0] + last[1] === v) last[1]++;
    else runs.push([v, 1, k]);
  });
  return runs;
}

function sliceAxis<T extends tf.Tensor>(x: T, start: number, len: number, axis: number): T {
  const begin = x.shape.map((_, d) => (d === axis ? start : 0));
  const size = x.shape.map((n, d) => (d === axis ? len : n));
  return tf.slice(x, begin, size);
}

/** The slices `idx` (sorted, unique) of `x` along `axis`. */
export function takeSlices<T extends tf.Tensor>(x: T, idx: number[], axis: number): T {
  const parts = runsOf(idx).map(([start, len]) => sliceAxis(x, start, len, axis));
  return parts.length === 1 ? parts[0] : tf.concat(parts, axis);
}

/** `base` with its slices `idx` (sorted, unique) along `axis` replaced by `repl`; the rest exact copies. */
export function replaceSlices<T extends tf.Tensor>(base: T, repl: T, idx: number[], axis: number): T {
  const n = base.shape[axis];
  if (isIdentity(idx, n)) return repl;
  const parts: T[] = [];
  let next = 0;
  for (const [start, len, k] of runsOf(idx)) {
    if (start > next) parts.push(sliceAxis(base, next, start - next, axis));
    parts.push(len === repl.shape[axis] ? repl : sliceAxis(repl, k, len, axis));
    next = start + len;
  }
  if (next < n) parts.push(sliceAxis(base, next, n - next, axis));
  return tf.concat(parts, axis);
}

/** A `[Tq·Tk]` pattern repeated for every (batch, head): `[B,Hs,Tq,Tk]`. */
export function repeatPattern(pattern: Float32Array, shape: Shape4): tf.Tensor4D {
  const ones = tf.ones([shape[0] * shape[1], 1]);
  return tf.reshape(tf.matMul(ones, tf.tensor2d(pattern, [1, pattern.length])), shape);
}

/** A per-row value `[B,Hs,Tq,1]` repeated along the keys: `[B,Hs,Tq,Tk]`. */
export function repeatAlongKeys(col: tf.Tensor, shape: Shape4): tf.Tensor4D {
  return tf.reshape(tf.matMul(tf.reshape(col, [-1, 1]), tf.ones([1, shape[3]])), shape);
}
