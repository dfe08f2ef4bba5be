// Which of the project's own kernels the active backend runs (names.ts; wasm: a SIMD module, cpu: JS).
// Every getter returns null where a kernel is missing or turned off (the model's performance option
// `kernels: "never"`), and callers keep plain tfjs ops.
import * as tf from "@tensorflow/tfjs-core";
import { KERNEL_NAMES } from "./names.js";
import { registerWasmKernels } from "./wasm-kernels.js";
import { registerCpuKernels } from "./cpu-kernels.js";
import { DEFAULT_PERFORMANCE, type PerformanceOptions } from "../performance.js";
import { nativeMatMulKernel } from "./native.js";

/** The part of the performance options these getters read. */
export type KernelChoice = Pick<PerformanceOptions, "kernels">;

const REGISTER: Record<string, () => boolean> = { wasm: registerWasmKernels, cpu: registerCpuKernels };

/** Whether the active backend has kernel `name` (registering this backend's kernels on first use). */
function has(name: string, opts: KernelChoice): boolean {
  const backend = tf.getBackend();
  if (opts.kernels === "never" || !REGISTER[backend]?.()) return false;
  return tf.getKernel(name, backend) !== undefined;
}

export interface AttentionProducts {
  /** `[B,H,R,hd]` × the first `length` positions of `[B,Hkv,S,hd]` → `[B,H,R,length]`. */
  qk(q: tf.Tensor4D, k: tf.Tensor4D, length: number): tf.Tensor4D;
  /** `[B,H,R,length]` × the first `length` positions of `[B,Hkv,S,hd]` → `[B,H,R,hd]`. */
  pv(p: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor4D;
}

/** Query rows per head each backend's product kernels take (wasm: decode steps only). */
const MAX_QUERY_ROWS: Record<string, number> = { wasm: 1, cpu: Infinity };

/**
 * Attention products over keys/values or KV cache storage (grouped-query heads read in place) for
 * `queryRows` query rows per head, or null where the backend's kernels do not take that many, or while a
 * gradient tape records (the lab's training): they have no gradients, matMuls do.
 */
export function attentionKernels(queryRows: number, opts: KernelChoice): AttentionProducts | null {
  if (queryRows > (MAX_QUERY_ROWS[tf.getBackend()] ?? 0) || tf.engine().isTapeOn() || !has(KERNEL_NAMES.qk, opts)) return null;
  const run = (name: string, row: tf.Tensor4D, cache: tf.Tensor4D, length: number) =>
    tf.engine().runKernel(name, { row, cache }, { length } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  return { qk: (q, k, length) => run(KERNEL_NAMES.qk, q, k, length), pv: (p, v) => run(KERNEL_NAMES.pv, p, v, p.shape[3]) };
}

/** Softmax over the last axis where the backend has a faster one than tfjs's (cpu), else null. */
export function rowSoftmax(opts: KernelChoice): ((x: tf.Tensor) => tf.Tensor) | null {
  if (!has(KERNEL_NAMES.softmax, opts)) return null;
  return (x) => tf.engine().runKernel(KERNEL_NAMES.softmax, { x }, {}) as tf.Tensor;
}

/**
 * tf.unstack along axis 0 where the backend has a faster one than tfjs's (wasm), else null; null too
 * while a gradient tape records (it has no gradient).
 */
export function unstackKernel(opts: KernelChoice): ((x: tf.Tensor) => tf.Tensor[]) | null {
  if (tf.engine().isTapeOn() || !has(KERNEL_NAMES.unstack, opts)) return null;
  return (x) => tf.engine().runKernel(KERNEL_NAMES.unstack, { x }, {}) as tf.Tensor[];
}

/**
 * The plausibility cutoff of logits `[B,V]` on the device: `masked` = the logits with −∞ where
 * ℓ < fround(log ε) + max ℓ, and `kept` `[B, maxKept+1]` = per row the count of kept tokens followed by
 * their ascending indices (only the first maxKept are written). Null where the backend has none.
 */
export function cutoffKernel(
  opts: KernelChoice,
): ((logits: tf.Tensor2D, epsilon: number, maxKept: number) => { masked: tf.Tensor2D; kept: tf.Tensor2D }) | null {
  if (!has(KERNEL_NAMES.cutoff, opts)) return null;
  return (logits, epsilon, maxKept) => {
    const attrs = { logEps: Math.fround(Math.log(epsilon)), maxKept };
    const [masked, kept] = tf.engine().runKernel(KERNEL_NAMES.cutoff, { logits }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor2D[];
    return { masked, kept };
  };
}

/** The part of the performance options matMulKernel reads. */
export type MatMulChoice = Pick<PerformanceOptions, "kernels" | "matmul">;

/**
 * a `[M,K]` · b `[K,N]` (+ bias `[N]`) in the native GEMM addon (native.ts), or null where it did not load,
 * is turned off (performance `matmul: "tfjs"` or `kernels: "never"`) or while a gradient
 * tape records (no gradient).
 */
export function matMulKernel(
  opts: MatMulChoice = DEFAULT_PERFORMANCE,
): ((a: tf.Tensor2D, b: tf.Tensor2D, bias?: tf.Tensor1D) => tf.Tensor2D) | null {
  if (opts.kernels === "never" || opts.matmul === "tfjs" || tf.engine().isTapeOn()) return null;
  return nativeMatMulKernel();
}
