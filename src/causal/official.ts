// The counterfactual of the released CausalMM code (The-Martyr/CausalMM, llava-1.5
// `multimodal_encoder/cf_encoder.py` at 6d1ae4e), kept for compatibility with published numbers. It does
// not intervene inside attention: it takes the attention matrix A `[B,H,N+1,N+1]` of the layer whose
// output is the selected feature layer (hidden_states[-2]), edits it per head over the *whole* matrix,
// resizes every head's edited matrix to grid×grid (bilinear, align_corners=False), averages over heads
// and multiplies the patch features by that map. Edits, as in the released code:
//   shuffle  — the released default: one random permutation of all (N+1)² entries per head;
//   random   — U(0,1)·2 everywhere;
//   uniform  — the mean of the head's matrix, broadcast;
//   reversed — the max of the head's matrix minus A.
// Randomness: the released code draws with torch (randperm shared by all batch elements, rand per batch
// element); here streams come from rng.ts keyed by (seed, type, head) and are shared by all batch rows
// (same distribution; the torch numbers themselves cannot be reproduced).
//
// Resize: PyTorch's bilinear (align_corners=False, no antialias) is separable, so it is two matrix
// products with interpolation matrices built in JS using PyTorch's own float32 arithmetic for the source
// coordinate (scale = in/out, src = scale·(dst + 0.5) − 0.5, clamped to ≥ 0, index = floor, the second
// index clamped to in − 1). tf.image.resizeBilinear(halfPixelCenters) follows the same rule and has the
// same edge behaviour (for src < 0 it reads one pixel twice instead of clamping: same value), but the
// cpu kernel computes coordinates in float64 and the wasm kernel rounds them its own way; at 577 → 24
// either moves high-frequency inputs by 3–4e-5 from PyTorch, so the matrices are used on every backend
// (tests: both directions vs a pixel-by-pixel transcription of ATen). Inputs must be finite.
import * as tf from "@tensorflow/tfjs-core";
import { stream } from "../util/rng.js";

export type OfficialCfType = "shuffle" | "random" | "uniform" | "reversed";
export const OFFICIAL_CF_TYPES: readonly OfficialCfType[] = ["shuffle", "random", "uniform", "reversed"];

/** One random permutation of all M² entries per head, the same for every batch row. */
function shuffleEdit(a: tf.Tensor4D, seed: number): tf.Tensor4D {
  const [b, h, m1, m2] = a.shape;
  const per = m1 * m2;
  const idx = new Int32Array(h * per);
  for (let head = 0; head < h; head++) {
    const perm = stream(seed, "official-shuffle", head).permutation(per);
    const base = head * per;
    for (let k = 0; k < per; k++) idx[base + k] = base + perm[k];
  }
  const flat = tf.gather(tf.reshape(a, [b, h * per]), tf.tensor1d(idx, "int32"), 1);
  return tf.reshape(flat, a.shape) as tf.Tensor4D;
}

/** U(0,1)·2 per head (the released code's scale), the same for every batch row. */
function randomEdit(a: tf.Tensor4D, seed: number): tf.Tensor4D {
  const [b, h, m1, m2] = a.shape;
  const per = m1 * m2;
  const vals = new Float32Array(h * per);
  for (let head = 0; head < h; head++) {
    const rng = stream(seed, "official-random", head);
    for (let k = 0; k < per; k++) vals[head * per + k] = rng.uniform() * 2;
  }
  return tf.broadcastTo(tf.tensor4d(vals, [1, h, m1, m2]), [b, h, m1, m2]) as tf.Tensor4D;
}

/** The released code's `edit_attention`: A `[B,H,M,M]` → edited `[B,H,M,M]`. */
export function editAttentionOfficial(A: tf.Tensor4D, type: OfficialCfType, seed = 0): tf.Tensor4D {
  return tf.tidy(() => {
    switch (type) {
      case "uniform":
        return tf.broadcastTo(tf.mean(A, [2, 3], true), A.shape) as tf.Tensor4D;
      case "reversed":
        return tf.sub(tf.max(A, [2, 3], true), A) as tf.Tensor4D;
      case "shuffle":
        return shuffleEdit(A, seed);
      case "random":
        return randomEdit(A, seed);
      default:
        throw new Error(`unknown official counterfactual type '${String(type)}' (valid: ${OFFICIAL_CF_TYPES.join(", ")})`);
    }
  });
}

