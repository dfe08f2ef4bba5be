// Explicit scaled-dot-product attention shared by CLIP and LLaMA, line for line HF's
// `eager_attention_forward`: scores → mask → softmax → P·V. The post-softmax probabilities P are a
// real tensor `[B,H,Tq,Tk]`; the optional hook may read or replace them right before `P @ V`. That
// line is where counterfactual attention (src/causal) and recording (src/introspect) plug in; the
// hook's optional `scores` sees the masked scores right before the softmax (PAI's amplification).
// How the products and the softmax run (per-head matMuls, the decode kernels) is kernels/products.ts.
import * as tf from "@tensorflow/tfjs-core";
import type { AttentionHook, AttentionSite } from "./hooks.js";
import { attentionOps } from "./kernels/products.js";
import type { PerformanceOptions } from "./performance.js";

export interface AttentionInputs {
  /** `[B,H,Tq,D]` */
  q: tf.Tensor4D;
  /** `[B,Hkv,S,D]`; Hkv divides H (grouped-query attention). */
  k: tf.Tensor4D;
  /** `[B,Hkv,S,D]` */
  v: tf.Tensor4D;
  /** Keys used: the first `kvLength` of the S positions (KV cache storage has spare ones). Default S. */
  kvLength?: number;
  /** Multiplies the scores `q·kᵀ` (applied to q, which is Tk/D times smaller than the scores). */
  scale: number;
  /** `[Tq,Tk]` additive causal mask, when `site.causalOffset` masks anything (see causalBias). */
  mask?: tf.Tensor2D;
  site: AttentionSite;
  hook?: AttentionHook;
  /** The model's performance options (how the products run, not what they compute). */
  performance: PerformanceOptions;
}

/** Returns the attention output `[B,H,Tq,D]`. */
export function attention({ q, k, v, kvLength, scale, mask, site, hook, performance }: AttentionInputs): tf.Tensor4D {
  const [, H, Tq] = q.shape;
  const Tk = kvLength ?? k.shape[2];
  const ops = attentionOps(Tq, H, Tk, performance);
  // Each step is its own tf.tidy scope nested in the next, so every [B,H,Tq,Tk] intermediate is freed as
  // soon as the next one exists: a long prompt holds two or three of them at a time, not seven (same
  // numbers; a hook keeps what it tf.keep()s).
  const scores = () =>
    tf.tidy(() => {
      const s = ops.qk(tf.mul(q, scale) as tf.Tensor4D, k); // [B,H,Tq,Tk]
      const masks = site.causalOffset !== null && site.causalOffset < Tk - 1;
      return (masks ? tf.add(s, mask ?? causalBias(Tq, Tk, site.causalOffset!)) : s) as tf.Tensor4D;
    });
  const softmax = () =>
    tf.tidy(() => {
      const s = scores();
      return ops.softmax(hook?.scores?.(s, site) ?? s); // ← the pre-softmax point; P [B,H,Tq,Tk]
    });
  const probs = tf.tidy(() => {
    let probs = softmax();
    if (hook) probs = hook(probs, site) ?? probs; // ← the intervention point
    return probs;
  });
  return tf.tidy(() => ops.pv(probs, v)); // [B,H,Tq,D]
}

/** `[Tq,Tk]` additive mask: 0 where key j ≤ q + offset, −∞ after it. */
export function causalBias(tq: number, tk: number, offset: number): tf.Tensor2D {
  const bias = new Float32Array(tq * tk);
  for (let q = 0; q < tq; q++) bias.fill(-Infinity, q * tk + Math.min(tk, q + offset + 1), (q + 1) * tk);
  return tf.tensor2d(bias, [tq, tk]);
}
