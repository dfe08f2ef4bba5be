// CausalSource on a random GQA model: batched branches with a shared trunk equal separate forwards,
// no-op branches are bit-identical to the factual one, γ = 0 with ε = 0 is plain decoding, and the
// official shared cache freezes the counterfactual to the factual logits after prefill.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend.js";
import { buildModel } from "../../src/model/load.js";
import { parseLlavaConfig } from "../../src/model/config.js";
import { randomSource, tinyConfigJson } from "../../src/lab/random-model.js";
import type { LlavaModel } from "../../src/model/llava.js";
import { CausalSource } from "../../src/causal/source.js";
import { ModelSource } from "../../src/generate/source.js";
import { makeInterventionHook } from "../../src/causal/counterfactual.js";
import { buildPlan } from "../../src/causal/presets.js";
import { FACTUAL, type DecodingPlan } from "../../src/causal/plan.js";
import { maxAbsDiff } from "../helpers/compare.js";
import { argmax } from "../../src/util/argmax.js";

function run(src: { prefill(): Float32Array[]; step(t: number[]): Float32Array[]; dispose(): void }, tokens: number[]): Float32Array[] {
  const out = [src.prefill()[0]];
  for (const t of tokens) out.push(src.step([t])[0]);
  src.dispose();
  return out;
}

describe("CausalSource (random GQA model, cpu)", () => {
  let m: LlavaModel;
  let px: tf.Tensor4D;
  let ids: number[][];
  beforeAll(async () => {
    await initBackend("cpu");
    const raw = tinyConfigJson({ imageSize: 28, visionLayers: 3, textLayers: 4, textHeads: 4, kvHeads: 2, seed: 3 });
    m = buildModel(parseLlavaConfig(raw), randomSource(raw, 3));
    px = tf.randomNormal([1, 3, 28, 28], 0, 1, "float32", 5) as tf.Tensor4D;
    ids = [[1, 7, 9, m.config.imageTokenIndex, 30, 31, 32]];
  });
  afterAll(() => {
    m.dispose();
    px.dispose();
  });

  test("each branch of a batched forward with a shared trunk equals its own separate forward", () => {
    const plan = buildPlan({ cf: ["text:reversed@2:h1", "text:random@1-3", "vision:uniform@1", "vision:shuffle@0:s4"] }, m.config);
    const seen: Float32Array[][][] = [];
    const feed = [11, 12, 13, 14];
    run(new CausalSource(m, { plan, prompts: { main: ids }, pixels: px, onStep: (_s, bl) => seen.push(bl) }), feed);
    plan.branches.forEach((b, i) => {
      const vision = b.vision?.kind === "clip" ? b.vision.interventions : [];
      const alone = run(new ModelSource(m, ids, { pixels: px, hook: makeInterventionHook([...vision, ...b.text]) }), feed);
      alone.forEach((row, k) => expect(maxAbsDiff(seen[k][i][0], row), `${b.name} step ${k}`).toBeLessThan(2e-5));
    });
  });

  test("prefill counts embedded positions (image features included) per row, as the plain source does", () => {
    const plain = new ModelSource(m, ids, { pixels: px });
    plain.prefill();
    plain.dispose();
    const positions = plain.stats.prefillTokens;
    expect(positions).toBeGreaterThan(ids[0].length); // the <image> id stands for several feature positions
    const plan = buildPlan({ cf: ["both"] }, m.config);
    const causal = new CausalSource(m, { plan, prompts: { main: ids }, pixels: px });
    causal.prefill();
    causal.dispose();
    const rows = causal.stats.prefillTokens / positions;
    expect(Number.isInteger(rows), `${causal.stats.prefillTokens} is not a multiple of ${positions}`).toBe(true);
    expect(rows).toBeGreaterThanOrEqual(1);
    expect(rows).toBeLessThanOrEqual(plan.branches.length);
  });

  test("a branch with no intervention is bit-identical to the factual branch", () => {
    const plan: DecodingPlan = {
      branches: [FACTUAL, { ...FACTUAL, name: "noop" }],
      terms: [{ branches: [1], weight: 1 }],
      gamma: 1,
      epsilon: 0.1,
      sharedCache: false,
    };
    const seen: Float32Array[][][] = [];
    run(new CausalSource(m, { plan, prompts: { main: ids }, pixels: px, onStep: (_s, bl) => seen.push(bl) }), [4, 5]);
    for (const bl of seen) expect(maxAbsDiff(bl[1][0], bl[0][0])).toBe(0);
    const hookless = run(new ModelSource(m, ids, { pixels: px }), [4, 5]);
    const withEmptyHook = run(new ModelSource(m, ids, { pixels: px, hook: makeInterventionHook([]) }), [4, 5]);
    hookless.forEach((r, k) => expect(maxAbsDiff(r, withEmptyHook[k])).toBe(0));
  });

  test("γ = 0 with ε = 0 is plain greedy decoding", () => {
    const greedy = (src: { prefill(): Float32Array[]; step(t: number[]): Float32Array[]; dispose(): void }) => {
      const toks = [argmax(src.prefill()[0])];
      for (let k = 0; k < 6; k++) toks.push(argmax(src.step([toks[k]])[0]));
      src.dispose();
      return toks;
    };
    const plan = buildPlan({ cf: ["both"], gamma: 0, epsilon: 0 }, m.config);
    expect(greedy(new CausalSource(m, { plan, prompts: { main: ids }, pixels: px }))).toEqual(
      greedy(new ModelSource(m, ids, { pixels: px })),
    );
  });

  test("the official shared cache: counterfactual logits equal the factual ones after prefill", () => {
    const seen: Float32Array[][][] = [];
    const plan = buildPlan({ preset: "official", officialType: "uniform" }, m.config);
    run(new CausalSource(m, { plan, prompts: { main: ids }, pixels: px, onStep: (_s, bl) => seen.push(bl) }), [8, 9, 10]);
    expect(maxAbsDiff(seen[0][1][0], seen[0][0][0])).toBeGreaterThan(1e-4);
    for (const bl of seen.slice(1)) expect(maxAbsDiff(bl[1][0], bl[0][0])).toBe(0);
  });

  test("bad plans are clear errors", () => {
    expect(() => buildPlan({ cf: ["text:uniform@9"] }, m.config)).toThrow(/0–3/);
    expect(() => buildPlan({ cf: ["audio:uniform@1"] }, m.config)).toThrow(/vision, text/);
    expect(() => buildPlan({ baseline: "vcd", cf: ["both"] }, m.config)).toThrow(/don't combine/);
  });
});
