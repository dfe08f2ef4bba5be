// Many counterfactual draws run in chunks of branches (bounded activations) with the same results as
// one batched forward; caches that cannot fit the wasm heap are refused before anything runs.
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend, setWasmHeapLimit } from "../../src/backend.js";
import { buildModel } from "../../src/model/load.js";
import { parseLlavaConfig } from "../../src/model/config.js";
import { randomSource, tinyConfigJson } from "../../src/lab/random-model.js";
import type { LlavaModel } from "../../src/model/llava.js";
import { CausalSource } from "../../src/causal/source.js";
import { buildPlan } from "../../src/causal/presets.js";
import { branchesPerChunk, rowForwardBytes } from "../../src/causal/budget.js";
import { maxAbsDiff } from "../helpers/compare.js";

/** Like maxAbsDiff, but equal infinities (the plausibility cutoff's −∞) count as no difference. */
function scoreDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, a[i] === b[i] ? 0 : Math.abs(a[i] - b[i]));
  return a.length === b.length ? m : Infinity;
}

function run(src: CausalSource, tokens: number[]): Float32Array[][] {
  const out = [src.prefill()];
  for (const t of tokens) out.push(src.step(new Array(src.batchSize).fill(t)));
  src.dispose();
  return out;
}

for (const backend of ["cpu", "wasm"] as const) {
  describe(`counterfactual draws in chunks (${backend})`, () => {
    let m: LlavaModel;
    let px: tf.Tensor4D;
    const ids = [
      [1, 7, 9, 0, 30, 31, 32],
      [1, 8, 9, 0, 33, 34, 35],
    ];
    beforeAll(async () => {
      await initBackend(backend);
      const raw = tinyConfigJson({ imageSize: 28, visionLayers: 2, textLayers: 3, textHeads: 4, kvHeads: 2, seed: 4 });
      m = buildModel(parseLlavaConfig(raw), randomSource(raw, 4));
      px = tf.randomNormal([2, 3, 28, 28], 0, 1, "float32", 6) as tf.Tensor4D;
      for (const row of ids) row[3] = m.config.imageTokenIndex;
    });
    afterAll(() => {
      m.dispose();
      px.dispose();
    });

    test("chunked draws give the same scores and branch logits as one batched forward", () => {
      const plan = buildPlan({ cf: ["text:random@1-2", "vision:shuffle@0"], draws: 5, seed: 9 }, m.config);
      const seen = (n: number | undefined): { scores: Float32Array[][]; logits: Float32Array[][][] } => {
        const logits: Float32Array[][][] = [];
        const src = new CausalSource(m, {
          plan,
          prompts: { main: ids },
          pixels: px,
          branchesPerForward: n,
          onStep: (_s, bl) => logits.push(bl),
        });
        if (n !== undefined) expect(src.branchesPerForward).toBe(n);
        return { scores: run(src, [11, 12, 13]), logits };
      };
      const whole = seen(undefined);
      const tol = backend === "cpu" ? 0 : 1e-5;
      for (const n of [1, 2, 4]) {
        const parts = seen(n);
        parts.scores.forEach((rows, k) =>
          rows.forEach((r, b) => expect(scoreDiff(r, whole.scores[k][b]), `n=${n} step ${k} row ${b}`).toBeLessThanOrEqual(tol)),
        );
        parts.logits.forEach((br, k) =>
          br.forEach((rows, i) => rows.forEach((r, b) => expect(maxAbsDiff(r, whole.logits[k][i][b])).toBeLessThanOrEqual(tol))),
        );
      }
    });

    test("after a chunked prefill every decode step runs all branches of a prompt as one forward", () => {
      const plan = buildPlan({ cf: ["text:random@1-2", "vision:shuffle@0"], draws: 2, seed: 3 }, m.config);
      const src = new CausalSource(m, { plan, prompts: { main: ids }, pixels: px, branchesPerForward: 1 });
      const rowsPerCall: number[] = [];
      const decode = m.decode.bind(m);
      const spy = vi.spyOn(m, "decode").mockImplementation((x, o) => {
        rowsPerCall.push(x.shape[0]);
        return decode(x, o);
      });
      try {
        src.prefill();
        expect(Math.max(...rowsPerCall)).toBe(ids.length); // prefill: forwards of one branch (chunk) at a time
        rowsPerCall.length = 0;
        src.step([11, 12]);
        expect(rowsPerCall).toEqual([plan.branches.length * ids.length]); // the vision branches differ from layer 0: no shared trunk
      } finally {
        spy.mockRestore();
        src.dispose();
      }
    });

    test("300 draws of text:random@all run (in chunks under the activation budget)", () => {
      const plan = buildPlan({ cf: ["text:random@all"], draws: 300, seed: 1 }, m.config);
      const src = new CausalSource(m, { plan, prompts: { main: ids }, pixels: px, branchesPerForward: 64 });
      const out = run(src, [5]);
      expect(out[1].every((r) => r.some((v) => v > -Infinity))).toBe(true);
      expect(branchesPerChunk(m.config.text, 2, 7, 7)).toBeGreaterThan(300); // the tiny model would fit one forward
    });

    test("the default chunk keeps one forward's activations under 512 MiB at 7B sizes", () => {
      const seven = parseLlavaConfig({ model_type: "llava" }).text;
      const n = branchesPerChunk(seven, 1, 640, 640);
      expect(n).toBe(1);
      expect(rowForwardBytes(seven, 640, 640) * n).toBeLessThanOrEqual(512 * 1024 ** 2);
      expect(branchesPerChunk(seven, 1, 100, 100)).toBeGreaterThan(1);
    });

    if (backend === "wasm") {
      test("caches that cannot fit the heap are refused up front with the branch count", () => {
        const prev = setWasmHeapLimit(tf.memory().numBytes + 64 * 1024);
        try {
          const plan = buildPlan({ cf: ["text:random@all"], draws: 300, seed: 1 }, m.config);
          expect(() => new CausalSource(m, { plan, prompts: { main: ids }, pixels: px })).toThrow(
            /contrastive decoding with 301 branches .*--draws.* more than the wasm backend's/,
          );
        } finally {
          setWasmHeapLimit(prev);
        }
      });
    }
  });
}
