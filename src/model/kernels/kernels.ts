// Which of the project's own kernels the active backend runs (names.ts; wasm: a SIMD module, cpu: JS).
// Every getter returns null where a kernel is missing or turned off, and callers keep plain tfjs ops.
import * as tf from "@tensorflow/tfjs-core";
import { KERNEL_NAMES } from "./names.js";
import { registerWasmKernels } from "./wasm-kernels.js";
import { registerCpuKernels } from "./cpu-kernels.js";

let mode: "auto" | "never" = "auto";

/** For tests and benchmarks: "never" turns every kernel off (tfjs ops and JS scans instead). */
export function setDecodeKernel(m: "auto" | "never"): void {
  mode = m;
}

const REGISTER: Record<string, () => boolean> = { wasm: registerWasmKernels, cpu: registerCpuKernels };

/** Whether the active backend has kernel `name` (registering this backend's kernels on first use). */
function has(name: string): boolean {
  const backend = tf.getBackend();
  if (mode === "never" || !REGISTER[backend]?.()) return false;
  return tf.getKernel(name, backend) !== undefined;
}

export interface DecodeProducts {
  /** `[B,H,1,hd]` × the first `length` positions of `[B,Hkv,S,hd]` → `[B,H,1,length]`. */
  qk(q: tf.Tensor4D, k: tf.Tensor4D, length: number): tf.Tensor4D;
  /** `[B,H,1,length]` × the first `length` positions of `[B,Hkv,S,hd]` → `[B,H,1,hd]`. */
  pv(p: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor4D;
}

/** One-row decode attention products over KV cache storage (grouped-query heads read in place). */
export function decodeAttention(): DecodeProducts | null {
  if (!has(KERNEL_NAMES.qk)) return null;
  const run = (name: string, row: tf.Tensor4D, cache: tf.Tensor4D, length: number) =>
    tf.engine().runKernel(name, { row, cache }, { length } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  return { qk: (q, k, length) => run(KERNEL_NAMES.qk, q, k, length), pv: (p, v) => run(KERNEL_NAMES.pv, p, v, p.shape[3]) };
}

/** Softmax over the last axis where the backend has a faster one than tfjs's (cpu), else null. */
export function rowSoftmax(): ((x: tf.Tensor) => tf.Tensor) | null {
  if (!has(KERNEL_NAMES.softmax)) return null;
  return (x) => tf.engine().runKernel(KERNEL_NAMES.softmax, { x }, {}) as tf.Tensor;
}

/**
 * The plausibility cutoff of logits `[B,V]` on the device: `masked` = the logits with −∞ where
 * ℓ < fround(log ε) + max ℓ, and `kept` `[B, maxKept+1]` = per row the count of kept tokens followed by
 * their ascending indices (only the first maxKept are written). Null where the backend has none.
 */
export function cutoffKernel(): ((logits: tf.Tensor2D, epsilon: number, maxKept: number) => { masked: tf.Tensor2D; kept: tf.Tensor2D }) | null {
  if (!has(KERNEL_NAMES.cutoff)) return null;
  return (logits, epsilon, maxKept) => {
    const attrs = { logEps: Math.fround(Math.log(epsilon)), maxKept };
    const [masked, kept] = tf.engine().runKernel(KERNEL_NAMES.cutoff, { logits }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor2D[];
    return { masked, kept };
  };
}
