// Explicit scaled-dot-product attention shared by CLIP and LLaMA. The post-softmax probabilities P are
// a real tensor `[B,H,Tq,Tk]`; the optional hook may read or replace them right before `P @ V`. That
// line is where counterfactual attention (src/causal) and recording (src/introspect) plug in; the
// hook's optional `scores` sees the masked scores right before the softmax (PAI's amplification).
import * as tf from "@tensorflow/tfjs-core";
import type { AttentionHook, AttentionSite } from "./hooks.js";
import { attentionKernels, matMulKernel, rowSoftmax, unstackKernel } from "./kernels/kernels.js";

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
}

/** Returns the attention output `[B,H,Tq,D]`. */
export function attention({ q, k, v, kvLength, scale, mask, site, hook }: AttentionInputs): tf.Tensor4D {
  const [, H, Tq] = q.shape;
  const Tk = kvLength ?? k.shape[2];
  const products = attentionProducts(Tq, H, Tk);
  let scores = products.qk(tf.mul(q, scale) as tf.Tensor4D, k); // [B,H,Tq,Tk]
  if (site.causalOffset !== null && site.causalOffset < Tk - 1) scores = tf.add(scores, mask ?? causalBias(Tq, Tk, site.causalOffset));
  if (hook?.scores) scores = hook.scores(scores, site) ?? scores; // ← the pre-softmax point
  let probs = (rowSoftmax() ?? tf.softmax)(scores) as tf.Tensor4D; // [B,H,Tq,Tk]
  if (hook) probs = hook(probs, site) ?? probs; // ← the intervention point
  return products.pv(probs, v); // [B,H,Tq,D]
}

type Products = { qk(q: tf.Tensor4D, k: tf.Tensor4D): tf.Tensor4D; pv(p: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor4D };

/**
 * q·Kᵀ and P·V over the first Tk positions of `[B,Hkv,S,D]` keys/values: the backend's own kernels
 * where it has them for Tq query rows (kernels/: wasm decode steps, cpu always), else matMuls on those
 * positions copied out.
 */
function attentionProducts(Tq: number, H: number, Tk: number): Products {
  const kernels = attentionKernels(Tq);
  if (kernels) return { qk: (q, k) => kernels.qk(q, k, Tk), pv: kernels.pv };
  const used = (x: tf.Tensor4D) => repeatKvHeads(Tk === x.shape[2] ? x : x.slice([0, 0, 0, 0], [-1, -1, Tk, -1]), H); // [B,H,Tk,D]
  return {
    qk: (q, k) => headMatMul(q, used(k), true),
    pv: (p, v) => headMatMul(p, used(v), false),
  };
}

/** `[Tq,Tk]` additive mask: 0 where key j ≤ q + offset, −∞ after it. */
export function causalBias(tq: number, tk: number, offset: number): tf.Tensor2D {
  const bias = new Float32Array(tq * tk);
  for (let q = 0; q < tq; q++) bias.fill(-Infinity, q * tk + Math.min(tk, q + offset + 1), (q + 1) * tk);
  return tf.tensor2d(bias, [tq, tk]);
}

/** `[B,Hkv,T,D]` → `[B,H,T,D]`, each kv head serving H/Hkv consecutive query heads (HF repeat_kv). */
function repeatKvHeads(x: tf.Tensor4D, numHeads: number): tf.Tensor4D {
  const hkv = x.shape[1];
  if (hkv === numHeads) return x;
  const rep = numHeads / hkv;
  const idx = Array.from({ length: numHeads }, (_, h) => Math.floor(h / rep));
  return tf.gather(x, idx, 1) as tf.Tensor4D;
}

/**
 * Per-head product a @ b (or a @ bᵀ). On wasm a batched matMul (or a transpose flag) leaves XNNPACK's
 * fast path, so for multi-row queries we loop over heads with plain 2-D matMuls and an explicit
 * transpose; single-row decode keeps the batched form, which is cheaper there (see docs/benchmarks.md).
 */
export function headMatMul(a: tf.Tensor4D, b: tf.Tensor4D, transposeB: boolean): tf.Tensor4D {
  const [B, H, Ta] = a.shape;
  const outCols = transposeB ? b.shape[2] : b.shape[3];
  if (!usePerHeadMatMul(Ta)) return tf.matMul(a, b, false, transposeB) as tf.Tensor4D;
  const unstack = unstackKernel() ?? ((x: tf.Tensor) => tf.unstack(x));
  const as = unstack(a.reshape([B * H, Ta, a.shape[3]])); // (B·H) × [Ta, Da]
  const bs = unstack(b.reshape([B * H, b.shape[2], b.shape[3]])); // (B·H) × [Tb, Db]
  const mm = matMulKernel() ?? ((x: tf.Tensor2D, y: tf.Tensor2D) => tf.matMul(x, y)); // the native GEMM where it loaded
  const outs = as.map((ai, i) => mm(ai as tf.Tensor2D, (transposeB ? tf.transpose(bs[i]) : bs[i]) as tf.Tensor2D));
  return tf.stack(outs).reshape([B, H, Ta, outCols]) as tf.Tensor4D; // [B,H,Ta,cols]
}

let perHeadMode: "auto" | "always" | "never" = "auto";

/** For benchmarks and tests: force one attention matMul strategy. */
export function setPerHeadMatMul(mode: "auto" | "always" | "never"): void {
  perHeadMode = mode;
}

function usePerHeadMatMul(rows: number): boolean {
  if (perHeadMode !== "auto") return perHeadMode === "always";
  return rows > 1 && tf.getBackend() === "wasm";
}
