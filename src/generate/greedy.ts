// The plainest decoding loop: prefill, then one cached step per token, argmax each time. Used by
// `causalmm inspect --greedy` and as the reference the richer loops are tested against.
import * as tf from "@tensorflow/tfjs-core";
import type { LlavaModel } from "../model/llava.js";
import { KVCache } from "../model/kv-cache.js";
import { argmax } from "../util/argmax.js";

/** Greedy tokens for each row of `prompt` (no EOS stop) and the raw logits of every step. */
export function greedyDecode(
  model: LlavaModel,
  prompt: number[][],
  pixels: tf.Tensor4D | null,
  n: number,
): { tokens: number[][]; stepLogits: Float32Array[][] } {
  const B = prompt.length;
  const V = model.config.text.vocabSize;
  const cache = new KVCache(model.config.text.numLayers);
  const tokens: number[][] = prompt.map(() => []);
  const stepLogits: Float32Array[][] = prompt.map(() => []);
  try {
    let logits = tf.tidy(() => {
      // CLIP's and the projector's intermediates are freed before the prefill, as in generate/source.ts
      const feats = pixels ? tf.tidy(() => model.encodeImages(pixels).features) : undefined;
      return model.decode(model.embed(prompt, feats), { cache, logits: "last" }).logits!;
    });
    for (let k = 0; k < n; k++) {
      const all = logits.dataSync() as Float32Array; // [B,1,V]
      logits.dispose();
      const next = tokens.map((toks, b) => {
        const row = all.slice(b * V, (b + 1) * V);
        stepLogits[b].push(row);
        toks.push(argmax(row));
        return toks[toks.length - 1];
      });
      if (k === n - 1 || B === 0) break;
      logits = tf.tidy(() => model.decode(model.embedStep(next), { cache, logits: "last" }).logits!);
    }
  } finally {
    cache.dispose();
  }
  return { tokens, stepLogits };
}
