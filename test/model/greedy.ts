// A minimal greedy loop over the model's KV cache, for conformance tests only (the real generation
// loop lives in src/generate).
import * as tf from "@tensorflow/tfjs-core";
import type { LlavaModel } from "../../src/model/llava.js";
import { KVCache } from "../../src/model/kv-cache.js";
import { argmax } from "../helpers/compare.js";

export function greedyTokens(model: LlavaModel, prompt: number[][], pixels: tf.Tensor4D | null, n: number): { tokens: number[]; stepLogits: Float32Array[] } {
  const cache = new KVCache(model.config.text.numLayers);
  const tokens: number[] = [];
  const stepLogits: Float32Array[] = [];
  try {
    let logits = tf.tidy(() => {
      const feats = pixels ? model.encodeImages(pixels).features : undefined;
      return model.decode(model.embed(prompt, feats), { cache, logits: "last" }).logits!;
    });
    for (let k = 0; k < n; k++) {
      const row = logits.dataSync() as Float32Array;
      logits.dispose();
      stepLogits.push(Float32Array.from(row));
      const t = argmax(row);
      tokens.push(t);
      if (k === n - 1) break;
      logits = tf.tidy(() => model.decode(model.embedStep([t]), { cache, logits: "last" }).logits!);
    }
  } finally {
    cache.dispose();
  }
  return { tokens, stepLogits };
}
