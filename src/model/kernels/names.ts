// Names and attributes of the project's own tfjs kernels (implemented per backend in wasm-kernels.ts
// and cpu-kernels.ts; kernels.ts decides which are used).
import type * as tf from "@tensorflow/tfjs-core";
export const KERNEL_NAMES = {
  /** q·Kᵀ per (batch row, head) over the first `length` positions of K (wasm: one query row). */
  qk: "CausalmmAttendQK",
  /** P·V per (batch row, head) over the first `length` positions of V (wasm: one query row). */
  pv: "CausalmmAttendPV",
  /** The plausibility cutoff of logit rows: masked rows and kept indices. */
  cutoff: "CausalmmCutoff",
  /** Softmax over the last axis. */
  softmax: "CausalmmSoftmax",
  /** `[N,...]` → N tensors `[...]` (tf.unstack along axis 0), each a block copy of its part. */
  unstack: "CausalmmUnstack",
  /** a `[M,K]` · b `[K,N]` (+ bias) in the native GEMM addon (native.ts). */
  nativeMatMul: "CausalmmNativeMatMul",
  /** x `[M,K]` · a host weight (attrs) (+ bias) in the native GEMM addon. */
  nativeLinear: "CausalmmNativeLinear",
} as const;

export interface DecodeAttrs {
  /** Positions used of the `[B,Hkv,S,hd]` keys/values (≤ S; S > length in KV cache storage). */
  length: number;
}

/** An attention-product kernel call's inputs and sizes: rows `[B,H,R,·]`, keys or values `[B,Hkv,S,hd]`. */
export function productArgs(inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap | undefined) {
  const { row, cache } = inputs as { row: tf.TensorInfo; cache: tf.TensorInfo };
  const { length } = attrs as unknown as DecodeAttrs;
  const [B, H, R] = row.shape;
  const [, Hkv, S, hd] = cache.shape;
  return { row, cache, length, B, H, R, Hkv, S, hd };
}
