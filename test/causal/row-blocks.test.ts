// Issue 13 item 8: `--draws 300 --cf text:random@all` overflowed the wasm heap. Three defects behind it,
// each tested here: composed per-branch hooks held one full copy of P per branch (k² bytes); a failed wasm
// allocation wrote the tensor at address 0 instead of failing; and when cleanup then crashed in a
// `finally`, its error replaced the first one.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { initBackend, setWasmHeapLimit } from "../../src/backend.js";
import * as backend from "../../src/backend.js";
import { buildModel } from "../../src/model/load.js";
import { parseLlavaConfig } from "../../src/model/config.js";
import { randomSource, tinyConfigJson } from "../../src/lab/random-model.js";
import type { LlavaModel } from "../../src/model/llava.js";
import type { AttentionHook, AttentionSite } from "../../src/model/hooks.js";
import { CausalSource } from "../../src/causal/source.js";
import { buildPlan } from "../../src/causal/presets.js";
import { makeInterventionHook } from "../../src/causal/counterfactual.js";
import { loadLlava, Llava, type AskOptions } from "../../src/api.js";
import type { LogitsSource } from "../../src/generate/source.js";
import { withCleanup } from "../../src/util/cleanup.js";
import { describeFixtures } from "../helpers/fixtures.js";

const site = (layer: number): AttentionSite => ({ module: "text", layer, numLayers: 3, causalOffset: 0 });

for (const name of ["cpu", "wasm"] as const) {
  describe(`one hook for all branches of a forward (${name})`, () => {
    let m: LlavaModel;
    const ids = [
      [1, 7, 9, 0, 30, 31, 32],
      [1, 8, 9, 0, 33, 34, 35],
    ];
    beforeAll(async () => {
      await initBackend(name);
      const raw = tinyConfigJson({ imageSize: 28, visionLayers: 2, textLayers: 3, textHeads: 4, kvHeads: 2, seed: 4 });
      m = buildModel(parseLlavaConfig(raw), randomSource(raw, 4));
      for (const row of ids) row[3] = m.config.imageTokenIndex;
    });
    afterAll(() => m.dispose());

    test("the hook of 65 branches keeps about one copy of P, not one per branch", () => {
      const plan = buildPlan({ cf: ["text:random@all", "text:reversed@1:h0,2"], draws: 32, seed: 3 }, m.config);
      const src = new CausalSource(m, { plan, prompts: { main: ids } });
      try {
        const groups = (src as unknown as { groups: { hook?: AttentionHook; branches: number[] }[] }).groups;
        const g = groups.find((x) => x.branches.length > 1)!;
        const rows = g.branches.length * 2;
        const T = 7;
        tf.tidy(() => {
          const P = tf.softmax(tf.randomNormal([rows, 4, T, T], 0, 1, "float32", 2)) as tf.Tensor4D;
          const before = tf.memory().numBytes;
          const out = g.hook!(P, site(1))!;
          expect(out.shape).toEqual(P.shape);
          // composing per-branch hooks left ≈ 65 full copies of P alive until the layer's tidy ended
          expect(tf.memory().numBytes - before).toBeLessThanOrEqual(2 * P.size * 4);
        });
      } finally {
        src.dispose();
      }
    });
  });
}

describe("row blocks give each branch's hook exactly its own rows", () => {
  beforeAll(() => initBackend("cpu"));
  test("same numbers as hooks on each block alone; untouched blocks bit-exact; scores point too", async () => {
    const { rowBlockHook } = await import("../../src/causal/row-blocks.js");
    const n = 2;
    const T = 5;
    const ivs = [
      [],
      [{ module: "text" as const, layers: [0], type: "reversed" as const }],
      [{ module: "text" as const, layers: [0], type: "uniform" as const, heads: [1] }],
    ];
    const perBlock = ivs.map((iv) => (iv.length ? makeInterventionHook(iv) : undefined));
    perBlock[2]!.scores = (s) => tf.add(s, 1) as tf.Tensor4D; // a pre-softmax edit on block 2 only
    const hook = rowBlockHook(perBlock, n)!;
    tf.tidy(() => {
      const P = tf.softmax(tf.randomNormal([3 * n, 4, T, T], 0, 1, "float32", 5)) as tf.Tensor4D;
      const out = hook(P, site(0))!.arraySync();
      const blocks = tf.split(P, 3, 0) as tf.Tensor4D[];
      const want = blocks.map((b, j) => (perBlock[j]?.(b, site(0)) ?? b).arraySync()).flat();
      expect(out).toEqual(want);
      const s = hook.scores!(P, site(0))!.arraySync();
      expect(s.slice(0, 2 * n)).toEqual(P.arraySync().slice(0, 2 * n));
      expect(s.slice(2 * n)).toEqual((tf.add(blocks[2], 1) as tf.Tensor4D).arraySync());
      expect(hook(P, site(1))).toBeUndefined(); // no block intervenes at layer 1: nothing to copy
    });
  });
});

describe("wasm allocations past the heap limit", () => {
  beforeAll(() => initBackend("wasm"));
  test("are a WasmHeapError naming the size, nothing is written, and later ops still work", () => {
    const heap = (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;
    const tensors = tf.memory().numTensors;
    const prev = setWasmHeapLimit(heap);
    try {
      expect(() => tf.zeros([heap / 4 + 1024])).toThrow(backend.WasmHeapError);
      expect(() => tf.tidy(() => tf.add(tf.ones([64]), tf.zeros([heap / 4])))).toThrow(
        /wasm heap full: could not allocate \d+\.\d MiB .*fewer --draws/,
      );
    } finally {
      setWasmHeapLimit(prev);
    }
    expect(tf.memory().numTensors).toBe(tensors);
    expect(Array.from(tf.tidy(() => tf.add(tf.ones([4]), 1)).dataSync())).toEqual([2, 2, 2, 2]);
  });
});

describe("cleanup never hides the first error", () => {
  test("withCleanup: the body's error is thrown, cleanup's error is attached as `suppressed`", async () => {
    const err = await withCleanup(
      () => {
        throw new Error("first");
      },
      () => {
        throw new Error("dispose crashed");
      },
    ).catch((e) => e);
    expect(err.message).toBe("first");
    expect(err.suppressed.message).toBe("dispose crashed");
    await expect(
      withCleanup(
        () => 1,
        () => {
          throw new Error("dispose crashed");
        },
      ),
    ).rejects.toThrow("dispose crashed");
  });
});

/** A Llava whose decoding fails at prefill and whose source then fails to dispose (as after a heap overflow). */
class Failing extends Llava {
  protected override createSource(): LogitsSource {
    return {
      batchSize: 1,
      vocabSize: 8,
      prefill: () => {
        throw new Error("wasm heap full (the first error)");
      },
      step: () => [],
      dispose: () => {
        throw new RangeError("memory access out of bounds");
      },
    };
  }
}

describeFixtures("ask reports the first error when cleanup also fails", (fixtures) => {
  let m: Failing;
  beforeAll(async () => {
    const b = await loadLlava(join(fixtures, "llava-tiny-56", "model-f32"), { backend: "cpu", tokenizerDir: join(fixtures, "tokenizer") });
    m = new Failing(b.dir, b.model, b.tokenizer, b.processor, b.generation, b.loadMs);
  });
  afterAll(() => m?.dispose());
  test("ask and stream reject with the prefill error, not dispose's", async () => {
    const opts: AskOptions = { maxNewTokens: 2 };
    await expect(m.ask(null, "hi", opts)).rejects.toThrow("the first error");
    const it = m.stream(null, "hi", opts);
    await expect(it.next()).rejects.toThrow("the first error");
  });
});
