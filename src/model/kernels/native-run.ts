// How each tfjs backend hands tensor memory to the native GEMM addon (native.ts): registered as tfjs kernels
// so the outputs are ordinary backend tensors (tf.tidy, disposal, tf.memory() all apply).
import type * as tf from "@tensorflow/tfjs-core";
import type { Addon } from "./native.js";

export interface NativeRunner {
  /** x [M,K] · w (+bias): w host data [K,N] ("in,out") or [N,K] (transposed, "out,in") of dtype code 0 F32, 1 F16, 2 BF16. */
  linear(x: tf.Tensor2D, w: Float32Array | Uint16Array, dtype: number, transposed: boolean, bias?: tf.Tensor1D): tf.Tensor2D;
  /** a [M,K] · b [K,N] (+bias), all tensors on the active backend. */
  matMul(a: tf.Tensor2D, b: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor2D;
}

/** The runner for `backend`, or null where the addon cannot reach its memory (then native.ts falls back to tfjs). */
export function runnerFor(_addon: Addon, _backend: string): NativeRunner | null {
  return null;
}
