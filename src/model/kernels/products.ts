// How attention's products and softmax are computed (model/attention.ts says what is computed). Same
// numbers every way, up to float32 summation order; the model's performance options choose:
// - one query row per head over a KV cache (decode) on wasm, any rows on cpu: the project's kernels
//   (kernels.ts), which read grouped-query kv heads and the cache storage in place;
// - several query rows on wasm: a loop over heads of plain 2-D matMuls with an explicit transpose, since
//   a batched matMul (or a transpose flag) leaves XNNPACK's fast path (docs/benchmarks.md);
// - otherwise: batched matMuls over kv heads repeated as HF's `repeat_kv`.
import * as tf from "@tensorflow/tfjs-core";
import type { PerformanceOptions } from "../performance.js";
import { attentionKernels, matMulKernel, rowSoftmax, unstackKernel } from "./kernels.js";

/** The three steps of attention that have faster forms than the plain tfjs op. */
export interface AttentionOps {
  /** `[B,H,Tq,D]` · the first Tk positions of keys `[B,Hkv,S,D]` → scores `[B,H,Tq,Tk]`. */
  qk(q: tf.Tensor4D, k: tf.Tensor4D): tf.Tensor4D;
  /** Softmax over the last axis. */
  softmax(scores: tf.Tensor4D): tf.Tensor4D;
  /** P `[B,H,Tq,Tk]` · the first Tk positions of values `[B,Hkv,S,D]` → `[B,H,Tq,D]`. */
  pv(p: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor4D;
}

/** The ops for Tq query rows of H heads over Tk key positions, as `perf` and the active backend allow. */
export function attentionOps(Tq: number, H: number, Tk: number, perf: PerformanceOptions): AttentionOps {
  const fastSoftmax = rowSoftmax(perf);
  const softmax = (s: tf.Tensor4D) => (fastSoftmax ?? tf.softmax)(s) as tf.Tensor4D;
  const kernels = attentionKernels(Tq, perf);
  if (kernels) return { qk: (q, k) => kernels.qk(q, k, Tk), softmax, pv: kernels.pv };
  const used = (x: tf.Tensor4D) => repeatKvHeads(Tk === x.shape[2] ? x : x.slice([0, 0, 0, 0], [-1, -1, Tk, -1]), H); // [B,H,Tk,D]
  return {
    qk: (q, k) => headMatMul(q, used(k), true, perf),
    softmax,
    pv: (p, v) => headMatMul(p, used(v), false, perf),
  };
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
 * Per-head product a @ b (or a @ bᵀ): a batched matMul, or (per-head, see attentionMatMul) one plain
 * 2-D matMul per (batch row, head) with an explicit transpose. Single-row decode keeps the batched form
 * under "auto", which is cheaper there (docs/benchmarks.md).
 */
export function headMatMul(a: tf.Tensor4D, b: tf.Tensor4D, transposeB: boolean, perf: PerformanceOptions): tf.Tensor4D {
  const [B, H, Ta] = a.shape;
  const outCols = transposeB ? b.shape[2] : b.shape[3];
  if (!perHead(Ta, perf)) return tf.matMul(a, b, false, transposeB) as tf.Tensor4D;
  const unstack = unstackKernel(perf) ?? ((x: tf.Tensor) => tf.unstack(x));
  const mm = matMulKernel(perf) ?? ((x: tf.Tensor2D, y: tf.Tensor2D) => tf.matMul(x, y)); // the native GEMM where it loaded
  // the per-head slices are freed before the stack, the per-head products right after it
  const outs = tf.tidy(() => {
    const as = unstack(a.reshape([B * H, Ta, a.shape[3]])); // (B·H) × [Ta, Da]
    const bs = unstack(b.reshape([B * H, b.shape[2], b.shape[3]])); // (B·H) × [Tb, Db]
    return as.map((ai, i) => mm(ai as tf.Tensor2D, (transposeB ? tf.transpose(bs[i]) : bs[i]) as tf.Tensor2D));
  });
  try {
    return tf.stack(outs).reshape([B, H, Ta, outCols]) as tf.Tensor4D; // [B,H,Ta,cols]
  } finally {
    outs.forEach((o) => o.dispose());
  }
}

function perHead(rows: number, perf: PerformanceOptions): boolean {
  if (perf.attentionMatMul !== "auto") return perf.attentionMatMul === "per-head";
  return rows > 1 && tf.getBackend() === "wasm";
}
