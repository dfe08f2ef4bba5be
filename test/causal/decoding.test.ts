// Counterfactual attention inside the model and contrastive decoding against the HF goldens in
// ../shared/fixtures/*/causal (single forwards, official reweighting, greedy contrastive decoding).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { existsSync, readFileSync } from "node:fs";
import { describeFixtures } from "../helpers/fixtures.js";
import { golden, maxAbsDiff, rows } from "../helpers/compare.js";
import { initBackend } from "../../src/backend.js";
import { loadModel } from "../../src/model/load.js";
import type { LlavaModel } from "../../src/model/llava.js";
import { makeInterventionHook, type Intervention } from "../../src/causal/counterfactual.js";
import { encodeVariants } from "../../src/causal/images.js";
import { CausalSource } from "../../src/causal/source.js";
import { FACTUAL, variantKey, type Branch, type DecodingPlan } from "../../src/causal/plan.js";
import { argmax } from "../../src/util/argmax.js";

type CaseSpec = {
  vision?: { kind: string; layers: number[]; heads?: number[] };
  text?: { kind: string; layers: number[]; heads?: number[] };
  official_reweight?: string;
  gamma?: number;
  eps?: number;
  steps?: number;
  shared_cache?: boolean;
  tokens?: number[];
};

const iv = (module: "vision" | "text", s: { kind: string; layers: number[]; heads?: number[] }): Intervention => ({
  module,
  type: s.kind as Intervention["type"],
  layers: s.layers,
  heads: s.heads,
});

function planFor(spec: CaseSpec, name: string): DecodingPlan {
  const branches: Branch[] = [FACTUAL];
  if (spec.official_reweight || name.startsWith("official") || name.includes("official_reweight")) {
    branches.push({ name: "reweight", vision: { kind: "reweight", type: "uniform", seed: 0 }, text: [] });
  } else {
    if (name.includes("vision") || name === "cd_multimodal")
      branches.push({
        name: "vision-cf",
        vision: { kind: "clip", interventions: [iv("vision", { kind: "uniform", layers: [1] })] },
        text: [],
      });
    if (name.includes("text") || name === "cd_multimodal")
      branches.push({ name: "text-cf", vision: FACTUAL.vision, text: [iv("text", { kind: "uniform", layers: [0] })] });
  }
  return {
    branches,
    terms: branches.slice(1).map((_, i) => ({ branches: [i + 1], weight: 1 })),
    gamma: spec.gamma ?? 1,
    epsilon: spec.eps ?? 0.1,
    sharedCache: spec.shared_cache ?? false,
  };
}

