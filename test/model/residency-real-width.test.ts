// Weight residency at LLaVA-1.5-7B's real widths: a model written by `causalmm lab random --like
// llava-1.5-7b`'s generator (4096-wide decoder with FFN 11008 and 32 heads, 1024-wide CLIP with 16 heads,
// F16 in three shards) with one decoder and two CLIP layers, a 128-token vocabulary and 28 px images, so
// that it loads and runs in seconds and under 2 GiB. `all`, `budget` (the decoder layer streamed, the rest
// resident) and `stream` must give bit-identical logits at every greedy step and the same greedy tokens,
// on cpu and on wasm. The fixture models check the same at width 64 (residency.test.ts).
import { afterAll, beforeAll, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeFixtures } from "../helpers/fixtures.js";
import { initBackend } from "../../src/backend.js";
import { loadLlavaConfig } from "../../src/model/config.js";
import { loadModel, memoryPlanOf, planModel } from "../../src/model/load.js";
import { unitBytes, type PlanRequest } from "../../src/model/memory-plan.js";
import { greedyDecode } from "../../src/generate/greedy.js";
import { writeRandomLike } from "../../src/lab/random-like.js";

const IMAGE = 28;
const NEW_TOKENS = 2;

interface Run {
  tokens: number[];
  stepLogits: Float32Array[];
}

describeFixtures("weight residency at 7B widths (1 decoder + 2 CLIP layers)", (fixtures) => {
  let dir: string;
  let pixels: tf.Tensor4D;
  // BOS, a few words, the image (4 patch tokens at 28 px), a few more words: ids inside the 128-token vocabulary
  const ids = [1, 17, 42, 99, 32000, 13, 64, 7, 120];
  const runs: Record<string, Record<string, Run>> = {};

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "causalmm-real-width-"));
    const like = { like: "llava-1.5-7b", out: dir, tokenizerDir: join(fixtures, "tokenizer"), shards: 3 };
    writeRandomLike({ ...like, textLayers: 1, visionLayers: 2, vocabSize: 128, imageSize: IMAGE, seed: 3 });
  }, 120_000);
  afterAll(() => {
    pixels?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("the generator wrote real widths with the small vocabulary and image size", () => {
    const cfg = loadLlavaConfig(dir);
    expect([cfg.text.hiddenSize, cfg.text.intermediateSize, cfg.text.numHeads, cfg.text.numLayers, cfg.text.vocabSize]).toEqual([
      4096, 11008, 32, 1, 128,
    ]);
    expect([cfg.vision.hiddenSize, cfg.vision.numLayers, cfg.vision.imageSize]).toEqual([1024, 2, IMAGE]);
    const pre = JSON.parse(readFileSync(join(dir, "preprocessor_config.json"), "utf8"));
    expect([pre.crop_size.height, pre.size.shortest_edge]).toEqual([IMAGE, IMAGE]);
  });

  for (const backend of ["cpu", "wasm"] as const) {
    test(`${backend}: all, budget and stream give bit-identical logits and the same greedy tokens`, async () => {
      await initBackend(backend);
      pixels?.dispose();
      pixels = tf.randomUniform([1, 3, IMAGE, IMAGE], -1, 1, "float32", 11) as tf.Tensor4D;
      const workload = { promptTokens: ids.length - 1 + 4, maxNewTokens: NEW_TOKENS };
      const policies: Record<string, PlanRequest> = {
        all: { policy: "all", workload },
        budget: { policy: "budget", residentBytes: budgetWithoutDecoder(dir), workload },
        stream: { policy: "stream", workload },
      };
      const out: Record<string, Run> = {};
      for (const [policy, req] of Object.entries(policies)) {
        const model = await loadModel(dir, { residency: req });
        try {
          const plan = memoryPlanOf(model)!;
          expect(plan.policy).toBe(policy);
          if (policy === "budget") {
            expect(plan.residency.resident.has("text.0"), "budget streams the decoder layer").toBe(false);
            expect([...plan.residency.resident].sort()).toEqual(["embed", "lm_head", "vision.0", "vision.1"]);
          }
          const before = tf.memory().numTensors;
          const g = greedyDecode(model, [ids], pixels, NEW_TOKENS);
          expect(tf.memory().numTensors, `${policy}: no tensors left behind`).toBe(before);
          out[policy] = { tokens: g.tokens[0], stepLogits: g.stepLogits[0] };
        } finally {
          model.dispose();
        }
      }
      runs[backend] = out;
      expect(out.all.stepLogits).toHaveLength(NEW_TOKENS);
      expect(out.all.stepLogits[0]).toHaveLength(128);
      expect(out.all.stepLogits[0].every(Number.isFinite)).toBe(true);
      for (const policy of ["budget", "stream"]) {
        expect(out[policy].tokens, `${policy}: tokens`).toEqual(out.all.tokens);
        out.all.stepLogits.forEach((ref, k) => expect(sameBits(out[policy].stepLogits[k], ref), `${policy}: step ${k} logits`).toBe(true));
      }
    }, 600_000);
  }

  test("cpu and wasm agree at real widths (within float32 summation-order noise)", () => {
    if (!runs.cpu || !runs.wasm) return expect.fail("the per-backend tests did not both run");
    expect(runs.wasm.all.tokens).toEqual(runs.cpu.all.tokens);
    runs.cpu.all.stepLogits.forEach((ref, k) => {
      const got = runs.wasm.all.stepLogits[k];
      const scale = Math.max(...ref.map(Math.abs));
      for (let i = 0; i < ref.length; i++) expect(Math.abs(got[i] - ref[i]), `step ${k} logit ${i}`).toBeLessThan(1e-4 * scale + 1e-4);
    });
  });
});

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return (
    a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
  );
}

/** A budget that keeps every unit resident except the decoder layer (first-fit skips it, takes lm_head and CLIP). */
function budgetWithoutDecoder(dir: string): number {
  const u = unitBytes(planModel(dir).ctx);
  return [...u].reduce((a, [name, b]) => a + (name === "text.0" ? 0 : b), 0);
}
