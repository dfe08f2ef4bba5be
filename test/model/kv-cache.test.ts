// The KV cache's in-place storage (wasm, cpu): appends across capacity growth equal a plain concat; the
// steps really write in place; nothing handed out earlier changes (slices of filled positions, a tensor
// sharing the storage); clones and row selections are independent; in-place writes on or off give the
// same decode; no tensor growth.
import { describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend.js";
import { KVCache } from "../../src/model/kv-cache.js";
import { buildModel } from "../../src/model/load.js";
import { parseLlavaConfig } from "../../src/model/config.js";
import { randomSource, tinyConfigJson } from "../../src/lab/random-model.js";
import { ModelSource } from "../../src/generate/source.js";

const rows = (B: number, T: number, seed: number) => tf.randomNormal([B, 2, T, 3], 0, 1, "float32", seed) as tf.Tensor4D;
const values = (t: tf.Tensor | null) => Array.from(t!.dataSync());

/** Appends blocks of `sizes` positions to layer 0 of `cache` and to a concat reference; returns the reference. */
function appendAll(cache: KVCache, sizes: number[], B: number, seed: number): tf.Tensor4D {
  let ref: tf.Tensor4D | null = null;
  sizes.forEach((T, i) => {
    const k = rows(B, T, seed + i);
    tf.tidy(() => {
      cache.append(0, k, tf.neg(k));
    });
    const next = tf.keep(ref ? (tf.concat([ref, k], 2) as tf.Tensor4D) : k.clone());
    ref?.dispose();
    ref = next;
    k.dispose();
  });
  return ref!;
}

describe.each(["wasm", "cpu"] as const)("KV cache (%s)", (backend) => {
  test("appends across capacity growth equal a concat, and the steps write in place", async () => {
    await initBackend(backend);
    const before = tf.memory().numTensors;
    const cache = new KVCache(1);
    const ref = appendAll(cache, [5], 2, 1);
    const storage = tf.tidy(() => cache.append(0, rows(2, 1, 50), rows(2, 1, 51)).k);
    const sameStorage = tf.tidy(() => cache.append(0, rows(2, 1, 52), rows(2, 1, 53)).k);
    expect(sameStorage).toBe(storage); // written in place: the same tensor, not a new one
    expect(storage.shape[2]).toBeGreaterThan(cache.length);
    cache.dispose();
    ref.dispose();

    const grown = new KVCache(1);
    const sizes = [7, ...Array(300).fill(1), 4, ...Array(200).fill(1)];
    const want = appendAll(grown, sizes, 2, 100);
    expect(grown.length).toBe(sizes.reduce((a, b) => a + b));
    tf.tidy(() => {
      const { k, v } = grown.layer(0);
      expect(k!.shape).toEqual(want.shape);
      expect(values(k)).toEqual(values(want));
      expect(values(v)).toEqual(values(tf.neg(want)));
    });
    grown.dispose();
    want.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test("tensors handed out earlier never change: filled slices, and a tensor sharing the storage", async () => {
    await initBackend(backend);
    const cache = new KVCache(1);
    tf.dispose(appendAll(cache, [4], 1, 7));
    const early = tf.keep(tf.tidy(() => cache.layer(0).k!));
    const shared = tf.keep(tf.tidy(() => cache.append(0, rows(1, 1, 8), rows(1, 1, 9)).k.reshape([-1]))); // same memory, spare rows included
    const [earlyBefore, sharedBefore] = [values(early), values(shared)];
    for (let i = 0; i < 5; i++) {
      tf.tidy(() => {
        cache.append(0, rows(1, 1, 10 + i), rows(1, 1, 20 + i));
      });
    }
    expect(values(early)).toEqual(earlyBefore);
    expect(values(shared)).toEqual(sharedBefore);
    expect(cache.length).toBe(10);
    tf.dispose([early, shared]);
    cache.dispose();
  });

  test.each(["auto", "never"] as const)("clone and selectRows are independent of the original (in-place writes %s)", async (mode) => {
    await initBackend(backend);
    const a = new KVCache(1, mode);
    const common = appendAll(a, [6, 1], 3, 30);
    const b = a.clone();
    const c = a.selectRows([2, 0]);
    const stepA = rows(3, 1, 40),
      stepB = rows(3, 1, 41),
      stepC = rows(2, 1, 42);
    for (const [cache, step] of [
      [a, stepA],
      [b, stepB],
      [c, stepC],
    ] as const) {
      tf.tidy(() => {
        cache.append(0, step, step);
      });
    }
    tf.tidy(() => {
      const picked = tf.gather(common, [2, 0], 0);
      expect(values(a.layer(0).k)).toEqual(values(tf.concat([common, stepA], 2)));
      expect(values(b.layer(0).k)).toEqual(values(tf.concat([common, stepB], 2)));
      expect(values(c.layer(0).k)).toEqual(values(tf.concat([picked, stepC], 2)));
    });
    tf.dispose([common, stepA, stepB, stepC]);
    [a, b, c].forEach((x) => x.dispose());
  });

  test.each(["auto", "never"] as const)("joinRows gathers rows of several caches layer by layer (in-place writes %s)", async (mode) => {
    await initBackend(backend);
    const before = tf.memory().numTensors;
    // two layers; part 0 holds 2 rows in both, part 1 holds 1 row in layer 0 (a shared trunk) and 3 in layer 1
    const parts = [new KVCache(2, mode), new KVCache(2, mode)];
    const data = [
      [rows(2, 5, 60), rows(2, 5, 61)],
      [rows(1, 5, 62), rows(3, 5, 63)],
    ];
    parts.forEach((p, j) =>
      data[j].forEach((k, i) =>
        tf.tidy(() => {
          p.append(i, k, tf.neg(k));
        }),
      ),
    );
    // layer 0: part 0's row 1, then part 1's one row twice; layer 1: rows 0, 1 of part 0, rows 2, 0 of part 1
    const pick = [
      [[1], [0, 0]],
      [
        [0, 1],
        [2, 0],
      ],
    ];
    const joined = KVCache.joinRows(parts, (j, layer, n) => {
      expect(n).toBe(data[j][layer].shape[0]);
      return pick[layer][j];
    });
    expect(joined.length).toBe(5);
    tf.tidy(() => {
      const want = (layer: number) => tf.concat([0, 1].map((j) => tf.gather(data[j][layer], pick[layer][j], 0)));
      for (const layer of [0, 1]) {
        expect(values(joined.layer(layer).k)).toEqual(values(want(layer)));
        expect(values(joined.layer(layer).v)).toEqual(values(tf.neg(want(layer))));
      }
      // the joined cache keeps decoding: a step appends after the joined positions
      const step = [rows(3, 1, 64), rows(4, 1, 65)];
      step.forEach((k, layer) => joined.append(layer, k, k));
      for (const layer of [0, 1]) expect(values(joined.layer(layer).k)).toEqual(values(tf.concat([want(layer), step[layer]], 2)));
    });
    expect(joined.length).toBe(6);
    expect(parts.every((p) => p.length === 0)).toBe(true); // consumed
    joined.dispose();
    data.flat().forEach((t) => t.dispose());
    expect(tf.memory().numTensors).toBe(before);
  });

  test("decoding with in-place writes equals decoding with reallocation, without tensor growth", async () => {
    await initBackend(backend);
    const raw = tinyConfigJson({ imageSize: 28, visionLayers: 1, textLayers: 2, textHeads: 4, kvHeads: 2, seed: 5 });
    const m = buildModel(parseLlavaConfig(raw), randomSource(raw, 5));
    const ids = [
      [1, 5, 9, 10],
      [1, 6, 11, 12],
    ];
    const run = (kvWrites: "auto" | "never") => {
      const src = new ModelSource(m.withPerformance({ kvWrites }), ids, {});
      const out = [src.prefill()];
      const before = tf.memory().numTensors;
      for (let i = 0; i < 140; i++) out.push(src.step([20 + (i % 50), 30 + (i % 40)]));
      expect(tf.memory().numTensors).toBe(before);
      src.dispose();
      return out.flat().map((r) => Array.from(r));
    };
    const inPlace = run("auto");
    expect(run("never")).toEqual(inPlace);
    m.dispose();
  });

  test("expect() sizes fresh storage to the forecast; reserve() makes it before any append, and appends fill it in place", async () => {
    await initBackend(backend);
    const before = tf.memory().numTensors;
    const cache = new KVCache(3);
    expect(() => cache.expect(2.5)).toThrow(/position count/);
    cache.expect(9); // prompt 7 + 2 new tokens
    cache.reserve(0, 2, 2, 2, 3, 7); // layers 0 and 1 only
    expect(tf.memory().numTensors).toBe(before + 4); // keys and values of both layers, made before any append
    const reserved = tf.tidy(() => cache.append(0, rows(2, 7, 1), rows(2, 7, 2)).k);
    expect(reserved.shape).toEqual([2, 2, 9, 3]); // exactly the forecast, not 7 + 128 spare positions
    const step = tf.tidy(() => cache.append(0, rows(2, 1, 3), rows(2, 1, 4)).k);
    expect(step).toBe(reserved); // the decode step wrote into the reserved storage
    const unreserved = tf.tidy(() => cache.append(2, rows(2, 7, 1), rows(2, 7, 2)).k);
    expect(unreserved.shape[2]).toBe(9); // made on append, sized by the same forecast
    const made = tf.memory().numTensors;
    cache.reserve(0, 3, 2, 2, 3, 7); // layers 0 and 2 hold positions: left alone; layer 1 is already made
    expect(tf.memory().numTensors).toBe(made);
    expect(tf.tidy(() => cache.append(0, rows(2, 1, 5), rows(2, 1, 6)).k)).toBe(reserved);
    tf.tidy(() => {
      const want = tf.concat([rows(2, 7, 1), rows(2, 1, 3), rows(2, 1, 5)], 2);
      expect(values(cache.layer(0).k)).toEqual(values(want));
    });
    // past the forecast the storage grows with spare room again
    const grown = tf.tidy(() => cache.append(0, rows(2, 1, 7), rows(2, 1, 8)).k);
    expect(grown).not.toBe(reserved);
    expect(grown.shape[2]).toBeGreaterThan(10);
    cache.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
