// Weight residency on the fixture models: `all`, `budget` (some layers resident, some streamed) and
// `stream` (every layer uploaded per use, embeddings gathered on the host, lm_head in vocabulary
// chunks) give bit-identical logits, greedy tokens and CausalMM scores, from F16 shards and BF16,
// on cpu and wasm; streamed weights leave no tensors behind. `native` (16-bit host weights read by the
// native GEMM) sums in another order: within 1e-4, the same tokens.
import { afterAll, beforeAll, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { describeFixtures } from "../helpers/fixtures.js";
import { golden } from "../helpers/compare.js";
import { initBackend } from "../../src/backend.js";
import { loadModel, memoryPlanOf, planModel } from "../../src/model/load.js";
import type { LlavaModel } from "../../src/model/llava.js";
import { unitBytes, type PlanRequest } from "../../src/model/memory-plan.js";
import { greedyDecode } from "../../src/generate/greedy.js";
import { CausalSource } from "../../src/causal/source.js";
import { buildPlan } from "../../src/causal/presets.js";

const POLICIES: Record<string, PlanRequest> = {
  all: { policy: "all" },
  // fixed units + text layer 0 fit (budget set per model below); text layer 1, CLIP, embed and lm_head stream
  budget: { policy: "budget", residentBytes: 0, headChunkRows: 1000 },
  stream: { policy: "stream", headChunkRows: 1000 },
  native: { policy: "native" },
};

interface Outputs {
  logits: Float32Array;
  tokens: number[];
  stepLogits: Float32Array[];
  causal: Float32Array[];
}

function outputs(model: LlavaModel, ids: number[], pixels: tf.Tensor4D): Outputs {
  const logits = tf.tidy(
    () => model.decode(model.embed([ids], model.encodeImages(pixels).features), { logits: "all" }).logits!.dataSync() as Float32Array,
  );
  const g = greedyDecode(model, [ids], pixels, 4);
  const plan = buildPlan({ cf: ["vision:uniform@sel", "text:reversed@0"] }, model.config);
  const src = new CausalSource(model, { plan, prompts: { main: [ids] }, pixels });
  const causal = [src.prefill()[0]];
  causal.push(src.step([g.tokens[0][0]])[0], src.step([g.tokens[0][1]])[0]);
  src.dispose();
  return { logits, tokens: g.tokens[0], stepLogits: g.stepLogits[0], causal };
}

function expectSame(a: Outputs, b: Outputs, what: string): void {
  expect(Buffer.compare(Buffer.from(a.logits.buffer), Buffer.from(b.logits.buffer)), `${what}: logits`).toBe(0);
  expect(b.tokens, `${what}: tokens`).toEqual(a.tokens);
  a.stepLogits.forEach((r, k) =>
    expect(Buffer.from(b.stepLogits[k].buffer).equals(Buffer.from(r.buffer)), `${what}: step ${k}`).toBe(true),
  );
  a.causal.forEach((r, k) => expect(Buffer.from(b.causal[k].buffer).equals(Buffer.from(r.buffer)), `${what}: causal step ${k}`).toBe(true));
}

for (const backend of ["cpu", "wasm"] as const) {
  describeFixtures(`weight residency (${backend})`, (fixtures) => {
    const name = "llava-tiny-56";
    let ids: number[];
    let pixels: tf.Tensor4D;
    beforeAll(async () => {
      await initBackend(backend);
      const gdir = join(fixtures, name, "golden");
      ids = Array.from(golden(gdir, "input_ids").data, Number);
      const pv = golden(gdir, "pixel_values");
      pixels = tf.tensor4d(pv.data as Float32Array, pv.shape as [number, number, number, number]);
    });
    afterAll(() => pixels?.dispose());

    for (const dtype of backend === "cpu" ? ["f16"] : ["f16", "bf16"]) {
      test(`all, budget and stream agree bit for bit (${dtype})`, async () => {
        const results: Record<string, Outputs> = {};
        for (const [policy, req] of Object.entries(POLICIES)) {
          const r = policy === "budget" ? { ...req, residentBytes: budgetForTextLayer0(join(fixtures, name, `model-${dtype}`)) } : req;
          const model = await loadModel(join(fixtures, name, `model-${dtype}`), { residency: r });
          try {
            const plan = memoryPlanOf(model)!;
            expect(plan.policy).toBe(policy);
            if (policy === "native") expect(plan.residency.resident.size).toBe(0);
            if (policy === "budget") expect([...plan.residency.resident]).toEqual(["text.0"]);
            const before = tf.memory().numTensors;
            results[policy] = outputs(model, ids, pixels);
            expect(tf.memory().numTensors, `${policy}: no tensors left behind`).toBe(before);
          } finally {
            model.dispose();
          }
        }
        const golden10 = Array.from(golden(join(fixtures, name, "golden"), "generated_ids").data, Number).slice(ids.length, ids.length + 4);
        expect(results.all.tokens).toEqual(golden10);
        expectSame(results.all, results.budget, "budget");
        expectSame(results.all, results.stream, "stream");
        // native: another GEMM (16-bit weights widened in its kernel, its own summation order): close, same tokens
        expect(maxAbsDiff(results.all.logits, results.native.logits), "native: logits").toBeLessThan(1e-4);
        expect(results.native.tokens, "native: tokens").toEqual(results.all.tokens);
        results.all.causal.forEach((r, k) =>
          expect(maxAbsDiff(r, results.native.causal[k]), `native: causal step ${k}`).toBeLessThan(1e-4),
        );
      });
    }
  });
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) m = Math.max(m, Math.abs(a[i] - b[i])); // −∞ (the cutoff) equals −∞
  return m;
}

/** Bytes that keep the fixed units and text layer 0 resident, and nothing else. */
function budgetForTextLayer0(dir: string): number {
  const u = unitBytes(planModel(dir).ctx);
  return u.get("fixed")! + u.get("text.0")!;
}