/**
 * Interpolation matrix `[outSize, inSize]` of PyTorch's linear resize with align_corners=False: row i
 * holds w0 = 1 − λ at index i0 and λ at i1 (summed when i0 = i1), with float32 coordinates as in
 * ATen's area_pixel_compute_source_index / guard_index_and_lambda.
 */
export function bilinearWeights(inSize: number, outSize: number): Float32Array {
  const f = Math.fround;
  const w = new Float32Array(outSize * inSize);
  const scale = f(inSize / outSize);
  for (let i = 0; i < outSize; i++) {
    const real = Math.max(f(f(scale * (i + 0.5)) - 0.5), 0);
    const i0 = Math.min(Math.floor(real), inSize - 1);
    const lambda = Math.min(Math.max(f(real - i0), 0), 1);
    const i1 = i0 < inSize - 1 ? i0 + 1 : i0;
    w[i * inSize + i0] += f(1 - lambda);
    w[i * inSize + i1] += lambda;
  }
  return w;
}

/**
 * PyTorch `F.interpolate(x, size=(gh, gw), mode='bilinear', align_corners=False)` (no antialias) of
 * `[B,C,H,W]` → `[B,C,gh,gw]`: X·Wxᵀ along the width, then Wy· along the height.
 */
export function interpolateBilinear(x: tf.Tensor4D, gh: number, gw: number): tf.Tensor4D {
  const [b, c, h, w] = x.shape;
  return tf.tidy(() => {
    const wx = tf.tensor2d(bilinearWeights(w, gw), [gw, w]);
    const wy = tf.tensor2d(bilinearWeights(h, gh), [gh, h]);
    const alongW = tf.matMul(tf.reshape(x, [b * c * h, w]), wx, false, true);
    const hFirst = tf.reshape(tf.transpose(tf.reshape(alongW, [b * c, h, gw]), [1, 0, 2]), [h, b * c * gw]);
    const alongH = tf.reshape(tf.matMul(wy, hFirst), [gh, b * c, gw]);
    return tf.reshape(tf.transpose(alongH, [1, 0, 2]), [b, c, gh, gw]);
  });
}

/**
 * The head-averaged reweighting map `[B, grid*grid]` (row-major over the grid) for post-softmax
 * attention A `[B,H,N+1,N+1]` of the selected vision layer.
 */
export function officialReweightMap(A: tf.Tensor4D, type: OfficialCfType, grid: number, seed = 0): tf.Tensor2D {
  if (!Number.isInteger(grid) || grid <= 0) throw new Error(`grid must be a positive integer, got ${grid}`);
  if (A.rank !== 4 || A.shape[2] !== A.shape[3]) {
    throw new Error(`official reweighting needs square attention [B,H,M,M], got [${A.shape.join(",")}]`);
  }
  return tf.tidy(() => {
    const edited = editAttentionOfficial(A, type, seed);
    const resized = interpolateBilinear(edited, grid, grid);
    return tf.reshape(tf.mean(resized, 1), [A.shape[0], grid * grid]) as tf.Tensor2D;
  });
}

/**
 * Patch features `[B,N,D]` (CLS already dropped, N = grid²) times the map (`[B,N]` or `[B,grid,grid]`)
 * broadcast over D. Kept in float32 (the released code then casts to fp16).
 */
export function reweightFeatures(features: tf.Tensor3D, map: tf.Tensor): tf.Tensor3D {
  const [b, n] = features.shape;
  if (map.size !== b * n || map.shape[0] !== b) {
    const hint = map.size === b * (n - 1) ? " (drop the CLS token: features[:, 1:])" : "";
    throw new Error(`map [${map.shape.join(",")}] does not match features [${features.shape.join(",")}]${hint}`);
  }
  return tf.tidy(() => tf.mul(features, tf.reshape(map, [b, n, 1])) as tf.Tensor3D);
}
