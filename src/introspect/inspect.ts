// One forward pass that captures named tensors (HF indexing), for `causalmm inspect` and for the
// conformance tests. Nothing is generated; every captured tensor is copied out as float32.
import * as tf from "@tensorflow/tfjs-core";
import type { LlavaModel } from "../model/llava.js";
import type { AttentionHook, Tap } from "../model/hooks.js";
import { KVCache } from "../model/kv-cache.js";
import { clipEmbeddings } from "../model/clip.js";

export interface Captured {
  shape: number[];
  data: Float32Array;
}

export const TENSOR_NAME_HELP = [
  "vision.embeddings",
  "vision.hidden.<i> (0 = after pre_layrnorm, k = output of encoder layer k-1)",
  "vision.attn.<layer>",
  "vision.q|k|v.<layer>",
  "projector.linear1",
  "projector.gelu",
  "image_features",
  "text.hidden.<i> (0 = input embeddings, last = after the final norm)",
  "text.attn.<layer>",
  "text.q|k|v.<layer> (before RoPE)",
  "text.cache_k|cache_v.<layer> (keys after RoPE)",
  "logits",
];

interface Request {
  name: string;
  kind: string;
  index: number;
}

function parseName(name: string, model: LlavaModel): Request {
  const m = /^(vision|text)\.(hidden|attn|q|k|v|cache_k|cache_v)\.(\d+)$/.exec(name);
  const fixed = ["vision.embeddings", "projector.linear1", "projector.gelu", "image_features", "logits"];
  if (fixed.includes(name)) return { name, kind: name, index: 0 };
  if (!m || (m[1] === "vision" && m[2].startsWith("cache"))) {
    throw new Error(`unknown tensor name '${name}'; valid names:\n  ${TENSOR_NAME_HELP.join("\n  ")}`);
  }
  const layers = m[1] === "vision" ? model.config.vision.numLayers : model.config.text.numLayers;
  const index = Number(m[3]);
  const max = m[2] === "hidden" ? layers : layers - 1;
  if (index > max) throw new Error(`tensor '${name}': index ${index} out of range (0..${max})`);
  return { name, kind: `${m[1]}.${m[2]}`, index };
}

/** Runs one forward on `inputIds` (+ `pixels`) and returns the requested tensors by name. */
export function inspectForward(
  model: LlavaModel,
  inputIds: number[][],
  pixels: tf.Tensor4D | null,
  names: string[],
): Map<string, Captured> {
  const reqs = names.map((n) => parseName(n, model));
  const want = (kind: string) => reqs.filter((r) => r.kind === kind);
  const out = new Map<string, Captured>();
  const put = (name: string, t: tf.Tensor) => out.set(name, { shape: t.shape.slice(), data: Float32Array.from(t.dataSync()) });
  const hook: AttentionHook = (p, site) => {
    for (const r of want(`${site.module}.attn`)) if (r.index === site.layer) put(r.name, p);
    return undefined;
  };
  const tap: Tap = (module, layer, which, t) => {
    for (const r of want(`${module}.${which}`)) if (r.index === layer) put(r.name, t);
  };
  const cache = new KVCache(model.config.text.numLayers);
  try {
    tf.tidy(() => {
      let features: tf.Tensor3D | undefined;
      if (pixels) {
        if (want("vision.embeddings").length) put("vision.embeddings", clipEmbeddings(model.params.vision, model.config.vision, pixels));
        const stages: { linear1?: tf.Tensor; gelu?: tf.Tensor } = {};
        const enc = model.encodeImages(pixels, { hook, tap, allHidden: want("vision.hidden").length > 0, stages });
        for (const r of want("vision.hidden")) put(r.name, enc.visionHidden[r.index]);
        if (want("projector.linear1").length) put("projector.linear1", stages.linear1!);
        if (want("projector.gelu").length) put("projector.gelu", stages.gelu!);
        if (want("image_features").length) put("image_features", enc.features);
        features = enc.features;
      }
      const embeds = model.embed(inputIds, features);
      const res = model.decode(embeds, {
        hook,
        tap,
        cache,
        allHidden: want("text.hidden").length > 0,
        logits: want("logits").length ? "all" : "none",
      });
      for (const r of want("text.hidden")) put(r.name, res.hidden[r.index]);
      if (res.logits) put("logits", res.logits);
      for (const r of [...want("text.cache_k"), ...want("text.cache_v")]) {
        const kv = cache.layer(r.index);
        put(r.name, (r.kind === "text.cache_k" ? kv.k : kv.v)!);
      }
    });
  } finally {
    cache.dispose();
  }
  const missing = names.filter((n) => !out.has(n));
  if (missing.length) throw new Error(`tensors not produced by this input (no image given?): ${missing.join(", ")}`);
  return out;
}
