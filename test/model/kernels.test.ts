// The project's kernels (wasm: the SIMD module; cpu: JS): shipped bytes = the assembled .wat;
// decode-attention products equal tfjs's batched matMuls on both backends (GQA, head sizes not a
// multiple of 4, batch rows, long and short caches, storage with spare positions); cached decode with
// the kernels equals decode without them; the cpu softmax equals tfjs's (values and gradient); the
// cutoff kernel keeps exactly the tokens `plausibleTokens` keeps.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend.js";
import { cutoffKernel, attentionKernels, rowSoftmax, type KernelChoice } from "../../src/model/kernels/kernels.js";
import { plausibleTokens } from "../../src/causal/contrast.js";
import { buildModel } from "../../src/model/load.js";
import { parseLlavaConfig } from "../../src/model/config.js";
import { randomSource, tinyConfigJson } from "../../src/lab/random-model.js";
import { ModelSource } from "../../src/generate/source.js";
import { maxAbsDiff } from "../helpers/compare.js";

const require = createRequire(import.meta.url);
const builder = require("../helpers/build-kernels.cjs") as { assemble(): Promise<string>; source(b64: string): string; target: string };

const ON: KernelChoice = { kernels: "auto" };
const OFF: KernelChoice = { kernels: "never" };

function repeatHeads(x: tf.Tensor4D, H: number): tf.Tensor4D {
  const rep = H / x.shape[1];
  return tf.gather(
    x,
    Array.from({ length: H }, (_, h) => Math.floor(h / rep)),
    1,
  ) as tf.Tensor4D;
}

