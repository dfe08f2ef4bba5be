// Rotary position embeddings, HF LlamaRotaryEmbedding (rotate_half convention). cos/sin are computed
// in JS with float32 rounding at the same steps as torch's float32 code, so long positions agree.
import * as tf from "@tensorflow/tfjs-core";

export interface RopeTables {
  /** `[T, hd]` */
  cos: tf.Tensor2D;
  /** `[T, hd]` */
  sin: tf.Tensor2D;
}

const f = Math.fround;

export function inverseFrequencies(headDim: number, theta: number): Float32Array {
  const half = headDim / 2;
  const inv = new Float32Array(half);
  // torch: 1.0 / (base ** (arange(0, dim, 2).float() / dim)), every step in float32
  for (let i = 0; i < half; i++) inv[i] = f(1 / f(Math.pow(f(theta), f(f(2 * i) / headDim))));
  return inv;
}

/** Tables for absolute positions start … start+count−1. */
export function ropeTables(start: number, count: number, headDim: number, theta: number): RopeTables {
  const inv = inverseFrequencies(headDim, theta);
  const half = headDim / 2;
  const cos = new Float32Array(count * headDim);
  const sin = new Float32Array(count * headDim);
  for (let t = 0; t < count; t++) {
    for (let i = 0; i < half; i++) {
      const angle = f((start + t) * inv[i]);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      // emb = cat(freqs, freqs): both halves share the angle
      cos[t * headDim + i] = c;
      cos[t * headDim + half + i] = c;
      sin[t * headDim + i] = s;
      sin[t * headDim + half + i] = s;
    }
  }
  return { cos: tf.tensor2d(cos, [count, headDim]), sin: tf.tensor2d(sin, [count, headDim]) };
}

/** x `[B,H,T,hd]` → x·cos + rotate_half(x)·sin, rotate_half(x) = cat(−x₂, x₁). */
export function applyRope(x: tf.Tensor4D, tables: RopeTables): tf.Tensor4D {
  const hd = x.shape[3];
  const half = hd / 2;
  const [x1, x2] = tf.split(x, [half, half], 3); // [B,H,T,hd/2] each
  const rotated = tf.concat([tf.neg(x2), x1], 3);
  return tf.add(tf.mul(x, tables.cos), tf.mul(rotated, tables.sin)) as tf.Tensor4D;
}
