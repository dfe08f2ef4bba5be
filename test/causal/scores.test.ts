// The cutoff-restricted scoring (counterfactual rows through lm_head only for the tokens the
// plausibility cutoff keeps) gives the same scores as contrasting full logits of every branch, for
// every kind of plan: vision/text/multimodal, draws, a step-dependent weight (no-image), another prompt
// (ICD), the released shared cache, two batch rows with different prompts, and a kept set too large to
// gather (full-matMul fallback).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend.js";
import { buildModel } from "../../src/model/load.js";
import { parseLlavaConfig } from "../../src/model/config.js";
import { randomSource, tinyConfigJson } from "../../src/lab/random-model.js";
import type { LlavaModel } from "../../src/model/llava.js";
import { CausalSource } from "../../src/causal/source.js";
import { buildPlan, type CausalOptions } from "../../src/causal/presets.js";
import { plausibilityCutoff, plausibleTokens } from "../../src/causal/contrast.js";
import { MAX_DOT_FRACTION } from "../../src/causal/scores.js";

type Rows = Float32Array[];

/** Prefill + teacher-forced steps; returns each call's score rows and the factual logits seen. */
function scoresOf(src: CausalSource, feed: number[][]): Rows[] {
  const out = [src.prefill()];
  for (const t of feed) out.push(src.step(t));
  src.dispose();
  return out;
}

function expectSameScores(fast: Rows[], full: Rows[]): void {
  fast.forEach((rows, s) =>
    rows.forEach((row, b) => {
      const ref = full[s][b];
      for (let k = 0; k < ref.length; k++) {
        if (ref[k] === -Infinity) expect(row[k], `step ${s} row ${b} token ${k}`).toBe(-Infinity);
        else expect(Math.abs(row[k] - ref[k]), `step ${s} row ${b} token ${k}`).toBeLessThan(1e-5);
      }
    }),
  );
}

const backends = ["cpu", "wasm"] as const;

// on wasm the cutoff runs in the SIMD kernel (src/model/kernels/wasm-kernels.ts), on cpu in JS
describe.each(backends)("cutoff-restricted contrast scores (random model, %s)", (backend) => {
  let m: LlavaModel;
  let px: tf.Tensor4D;
  beforeAll(async () => {
    await initBackend(backend);
    const raw = tinyConfigJson({ imageSize: 28, visionLayers: 3, textLayers: 4, textHeads: 4, kvHeads: 2, vocabSize: 2048, seed: 11 });
    m = buildModel(parseLlavaConfig(raw), randomSource(raw, 11));
    px = tf.randomNormal([2, 3, 28, 28], 0, 1, "float32", 9) as tf.Tensor4D;
  });
  afterAll(() => {
    m.dispose();
    px.dispose();
  });

  const cases: [string, CausalOptions][] = [
    ["vision", { cf: ["vision:uniform@1"], epsilon: 0.5 }],
    ["multimodal with draws", { cf: ["vision:shuffle@0", "text:random@1-3"], draws: 3, epsilon: 0.3 }],
    ["no-image (step-dependent weight)", { baseline: "noimage", epsilon: 0.5 }],
    ["ICD (another prompt)", { baseline: "icd", epsilon: 0.5 }],
    ["PAI (amplified image attention, text-only contrast)", { baseline: "pai", paiStartLayer: 1, epsilon: 0.5 }],
    ["official shared cache", { preset: "official", officialType: "uniform" }],
    ["kept set too large for dot products", { cf: ["both"], epsilon: 1e-30 }],
  ];

  for (const [name, opts] of cases) {
    test(name, () => {
      const plan = buildPlan(opts, m.config);
      const img = m.config.imageTokenIndex;
      const main = [
        [1, 7, 9, img, 30, 31, 32],
        [1, 8, img, 40, 41, 42, 43],
      ];
      const prompts: Record<string, number[][]> = {
        main,
        noimage: [
          [1, 7, 9, 30, 31, 32],
          [1, 8, 40, 41, 42, 43],
        ],
        icd: main.map((r) => [r[0], 5, 6, ...r.slice(1)]),
      };
      const used = Object.fromEntries(plan.branches.map((b) => b.prompt ?? "main").map((k) => [k, prompts[k]]));
      const feed = [
        [11, 12],
        [13, 14],
        [15, 16],
      ];
      const full = scoresOf(new CausalSource(m, { plan, prompts: used, pixels: px, onStep: () => {} }), feed);
      const fast = scoresOf(new CausalSource(m, { plan, prompts: used, pixels: px }), feed);
      expectSameScores(fast, full);
      // the case exercises what its name says: few kept tokens (dot products) or nearly all
      const kept = full.flat().map((r) => r.filter((x) => x > -Infinity).length);
      if (name.startsWith("kept set")) expect(Math.min(...kept)).toBeGreaterThan(m.config.text.vocabSize * MAX_DOT_FRACTION);
      else expect(Math.max(...kept)).toBeLessThanOrEqual(m.config.text.vocabSize * MAX_DOT_FRACTION);
    });
  }
});

describe("cutoff-restricted contrast scores: helpers and a longer run", () => {
  test("plausibleTokens keeps exactly the tokens contrastLogits does not cut", () => {
    const f = Float32Array.from([0, -3, 2, 1.9, NaN, 2]);
    expect([...plausibleTokens(f, 0.5)]).toEqual([2, 3, 4, 5]);
    expect([...plausibleTokens(f, 0)]).toEqual([0, 1, 2, 3, 4, 5]);
    // random rows, rising runs (many early candidates), ties, ±∞ and NaN against the definition
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let trial = 0; trial < 200; trial++) {
      const row = Float32Array.from({ length: 300 }, (_, k) => (trial % 5 === 0 ? k / 30 : Math.round(rand() * 40) / 4));
      if (trial % 7 === 1) row[Math.floor(rand() * 300)] = NaN;
      if (trial % 11 === 2) row[Math.floor(rand() * 300)] = -Infinity;
      if (trial % 13 === 3) row.fill(-Infinity);
      const eps = [0.9, 0.5, 0.1, 1e-3, 1][trial % 5];
      const cutoff = plausibilityCutoff(row, eps);
      const expected = [...row.keys()].filter((k) => !(row[k] < cutoff));
      expect([...plausibleTokens(row, eps)], `trial ${trial}`).toEqual(expected);
    }
  });

  test.each(backends)("same scores on %s with onStep and without", async (backend) => {
    await initBackend(backend);
    const raw = tinyConfigJson({ imageSize: 28, visionLayers: 2, textLayers: 3, vocabSize: 4096, seed: 5 });
    const model = buildModel(parseLlavaConfig(raw), randomSource(raw, 5));
    const plan = buildPlan({ cf: ["both"], epsilon: 0.2 }, model.config);
    const pixels = tf.randomNormal([1, 3, 28, 28], 0, 1, "float32", 2) as tf.Tensor4D;
    const prompts = { main: [[1, 4, model.config.imageTokenIndex, 20, 21]] };
    const feed = Array.from({ length: 8 }, (_, i) => [100 + i]);
    const before = tf.memory().numTensors;
    const fast = scoresOf(new CausalSource(model, { plan, prompts, pixels }), feed);
    expect(tf.memory().numTensors).toBe(before);
    const full = scoresOf(new CausalSource(model, { plan, prompts, pixels, onStep: () => {} }), feed);
    expectSameScores(fast, full);
    pixels.dispose();
    model.dispose();
    await initBackend("cpu");
  });
});
