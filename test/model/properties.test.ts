// Self-consistency of the model on random configurations the fixtures don't cover: cached decode vs a
// full forward, the two prompt forms, batching, grouped-query attention, hooks and tensor leaks.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend.js";
import { buildModel } from "../../src/model/load.js";
import { parseLlavaConfig } from "../../src/model/config.js";
import { randomSource, tinyConfigJson, type TinySpec } from "../../src/lab/random-model.js";
import type { LlavaModel } from "../../src/model/llava.js";
import { KVCache } from "../../src/model/kv-cache.js";
import type { TensorSource } from "../../src/weights/params.js";
import type { AttentionHook } from "../../src/model/hooks.js";
import { maxAbsDiff } from "../helpers/compare.js";

function makeModel(spec: TinySpec, wrap?: (s: TensorSource) => TensorSource): LlavaModel {
  const raw = tinyConfigJson(spec);
  const src = randomSource(raw, spec.seed ?? 7);
  return buildModel(parseLlavaConfig(raw), wrap ? wrap(src) : src);
}

function randomPixels(n: number, size: number, seed: number): tf.Tensor4D {
  return tf.randomNormal([n, 3, size, size], 0, 1, "float32", seed) as tf.Tensor4D;
}

function allLogits(m: LlavaModel, ids: number[][], px: tf.Tensor4D | null): Float32Array {
  return tf.tidy(() => {
    const f = px ? m.encodeImages(px).features : undefined;
    return m.decode(m.embed(ids, f), { logits: "all" }).logits!.dataSync() as Float32Array;
  });
}

