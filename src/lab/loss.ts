// The training objective: teacher-forced cross-entropy on the answer tokens, through the model's own
// encodeImages / decode. Only the embedding lookup differs from LlavaModel.embed: tf.gather's gradient
// (UnsortedSegmentSum) does not exist on the wasm backend, so token embeddings are a one-hot matMul
// and the image features are spliced in with slices + concat (or, for irregular rows, a matMul with a
// 0/1 selection matrix built by planMerge).
import * as tf from "@tensorflow/tfjs-core";
import { planMerge, type LlavaModel } from "../model/llava.js";
import type { Batch } from "./data.js";

/** `[B, S, S0+n]` 0/1: row b's merged position s takes entry j of [its S0 text rows; its n image rows]. */
export function selectionMatrix(ids: number[][], imageToken: number, n: number): { data: Float32Array; shape: [number, number, number] } {
  const B = ids.length;
  const S0 = ids[0].length;
  const { rows } = planMerge(ids, imageToken, n, B);
  const S = rows[0].length;
  const W = S0 + n;
  const data = new Float32Array(B * S * W);
  rows.forEach((row, b) => {
    row.forEach((g, s) => {
      // Global index → this row's local table: its own text rows, then its own (b-th) image.
      const local = g < B * S0 ? g - b * S0 : S0 + (g - B * S0 - b * n);
      if (local < 0 || local >= W) throw new Error(`training batch row ${b}: expected exactly one image per row`);
      data[(b * S + s) * W + local] = 1;
    });
  });
  return { data, shape: [B, S, W] };
}

/**
 * A float32 one-hot matrix built in JS: the wasm backend's OneHot kernel ignores the dtype argument and
 * writes int32 bit patterns into a float32 tensor (tfjs 4.22), which would silently zero the loss.
 */
export function oneHotF32(indices: ArrayLike<number>, depth: number): tf.Tensor2D {
  const data = new Float32Array(indices.length * depth);
  for (let i = 0; i < indices.length; i++) data[i * depth + indices[i]] = 1;
  return tf.tensor2d(data, [indices.length, depth]);
}

/** Merged input embeddings `[B,S,D]`, differentiable on every backend. */
export function trainEmbed(model: LlavaModel, ids: number[][], features: tf.Tensor3D): tf.Tensor3D {
  const cfg = model.config;
  const B = ids.length;
  const S0 = ids[0].length;
  const V = cfg.text.vocabSize;
  const D = cfg.text.hiddenSize;
  const n = model.numImageTokens;
  // The image id is only a placeholder (its embedding is replaced); id 0 keeps the one-hot in range.
  const flat = ids.flat().map((t) => (t === cfg.imageTokenIndex ? 0 : t));
  const text = tf.matMul(oneHotF32(flat, V), model.params.text.embed.tensor!).reshape([B, S0, D]); // [B,S0,D]
  const at = ids.map((row) => row.indexOf(cfg.imageTokenIndex));
  const single = ids.every((row, b) => at[b] === at[0] && at[0] >= 0 && row.lastIndexOf(cfg.imageTokenIndex) === at[0]);
  if (single && n > 1) {
    // The common case (one image, same place in every row): slices and a concat, no gather.
    const p = at[0];
    return tf.concat([text.slice([0, 0, 0], [B, p, D]), features, text.slice([0, p + 1, 0], [B, S0 - p - 1, D])], 1) as tf.Tensor3D;
  }
  const table = tf.concat([text, features], 1); // [B, S0+n, D]
  const sel = selectionMatrix(ids, cfg.imageTokenIndex, n);
  return tf.matMul(tf.tensor3d(sel.data, sel.shape), table) as tf.Tensor3D; // [B,S,D]
}

/** Mean cross-entropy (nats per answer token) of a batch. Call inside tf.tidy / tf.variableGrads. */
export function batchLoss(model: LlavaModel, batch: Batch): tf.Scalar {
  const { imageSize } = model.config.vision;
  const B = batch.ids.length;
  const S = batch.seqLen;
  const V = model.config.text.vocabSize;
  const pixels = tf.tensor4d(batch.pixels, [B, 3, imageSize, imageSize]);
  const features = model.encodeImages(pixels).features; // [B,n,D]
  const embeds = trainEmbed(model, batch.ids, features);
  const logits = model.decode(embeds, { logits: "all" }).logits!.reshape([B * S, V]); // [B·S,V]
  const logp = tf.logSoftmax(logits);
  const target = oneHotF32(batch.targets, V); // [B·S,V]
  const picked = tf.sum(tf.mul(logp, target), 1); // [B·S]
  const mask = tf.tensor1d(batch.mask);
  return tf.div(tf.neg(tf.sum(tf.mul(picked, mask))), Math.max(1, batch.answerTokens)) as tf.Scalar;
}
