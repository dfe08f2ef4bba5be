// Small building blocks shared by CLIP, the projector and LLaMA. Linear weights are stored `[in, out]`
// (transposed once at load) so every projection is a plain 2-D matMul, the fast path on wasm/XNNPACK.
import * as tf from "@tensorflow/tfjs-core";
// Registers x.reshape(...) etc. and gradients; every model file imports this module.
import "../tf-setup.js";
import { matMulKernel, type MatMulChoice } from "./kernels/kernels.js";
import { nativeLinear } from "./kernels/native.js";
import type { LinearWeight } from "../weights/params.js";

export interface Linear {
  w: LinearWeight;
  b?: tf.Tensor1D;
}

export interface Norm {
  w: tf.Tensor1D;
  b?: tf.Tensor1D;
}

/** x `[..., in]` → `[..., out]` through one 2-D matMul (the native GEMM where `perf` allows it and it loaded). */
export function linear(x: tf.Tensor, p: Linear, perf: MatMulChoice): tf.Tensor {
  const lead = x.shape.slice(0, -1);
  if (!(p.w instanceof tf.Tensor)) {
    const y = nativeLinear(x.reshape([-1, p.w.inDim]) as tf.Tensor2D, p.w, p.b); // [N, out]
    return y.reshape([...lead, p.w.outDim]);
  }
  const inDim = p.w.shape[0];
  const outDim = p.w.shape[1];
  const x2 = x.reshape([-1, inDim]); // [N, in]
  const native = matMulKernel(perf);
  const y2 = native ? native(x2 as tf.Tensor2D, p.w, p.b) : p.b ? tf.add(tf.matMul(x2, p.w), p.b) : tf.matMul(x2, p.w); // [N, out]
  return y2.reshape([...lead, outDim]); // [..., out]
}

/** LayerNorm over the last axis, as torch.nn.LayerNorm (biased variance). */
export function layerNorm(x: tf.Tensor, p: Norm, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  const y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  return p.b ? tf.add(tf.mul(y, p.w), p.b) : tf.mul(y, p.w);
}

/** LlamaRMSNorm: x · rsqrt(mean(x²) + eps) · w. */
export function rmsNorm(x: tf.Tensor, w: tf.Tensor1D, eps: number): tf.Tensor {
  const ms = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), w);
}

/** CLIP's quick_gelu: x · σ(1.702 x). */
export function quickGelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
}

/** Exact (erf) GELU: x · ½ (1 + erf(x / √2)). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

export function silu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

export function disposeLinear(p: Linear): void {
  p.w.dispose();
  p.b?.dispose();
}