for (const backend of ["cpu", "wasm"] as const) {
  describe(`model properties (${backend})`, () => {
    let m: LlavaModel;
    let px: tf.Tensor4D;
    const spec: TinySpec = { imageSize: 42, visionLayers: 2, textLayers: 3, textHeads: 4, kvHeads: 2, seed: 11 };
    beforeAll(async () => {
      await initBackend(backend);
      m = makeModel(spec);
      px = randomPixels(1, 42, 3);
    });
    afterAll(() => {
      m.dispose();
      px.dispose();
    });
    const img = () => m.config.imageTokenIndex;
    const prompt = () => [1, 5, 9, img(), 17, 33, 2, 40];

    test("cached decode equals one full forward without cache", () => {
      const cont = [101, 202, 303, 404];
      const V = m.config.text.vocabSize;
      const full = allLogits(m, [[...prompt(), ...cont]], px);
      const S = full.length / V;
      const cache = new KVCache(m.config.text.numLayers);
      const stepRows: Float32Array[] = [];
      tf.tidy(() => {
        const f = m.encodeImages(px).features;
        stepRows.push(m.decode(m.embed([prompt()], f), { cache, logits: "last" }).logits!.dataSync() as Float32Array);
      });
      for (const t of cont)
        stepRows.push(tf.tidy(() => m.decode(m.embedStep([t]), { cache, logits: "last" }).logits!.dataSync() as Float32Array));
      cache.dispose();
      stepRows.forEach((row, k) => {
        const pos = S - cont.length - 1 + k;
        expect(maxAbsDiff(row, full.subarray(pos * V, (pos + 1) * V)), `step ${k}`).toBeLessThan(1e-4);
      });
    });

    test("one <image> token and the pre-expanded form give the same logits", () => {
      const expanded = prompt().flatMap((t) => (t === img() ? new Array(m.numImageTokens).fill(img()) : [t]));
      expect(maxAbsDiff(allLogits(m, [prompt()], px), allLogits(m, [expanded], px))).toBe(0);
    });

    test("a batch of two equal-length rows equals each row alone", () => {
      const a = prompt();
      const b = [1, 8, 7, img(), 6, 5, 4, 3];
      const px2 = tf.concat([px, randomPixels(1, 42, 9)]) as tf.Tensor4D;
      const both = allLogits(m, [a, b], px2);
      const half = both.length / 2;
      expect(maxAbsDiff(both.subarray(0, half), allLogits(m, [a], px))).toBeLessThan(1e-5);
      expect(maxAbsDiff(both.subarray(half), allLogits(m, [b], px2.slice([1], [1]) as tf.Tensor4D))).toBeLessThan(1e-5);
      px2.dispose();
    });

    test("grouped-query attention equals multi-head attention with repeated kv heads", () => {
      // Same weights, but every kv head's rows of k_proj/v_proj copied for each query head it serves.
      const hd = m.config.text.headDim;
      const rep = m.config.text.numHeads / m.config.text.numKvHeads;
      const repeatHeads = (data: Float32Array, inDim: number) => {
        const out = new Float32Array(data.length * rep);
        const block = hd * inDim;
        for (let h = 0; h < data.length / block; h++)
          for (let r = 0; r < rep; r++) out.set(data.subarray(h * block, (h + 1) * block), (h * rep + r) * block);
        return out;
      };
      const mha = makeModel({ ...spec, kvHeads: spec.textHeads }, (src) => {
        const gqa = randomSource(tinyConfigJson(spec), spec.seed);
        return {
          ...src,
          readFloat32: (n) =>
            /self_attn\.[kv]_proj/.test(n) && n.startsWith("language")
              ? repeatHeads(gqa.readFloat32(n), m.config.text.hiddenSize)
              : gqa.readFloat32(n),
        };
      });
      expect(maxAbsDiff(allLogits(mha, [prompt()], px), allLogits(m, [prompt()], px))).toBeLessThan(1e-5);
      mha.dispose();
    });

    test("a hook that keeps P changes nothing; one that replaces P changes the output", () => {
      const base = allLogits(m, [prompt()], px);
      const run = (hook: AttentionHook | undefined) =>
        tf.tidy(
          () =>
            m
              .decode(m.embed([prompt()], m.encodeImages(px, { hook }).features), { logits: "all", hook })
              .logits!.dataSync() as Float32Array,
        );
      const sites: string[] = [];
      expect(
        maxAbsDiff(
          run((_p, s) => void sites.push(`${s.module}${s.layer}`)),
          base,
        ),
      ).toBe(0);
      expect(sites).toEqual(["vision0", "text0", "text1", "text2"]);
      const uniform = run((p, s) => (s.module === "text" && s.layer === 1 ? (tf.onesLike(p).div(p.shape[3]) as tf.Tensor4D) : undefined));
      expect(maxAbsDiff(uniform, base)).toBeGreaterThan(1e-3);
    });

    test("each layer's intermediates are freed before the next layer runs (CLIP and LLM)", () => {
      const live: Record<string, number> = {};
      const hook: AttentionHook = (_p, s) => void (live[`${s.module}${s.layer}`] = tf.memory().numTensors);
      const deep = makeModel({ ...spec, visionLayers: 5, textLayers: 5 });
      tf.tidy(
        () =>
          void deep.decode(deep.embed([prompt()], deep.encodeImages(px, { hook }).features), { logits: "last", hook }).logits!.dataSync(),
      );
      // from layer 1 on (layer 0 reads the stack's input), the same number of live tensors at every
      // layer's attention; without the per-layer scopes it grew by each layer's intermediates
      expect([2, 3].map((l) => live[`vision${l}`] - live.vision1)).toEqual([0, 0]);
      expect([2, 3, 4].map((l) => live[`text${l}`] - live.text1)).toEqual([0, 0, 0]);
      deep.dispose();
    });

    test("no tensor leaks across 50 cached decode steps", () => {
      const cache = new KVCache(m.config.text.numLayers);
      tf.tidy(() => void m.decode(m.embed([prompt()], m.encodeImages(px).features), { cache, logits: "last" }).logits!.dataSync());
      const before = tf.memory().numTensors;
      for (let k = 0; k < 50; k++) tf.tidy(() => void m.decode(m.embedStep([k + 3]), { cache, logits: "last" }).logits!.dataSync());
      expect(tf.memory().numTensors).toBe(before);
      expect(cache.length).toBe(prompt().length - 1 + m.numImageTokens + 50);
      cache.dispose();
    });
  });
}

describe("config", () => {
  test("feature strategy 'full' keeps CLS and changes the image token count", async () => {
    await initBackend("cpu");
    const raw = { ...tinyConfigJson({ imageSize: 28 }), vision_feature_select_strategy: "full" };
    const m = buildModel(parseLlavaConfig(raw), randomSource(raw, 1));
    expect(m.numImageTokens).toBe(5);
    const px = randomPixels(1, 28, 1);
    expect(tf.tidy(() => m.encodeImages(px).features.shape)).toEqual([1, 5, 32]);
    px.dispose();
    m.dispose();
  });
});