describe("wasm kernels", () => {
  beforeAll(() => initBackend("wasm"));

  test("the shipped module is the assembly of wasm-kernels.wat", async () => {
    expect(readFileSync(builder.target, "utf8")).toBe(builder.source(await builder.assemble()));
  });

  test("attention products on wasm (one query row) and cpu (any), the cutoff on wasm, the softmax on cpu", async () => {
    const available = (o = ON) => [attentionKernels(1, o), attentionKernels(7, o), cutoffKernel(o), rowSoftmax(o)].map((k) => k !== null);
    expect(available()).toEqual([true, false, true, false]);
    await initBackend("cpu");
    expect(available()).toEqual([true, true, false, true]);
    expect(available(OFF)).toEqual([false, false, false, false]);
    await initBackend("wasm");
    expect(available(OFF)).toEqual([false, false, false, false]);
  });

  const shapes: [number, number, number, number, number][] = [
    // B, H, Hkv, T, hd
    [1, 4, 4, 600, 16],
    [3, 4, 2, 37, 16],
    [2, 6, 3, 5, 10],
    [1, 8, 1, 129, 7],
    [2, 2, 2, 1, 64],
  ];
  // wasm: one query row per head (decode); cpu: also several (prefill, CLIP), with some P exactly 0
  const cases = shapes.flatMap(([B, H, Hkv, T, hd], i) =>
    [
      ["wasm", 1],
      ["cpu", 1],
      ["cpu", 1 + (i % 3) * 4],
    ].map(([backend, R]) => [backend as "wasm" | "cpu", R as number, B, H, Hkv, T, hd, i % 2 ? 3 : 0] as const),
  );
  test.each(cases)(
    "%s: %i query rows, B %i, H %i, Hkv %i, T %i, hd %i, %i spare positions: equal to batched matMuls",
    async (backend, R, B, H, Hkv, T, hd, spare) => {
      await initBackend(backend);
      const kernels = attentionKernels(R, ON)!;
      tf.tidy(() => {
        const q = tf.randomNormal([B, H, R, hd], 0, 1, "float32", 1) as tf.Tensor4D;
        const k = tf.randomNormal([B, Hkv, T, hd], 0, 1, "float32", 2) as tf.Tensor4D;
        const v = tf.randomNormal([B, Hkv, T, hd], 0, 1, "float32", 3) as tf.Tensor4D;
        const zeros = tf.cast(tf.greater(tf.randomUniform([B, H, R, T], 0, 1, "float32", 5), 0.7), "float32");
        const p = tf.mul(tf.softmax(tf.randomNormal([B, H, R, T], 0, 3, "float32", 4)), zeros) as tf.Tensor4D;
        // storage with spare positions after the T filled ones (as in the KV cache); NaN must not be read
        const withSpare = (x: tf.Tensor4D) => (spare ? tf.concat([x, tf.fill([B, Hkv, spare, hd], NaN)], 2) : x) as tf.Tensor4D;
        const qk = kernels.qk(q, withSpare(k), T);
        const pv = kernels.pv(p, withSpare(v));
        expect(qk.shape).toEqual([B, H, R, T]);
        expect(pv.shape).toEqual([B, H, R, hd]);
        const refQk = tf.matMul(q, repeatHeads(k, H), false, true);
        const refPv = tf.matMul(p, repeatHeads(v, H));
        expect(maxAbsDiff(qk.dataSync() as Float32Array, refQk.dataSync() as Float32Array)).toBeLessThan(1e-5 * Math.sqrt(hd));
        expect(maxAbsDiff(pv.dataSync() as Float32Array, refPv.dataSync() as Float32Array)).toBeLessThan(1e-6);
      });
    },
  );

  test("cpu softmax: equal to tfjs's, with −∞ keys, and the same gradient", async () => {
    await initBackend("cpu");
    tf.tidy(() => {
      const x = tf.add(
        tf.randomNormal([2, 3, 5, 40], 0, 4, "float32", 8),
        tf.concat([tf.zeros([5, 30]), tf.fill([5, 10], -Infinity)], 1),
      ) as tf.Tensor4D;
      const ours = rowSoftmax(ON)!;
      expect(maxAbsDiff(ours(x).dataSync() as Float32Array, tf.softmax(x).dataSync() as Float32Array)).toBeLessThan(1e-7);
      expect(ours(x).slice([0, 0, 0, 30], [-1, -1, -1, -1]).max().dataSync()[0]).toBe(0);
      const w = tf.randomNormal(x.shape, 0, 1, "float32", 9);
      const gradOf = (f: (t: tf.Tensor) => tf.Tensor) =>
        tf
          .grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), w)))(x)
          .dataSync() as Float32Array;
      expect(
        maxAbsDiff(
          gradOf(ours),
          gradOf((t) => tf.softmax(t)),
        ),
      ).toBeLessThan(1e-6);
    });
    await initBackend("wasm");
  });

  test("the cutoff kernel: masked rows and kept indices as plausibleTokens decides", async () => {
    await initBackend("wasm");
    const cut = cutoffKernel(ON)!;
    let seed = 3;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let trial = 0; trial < 60; trial++) {
      const V = [1, 3, 4, 37, 1000, 4099][trial % 6];
      const B = 1 + (trial % 3);
      const eps = [0.1, 0.5, 1e-3, 0.9, 1][trial % 5];
      const rows = Array.from({ length: B }, (_, b) => {
        const r = Float32Array.from({ length: V }, (_, k) => (trial % 4 === 0 ? k / 7 : Math.round(rand() * 60) / 4 - b));
        if (trial % 7 === 1) r[Math.floor(rand() * V)] = NaN;
        if (trial % 5 === 2) r[Math.floor(rand() * V)] = -Infinity;
        if (trial % 11 === 3) r.fill(-Infinity);
        return r;
      });
      const maxKept = trial % 2 ? 5 : V;
      const flat = new Float32Array(B * V);
      rows.forEach((r, b) => flat.set(r, b * V));
      const out = tf.tidy(() => {
        const { masked, kept } = cut(tf.tensor2d(flat, [B, V]), eps, maxKept);
        return { masked: Float32Array.from(masked.dataSync()), kept: Int32Array.from(kept.dataSync()) };
      });
      rows.forEach((r, b) => {
        const want = [...plausibleTokens(r, eps)];
        const count = out.kept[b * (maxKept + 1)];
        expect(count, `trial ${trial} row ${b}`).toBe(want.length);
        if (count <= maxKept) expect([...out.kept.subarray(b * (maxKept + 1) + 1, b * (maxKept + 1) + 1 + count)]).toEqual(want);
        const keep = new Set(want);
        for (let k = 0; k < V; k++) {
          const got = out.masked[b * V + k];
          if (keep.has(k))
            expect(Object.is(got, r[k]) || (Number.isNaN(got) && Number.isNaN(r[k])), `trial ${trial} token ${k}`).toBe(true);
          else expect(got).toBe(-Infinity);
        }
      });
    }
  });

  test.each(["wasm", "cpu"] as const)(
    "%s: cached decode with the kernels equals decode with tfjs ops (GQA model, 2 rows)",
    async (backend) => {
      await initBackend(backend);
      const raw = tinyConfigJson({ imageSize: 28, visionLayers: 2, textLayers: 3, textHeads: 4, kvHeads: 2, seed: 4 });
      const fastModel = buildModel(parseLlavaConfig(raw), randomSource(raw, 4));
      const px = tf.randomNormal([2, 3, 28, 28], 0, 1, "float32", 6) as tf.Tensor4D;
      const img = fastModel.config.imageTokenIndex;
      const ids = [
        [1, 5, img, 9, 10],
        [1, 6, img, 11, 12],
      ];
      const run = (kernels: "auto" | "never") => {
        const src = new ModelSource(fastModel.withPerformance({ kernels }), ids, { pixels: px });
        const rows = [src.prefill()];
        for (let i = 0; i < 6; i++) rows.push(src.step([20 + i, 30 + i]));
        src.dispose();
        return rows.flat();
      };
      const before = tf.memory().numTensors;
      const fast = run("auto");
      expect(tf.memory().numTensors).toBe(before);
      const slow = run("never");
      fast.forEach((row, i) => expect(maxAbsDiff(row, slow[i]), `row ${i}`).toBeLessThan(1e-5));
      px.dispose();
      fastModel.dispose();
    },
  );
});
