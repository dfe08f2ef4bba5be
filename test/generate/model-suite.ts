// The generation loop on the real fixture models (no tokenizer there, so tokens only): greedy equals
// HF's generate() goldens and greedyDecode, batches equal single runs, top-k 1 equals greedy, and
// 50 cached steps leak no tensors. Run once per backend by the *-cpu / *-wasm test files.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { describeFixtures } from "../helpers/fixtures.js";
import { golden } from "../helpers/compare.js";
import { initBackend } from "../../src/backend.js";
import { loadModel } from "../../src/model/load.js";
import type { LlavaModel } from "../../src/model/llava.js";
import { greedyDecode } from "../../src/generate/greedy.js";
import { generate } from "../../src/generate/generate.js";
import { ModelSource } from "../../src/generate/source.js";

const MODELS = ["llava-tiny-56", "llava-tiny"];

function goldenRun(gdir: string): { prompt: number[]; expected: number[]; pixels: tf.Tensor4D } {
  const ids = Array.from(golden(gdir, "input_ids").data, Number);
  const gen = Array.from(golden(gdir, "generated_ids").data, Number);
  const pv = golden(gdir, "pixel_values");
  return {
    prompt: ids,
    expected: gen.slice(ids.length),
    pixels: tf.tensor4d(pv.data as Float32Array, pv.shape as [number, number, number, number]),
  };
}

function run(model: LlavaModel, prompt: number[][], pixels: tf.Tensor4D | null, opts: Parameters<typeof generate>[1]): number[][] {
  const source = new ModelSource(model, prompt, { pixels });
  try {
    return generate(source, opts).tokens;
  } finally {
    source.dispose();
  }
}

export function modelSuite(backend: "cpu" | "wasm"): void {
  describeFixtures(`generate on fixture models (${backend})`, (fixtures) => {
    for (const name of MODELS) {
      describe(name, () => {
        let model: LlavaModel;
        let g: ReturnType<typeof goldenRun>;
        beforeAll(async () => {
          await initBackend(backend);
          model = await loadModel(join(fixtures, name, "model-f32"));
          g = goldenRun(join(fixtures, name, "golden"));
        });
        afterAll(() => {
          g?.pixels.dispose();
          model?.dispose();
        });

        test("greedy equals HF generate() and greedyDecode", () => {
          const tokens = run(model, [g.prompt], g.pixels, { maxNewTokens: g.expected.length });
          expect(tokens[0]).toEqual(g.expected);
          expect(tokens).toEqual(greedyDecode(model, [g.prompt], g.pixels, g.expected.length).tokens);
        });

        // The remaining checks do not depend on the image size: the small model keeps them quick.
        if (name !== "llava-tiny-56") return;

        test("top-k 1 sampling equals greedy", () => {
          const tokens = run(model, [g.prompt], g.pixels, { maxNewTokens: g.expected.length, temperature: 0.7, topK: 1, seed: 5 });
          expect(tokens[0]).toEqual(g.expected);
        });

        test("a batch of two equal-length prompts equals each prompt alone", () => {
          // Second row: another question word and the image mirrored left-right.
          const other = g.prompt.map((id, i) => (i === 9 ? 1724 : id));
          const mirrored = tf.tidy(() => tf.reverse(g.pixels, 3)) as tf.Tensor4D;
          const both = tf.concat([g.pixels, mirrored], 0) as tf.Tensor4D;
          try {
            const n = 8;
            const batch = run(model, [g.prompt, other], both, { maxNewTokens: n });
            expect(batch[0]).toEqual(run(model, [g.prompt], g.pixels, { maxNewTokens: n })[0]);
            expect(batch[1]).toEqual(run(model, [other], mirrored, { maxNewTokens: n })[0]);
          } finally {
            mirrored.dispose();
            both.dispose();
          }
        });

        test("no tensors leak over 50 cached decode steps", () => {
          const before = tf.memory().numTensors;
          const source = new ModelSource(model, [g.prompt], { pixels: g.pixels });
          source.prefill();
          source.step([g.expected[0]]);
          const afterFirstStep = tf.memory().numTensors;
          for (let k = 1; k < 50; k++) source.step([g.expected[k % g.expected.length]]);
          expect(tf.memory().numTensors).toBe(afterFirstStep);
          source.dispose();
          expect(tf.memory().numTensors).toBe(before);
          // And through the loop, which disposes nothing it does not own.
          run(model, [g.prompt], g.pixels, { maxNewTokens: 50, temperature: 1, topP: 0.9, seed: 1 });
          expect(tf.memory().numTensors).toBe(before);
        });
      });
    }
  });
}
