// The model against HF transformers v4.40.2 goldens (../shared/fixtures), on cpu and wasm, from the
// F32 file, the F16 shards and the BF16 file.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { existsSync } from "node:fs";
import { describeFixtures } from "../helpers/fixtures.js";
import { golden, maxAbsDiff, rows } from "../helpers/compare.js";
import { initBackend } from "../../src/backend.js";
import { loadModel } from "../../src/model/load.js";
import type { LlavaModel } from "../../src/model/llava.js";
import { inspectForward, type Captured } from "../../src/introspect/inspect.js";
import { greedyDecode } from "../../src/generate/greedy.js";

const TOL = { logits: 1e-4, attn: 1e-5, other: 1e-4 };
const MODELS = ["llava-tiny-56", "llava-tiny"];
const DTYPES = ["model-f32", "model-f16", "model-bf16"];

function idsOf(g: ReturnType<typeof golden>): number[][] {
  const [B, S] = g.shape;
  return Array.from({ length: B }, (_, b) => Array.from(g.data.slice(b * S, (b + 1) * S)));
}

export function conformanceSuite(backend: "cpu" | "wasm"): void {
  describeFixtures(`HF conformance (${backend})`, (fixtures) => {
    {
      for (const name of MODELS) {
        for (const dtype of DTYPES) {
          const dir = join(fixtures, name);
          const gdir = join(dir, "golden");
          const label = `${backend} ${name} ${dtype}`;
          describe(label, () => {
            let model: LlavaModel;
            let got: Map<string, Captured>;
            let pixels: tf.Tensor4D;
            beforeAll(async () => {
              await initBackend(backend);
              model = await loadModel(join(dir, dtype));
              const pv = golden(gdir, "pixel_values");
              pixels = tf.tensor4d(pv.data as Float32Array, pv.shape as [number, number, number, number]);
              const nv = model.config.vision.numLayers;
              const names = [
                "vision.embeddings",
                "vision.attn.1",
                "vision.q.1",
                "vision.k.1",
                "vision.v.1",
                ...Array.from({ length: nv + 1 }, (_, i) => `vision.hidden.${i}`),
                "projector.linear1",
                "projector.gelu",
                "image_features",
                ...Array.from({ length: model.config.text.numLayers + 1 }, (_, i) => `text.hidden.${i}`),
                "text.q.0",
                "text.k.0",
                "text.v.0",
                "text.cache_k.0",
                "text.cache_v.0",
                "text.attn.0",
                "logits",
              ];
              got = inspectForward(model, idsOf(golden(gdir, "input_ids")), pixels, names);
            });
            afterAll(() => {
              model?.dispose();
              pixels?.dispose();
            });

            const close = (gotName: string, goldName: string, tol: number, stackedIndex?: number) => {
              const g = golden(gdir, goldName);
              let ref = g.data;
              if (stackedIndex !== undefined) {
                const inner = g.shape.slice(1).reduce((a, b) => a * b, 1);
                ref = rows(g.data, inner, stackedIndex, 1);
              }
              const c = got.get(gotName)!;
              expect(c.data.length, `${gotName} size`).toBe(ref.length);
              expect(maxAbsDiff(c.data, ref), `${label} ${gotName}`).toBeLessThanOrEqual(tol);
            };

            test(`${label}: vision tower`, () => {
              close("vision.embeddings", "vision_embeddings", TOL.other);
              for (let i = 0; i <= model.config.vision.numLayers; i++) close(`vision.hidden.${i}`, "vision_hidden_states", TOL.other, i);
              close("vision.q.1", "vision_l1_q_proj", TOL.other);
              close("vision.k.1", "vision_l1_k_proj", TOL.other);
              close("vision.v.1", "vision_l1_v_proj", TOL.other);
              close("vision.attn.1", "vision_attn_l1", TOL.attn);
            });

            test(`${label}: projector`, () => {
              close("projector.linear1", "projector_linear_1", TOL.other);
              close("projector.gelu", "projector_gelu", TOL.other);
              close("image_features", "image_features", TOL.other);
            });

            test(`${label}: decoder`, () => {
              for (let i = 0; i <= model.config.text.numLayers; i++) close(`text.hidden.${i}`, "text_hidden_states", TOL.other, i);
              close("text.q.0", "text_l0_q_proj", TOL.other);
              close("text.k.0", "text_l0_k_proj", TOL.other);
              close("text.v.0", "text_l0_v_proj", TOL.other);
              close("text.cache_k.0", "text_l0_cache_k", TOL.other);
              close("text.cache_v.0", "text_l0_cache_v", TOL.other);
              close("text.attn.0", "text_attn_l0", TOL.attn);
            });

            test(`${label}: logits`, () => {
              const logits = got.get("logits")!;
              const [, S, V] = logits.shape;
              // tiny-56 ships every row (logits_full); tiny-336 a selection (logits_rows + index)
              const full = existsSync(join(gdir, "logits_full.npy"));
              const idx = full ? Array.from({ length: S }, (_, i) => i) : golden(gdir, "logits_rows_index").data;
              const ref = golden(gdir, full ? "logits_full" : "logits_rows").data;
              for (let r = 0; r < idx.length; r++) {
                expect(
                  maxAbsDiff(rows(logits.data, V, idx[r], 1), rows(ref, V, r, 1)),
                  `${label} logits row ${idx[r]}`,
                ).toBeLessThanOrEqual(TOL.logits);
              }
              const amax = golden(gdir, "logits_argmax").data;
              const mx = golden(gdir, "logits_max").data;
              const lse = golden(gdir, "logits_logsumexp").data;
              for (let s = 0; s < S; s++) {
                const row = logits.data.subarray(s * V, (s + 1) * V);
                let best = 0;
                let m = -Infinity;
                for (let j = 0; j < V; j++) {
                  if (row[j] <= m) continue;
                  m = row[j];
                  best = j;
                }
                let sum = 0;
                for (let j = 0; j < V; j++) sum += Math.exp(row[j] - m);
                expect(best, `${label} argmax at ${s}`).toBe(amax[s]);
                expect(Math.abs(m - mx[s])).toBeLessThanOrEqual(TOL.logits);
                expect(Math.abs(m + Math.log(sum) - lse[s])).toBeLessThanOrEqual(TOL.logits);
              }
            });

            test(`${label}: greedy tokens with KV cache`, () => {
              const gen = golden(gdir, "generated_ids");
              const prompt = idsOf(golden(gdir, "input_ids"))[0];
              const expected = Array.from(gen.data.slice(prompt.length));
              const res = greedyDecode(model, [prompt], pixels, expected.length);
              const [tokens, stepLogits] = [res.tokens[0], res.stepLogits[0]];
              expect(tokens).toEqual(expected);
              const ref = golden(gdir, "gen_step_logits");
              const V = ref.shape[1];
              stepLogits.forEach((l, k) =>
                expect(maxAbsDiff(l, rows(ref.data, V, k, 1)), `${label} step ${k}`).toBeLessThanOrEqual(TOL.logits),
              );
            });
          });
        }
      }
    }
  });
}