for (const backend of ["cpu", "wasm"] as const) {
  describeFixtures(`CausalMM goldens (${backend})`, (fixtures) => {
    for (const name of ["llava-tiny-56", "llava-tiny"]) {
      describe(name, () => {
        const dir = join(fixtures, name);
        const cdir = join(dir, "causal");
        let model: LlavaModel;
        let pixels: tf.Tensor4D;
        let ids: number[][];
        let cases: Record<string, CaseSpec>;
        beforeAll(async () => {
          await initBackend(backend);
          model = await loadModel(join(dir, "model-f32"));
          const pv = golden(join(dir, "golden"), "pixel_values");
          pixels = tf.tensor4d(pv.data as Float32Array, pv.shape as [number, number, number, number]);
          ids = [Array.from(golden(join(dir, "golden"), "input_ids").data)];
          cases = JSON.parse(readFileSync(join(cdir, "manifest.json"), "utf8")).cases;
        });
        afterAll(() => {
          model?.dispose();
          pixels?.dispose();
        });

        for (const c of ["vision_uniform_sel", "vision_reversed_all", "text_uniform_l0", "text_reversed_last_heads_0_2", "both_uniform"]) {
          test(`single-forward intervention ${c}: image features, last logits, argmax everywhere`, async () => {
            await yieldToRunner();
            const spec = cases[c];
            const ivs = [...(spec.vision ? [iv("vision", spec.vision)] : []), ...(spec.text ? [iv("text", spec.text)] : [])];
            const hook = makeInterventionHook(ivs);
            let feats: Float32Array = new Float32Array(0) as Float32Array;
            let logits: Float32Array = new Float32Array(0) as Float32Array;
            tf.tidy(() => {
              const f = model.encodeImages(pixels, { hook }).features;
              feats = f.dataSync() as Float32Array;
              logits = model.decode(model.embed(ids, f), { hook, logits: "all" }).logits!.dataSync() as Float32Array;
            });
            const V = model.config.text.vocabSize;
            const S = logits.length / V;
            expect(maxAbsDiff(feats, golden(cdir, `${c}.image_features`).data), `${c} features`).toBeLessThanOrEqual(1e-4);
            expect(maxAbsDiff(rows(logits, V, S - 1, 1), golden(cdir, `${c}.logits_last`).data), `${c} logits`).toBeLessThanOrEqual(1e-4);
            const am = golden(cdir, `${c}.logits_argmax`).data;
            for (let s = 0; s < S; s++) expect(argmax(logits.subarray(s * V, (s + 1) * V)), `${c} argmax @${s}`).toBe(am[s]);
          }, 300_000);
        }

        test("official reweighting: image features and last logits", () => {
          for (const type of ["uniform", "reversed"] as const) {
            const c = `official_reweight_${type}`;
            const v = { kind: "reweight" as const, type, seed: 0 };
            let feats: Float32Array = new Float32Array(0) as Float32Array;
            let last: Float32Array = new Float32Array(0) as Float32Array;
            tf.tidy(() => {
              const f = encodeVariants(model, pixels, [v]).get(variantKey(v))!;
              feats = f.dataSync() as Float32Array;
              last = model.decode(model.embed(ids, f), { logits: "last" }).logits!.dataSync() as Float32Array;
            });
            expect(maxAbsDiff(feats, golden(cdir, `${c}.image_features`).data), c).toBeLessThanOrEqual(1e-4);
            expect(maxAbsDiff(last, golden(cdir, `${c}.logits_last`).data), c).toBeLessThanOrEqual(1e-4);
          }
        });

        for (const c of [
          "cd_vision_uniform_sel",
          "cd_text_uniform_l0",
          "cd_multimodal",
          "cd_official_reweight_uniform_own_cache",
          "official_shared_cache",
        ]) {
          test(`contrastive greedy decoding: ${c}`, async () => {
            const spec = cases[c];
            const plan = planFor(spec, c);
            const margins = golden(cdir, `${c}.margins`).data;
            const expected = Array.from(golden(cdir, `${c}.tokens`).data);
            // 1) free-running greedy: tokens exact wherever the recorded margin is ≥ 0.01
            const free = new CausalSource(model, { plan, prompts: { main: ids }, pixels });
            const got: number[] = [];
            let scores = free.prefill();
            for (let k = 0; k < expected.length; k++) {
              await yieldToRunner();
              got.push(argmax(scores[0]));
              if (margins[k] < 0.01) break; // later steps depend on a near-tie
              if (k < expected.length - 1) scores = free.step([got[k]]);
            }
            free.dispose();
            await yieldToRunner();
            expect(got).toEqual(expected.slice(0, got.length));
            // 2) teacher forcing with the fixture's tokens: per-step factual and counterfactual logits
            const fact = golden(cdir, `${c}.factual_logits`);
            const cf = golden(cdir, `${c}.cf_logits`);
            const V = fact.shape[1];
            const nCf = cf.shape[1];
            const seen: Float32Array[][][] = [];
            const tf_ = new CausalSource(model, { plan, prompts: { main: ids }, pixels, onStep: (_s, bl) => seen.push(bl) });
            tf_.prefill();
            for (let k = 0; k < expected.length - 1; k++) {
              await yieldToRunner();
              tf_.step([expected[k]]);
            }
            tf_.dispose();
            seen.forEach((bl, k) => {
              expect(maxAbsDiff(bl[0][0], rows(fact.data, V, k, 1)), `${c} factual step ${k}`).toBeLessThanOrEqual(1e-4);
              for (let j = 0; j < nCf; j++)
                expect(maxAbsDiff(bl[j + 1][0], rows(cf.data, V, k * nCf + j, 1)), `${c} cf ${j} step ${k}`).toBeLessThanOrEqual(1e-4);
            });
          });
        }

        test("no tensor leaks over 50 contrastive steps with three branches", () => {
          const plan = planFor({}, "cd_multimodal");
          const src = new CausalSource(model, { plan, prompts: { main: ids }, pixels });
          src.prefill();
          src.step([5]);
          const before = tf.memory().numTensors;
          for (let k = 0; k < 50; k++) src.step([7 + k]);
          expect(tf.memory().numTensors).toBe(before);
          src.dispose();
        });
      });
    }
  });
}
void existsSync;

/** Long synchronous stretches starve vitest's worker RPC; give it a turn between heavy steps. */
function yieldToRunner(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
