// The performance options (src/model/performance.ts): checked when a model is created, fixed per model,
// and they reach the layers (the kernels the attention runs, the KV cache's writes) without any
// process-wide switch: two models over the same weights computing two ways in one process agree.
import { describe, expect, test, vi } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend.js";
import { buildModel } from "../../src/model/load.js";
import { parseLlavaConfig } from "../../src/model/config.js";
import { randomSource, tinyConfigJson } from "../../src/lab/random-model.js";
import { KVCache } from "../../src/model/kv-cache.js";
import { DEFAULT_PERFORMANCE, resolvePerformance, TFJS_ONLY, type PerformanceOptions } from "../../src/model/performance.js";
import type { LlavaModel } from "../../src/model/llava.js";
import { KERNEL_NAMES } from "../../src/model/kernels/names.js";
import { nativeAvailable } from "../../src/model/kernels/native.js";
import { maxAbsDiff } from "../helpers/compare.js";

const raw = tinyConfigJson({ imageSize: 28, visionLayers: 2, textLayers: 2, textHeads: 4, kvHeads: 2, seed: 9 });

/** Kernel names one prefill of `ids` runs, and its last logits. */
async function prefill(m: LlavaModel, ids: number[][], cache?: KVCache): Promise<{ kernels: string[]; logits: Float32Array }> {
  let logits: Float32Array = new Float32Array(0) as Float32Array;
  const info = await tf.profile(() => {
    tf.tidy(() => {
      logits = m.decode(m.embed(ids), { cache, logits: "last" }).logits!.dataSync() as Float32Array;
    });
  });
  return { kernels: info.kernels.map((k) => k.name), logits };
}

describe("performance options", () => {
  test("defaults, overrides, and a clear error for an unknown option or value", () => {
    expect(resolvePerformance()).toEqual(DEFAULT_PERFORMANCE);
    expect(resolvePerformance({ kernels: "never" })).toEqual({ ...DEFAULT_PERFORMANCE, kernels: "never" });
    expect(() => resolvePerformance({ kernel: "never" } as unknown as Partial<PerformanceOptions>)).toThrow(/unknown option "kernel"/);
    expect(() => resolvePerformance({ kvWrites: "sometimes" } as unknown as Partial<PerformanceOptions>)).toThrow(
      /kvWrites must be one of auto, never/,
    );
    expect(() => buildModel(parseLlavaConfig(raw), randomSource(raw, 9), { performance: { matmul: "gpu" as "tfjs" } })).toThrow(/matmul/);
  });

  test.each(["cpu", "wasm"] as const)("%s: two models on the same weights compute two ways and agree", async (backend) => {
    await initBackend(backend);
    const fast = buildModel(parseLlavaConfig(raw), randomSource(raw, 9));
    const slow = fast.withPerformance(TFJS_ONLY);
    expect(slow.performance).toEqual({ ...DEFAULT_PERFORMANCE, ...TFJS_ONLY });
    expect(fast.performance).toEqual(DEFAULT_PERFORMANCE);
    const ids = [[1, 5, 9, 10, 11, 12]];
    const before = tf.memory().numTensors;
    const a = await prefill(fast, ids);
    const b = await prefill(slow, ids);
    const ours = Object.values(KERNEL_NAMES) as string[];
    // cpu: the JS softmax and products; wasm: per-head matMuls over the wasm unstack (multi-row prefill)
    expect(a.kernels.some((k) => ours.includes(k))).toBe(true);
    expect(b.kernels.some((k) => ours.includes(k))).toBe(false);
    expect(maxAbsDiff(a.logits, b.logits)).toBeLessThan(1e-5);
    // per-head vs batched attention matMuls on tfjs ops: the same numbers
    const perHead = await prefill(slow.withPerformance({ attentionMatMul: "per-head" }), ids);
    expect(perHead.kernels.filter((k) => k === "BatchMatMul").length).toBeGreaterThan(b.kernels.filter((k) => k === "BatchMatMul").length);
    expect(maxAbsDiff(perHead.logits, b.logits)).toBeLessThan(1e-5);
    slow.dispose(); // a view: the weights stay
    expect(tf.memory().numTensors).toBe(before);
    fast.dispose();
    expect(tf.memory().numTensors).toBeLessThan(before);
  });

  // linear() and the per-head attention products (kernels/products.ts) both ask the model's options: a model
  // made with TFJS_ONLY or matmul "tfjs" never reaches the addon, while the default model in the same process does.
  test.skipIf(!nativeAvailable()).each(["cpu", "wasm"] as const)(
    "%s: TFJS_ONLY and matmul tfjs keep the native GEMM out",
    async (backend) => {
      await initBackend(backend);
      const cfg = parseLlavaConfig(raw);
      const fast = buildModel(cfg, randomSource(raw, 9), { performance: { attentionMatMul: "per-head" } });
      const nativeCalls = async (m: LlavaModel) =>
        (await prefill(m, [[1, 5, 9, 10, 11, 12]])).kernels.filter((k) => k === KERNEL_NAMES.nativeMatMul).length;
      const linears = 7 * cfg.text.numLayers + 1; // q k v o gate up down per layer, and the resident lm_head
      // wasm prefill: q·Kᵀ and P·V per head; cpu runs its own attention kernels (kernels.ts) for every row count
      const heads = backend === "wasm" ? 2 * cfg.text.numHeads * cfg.text.numLayers : 0;
      expect(await nativeCalls(fast)).toBe(linears + heads);
      expect(await nativeCalls(fast.withPerformance({ matmul: "tfjs" }))).toBe(0);
      expect(await nativeCalls(fast.withPerformance({ ...TFJS_ONLY, attentionMatMul: "per-head" }))).toBe(0);
      expect(await nativeCalls(fast)).toBe(linears + heads); // nothing process-wide was switched off
      fast.dispose();
    },
  );

  test("kvWrites reaches the KV cache a model fills", async () => {
    await initBackend("cpu");
    const m = buildModel(parseLlavaConfig(raw), randomSource(raw, 9));
    /** Per append of one prefill: the writes the model asked for, the filled length and the storage's positions. */
    const appends = async (model: LlavaModel) => {
      const cache = new KVCache(model.config.text.numLayers);
      const spy = vi.spyOn(cache, "append");
      await prefill(model, [[1, 5, 9, 10]], cache);
      const out = spy.mock.calls.map((c, i) => ({
        writes: c[3],
        length: spy.mock.results[i].value.length,
        storage: spy.mock.results[i].value.k.shape[2],
      }));
      cache.dispose();
      return out;
    };
    const inPlace = await appends(m);
    expect(inPlace.length).toBe(2);
    inPlace.forEach((a) => expect(a.writes).toBe("auto"));
    inPlace.forEach((a) => expect(a.storage).toBeGreaterThan(a.length)); // spare positions to write into
    const realloc = await appends(m.withPerformance({ kvWrites: "never" }));
    realloc.forEach((a) => expect(a).toEqual({ writes: "never", length: 4, storage: 4 })); // exactly the filled ones
    m.dispose();
  });
});
