// The counterfactual rows' restricted lm_head (causal/scores.ts keptLogits): lm_head's rows of the kept
// tokens, gathered in their stored dtype (F16/BF16 host weights read in place, a resident lm_head from its
// token-major float32 copy), times every counterfactual row at once, equal the full lm_head's logits on
// those tokens, for every residency, on cpu and wasm.
import { beforeAll, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { describeFixtures } from "../helpers/fixtures.js";
import { initBackend } from "../../src/backend.js";
import { loadModel } from "../../src/model/load.js";
import { keptLogits } from "../../src/causal/scores.js";
import { f16ToF32, bf16ToF32 } from "../../src/weights/dtype.js";

for (const backend of ["cpu", "wasm"] as const) {
  describeFixtures(`restricted lm_head for counterfactual rows (${backend})`, (fixtures) => {
    beforeAll(async () => {
      await initBackend(backend);
    });

    for (const dtype of ["f16", "bf16"] as const)
      for (const policy of ["all", "stream", "native"] as const) {
        test(`${policy} residency, ${dtype} weights`, async () => {
          const model = await loadModel(join(fixtures, "llava-tiny-56", `model-${dtype}`), { residency: { policy } });
          try {
            const V = model.config.text.vocabSize;
            const D = model.config.text.hiddenSize;
            const tokens = Int32Array.from([0, 3, 17, 4096, 31999, V - 1]);
            const rowsOf = model.lmHeadRows(tokens); // a scratch buffer the next call overwrites: copied
            const head = { dtype: rowsOf.dtype, data: rowsOf.data.slice() };
            // host tables keep the file's 16-bit values; the resident table is float32 on the backend
            expect(head.dtype).toBe(policy === "all" ? "F32" : dtype.toUpperCase());
            expect(head.data.length).toBe(tokens.length * D);
            const normed = tf.randomNormal([4, D], 0, 1, "float32", 3) as tf.Tensor2D;
            const full = tf.tidy(() => model.headOf(normed).dataSync() as Float32Array); // [4,V]
            const before = tf.memory().numTensors;
            const rows = [3, 0, 2]; // any rows, any order
            const got = keptLogits(model, normed, rows, tokens);
            expect(tf.memory().numTensors).toBe(before);
            for (const r of rows) {
              const want = Array.from(tokens, (t) => full[r * V + t]);
              const have = Array.from(got.get(r)!);
              have.forEach((x, j) => expect(Math.abs(x - want[j]), `row ${r} token ${tokens[j]}`).toBeLessThan(1e-5));
            }
            // the gathered rows are lm_head's rows (widened exactly)
            const widened = new Float32Array(head.data.length);
            if (head.dtype === "F32") widened.set(head.data as Float32Array);
            else (head.dtype === "F16" ? f16ToF32 : bf16ToF32)(head.data as Uint16Array, widened);
            const e = tf.eye(D) as tf.Tensor2D; // identity rows: their logits are the weights themselves
            const eye = keptLogits(model, e, [0, D - 1], tokens);
            expect(Array.from(eye.get(0)!)).toEqual(Array.from(tokens, (_, j) => widened[j * D]));
            expect(Array.from(eye.get(D - 1)!)).toEqual(Array.from(tokens, (_, j) => widened[j * D + D - 1]));
            expect(keptLogits(model, normed, [1], new Int32Array(0)).get(1)!.length).toBe(0);
            tf.dispose([normed, e]);
          } finally {
            model.dispose();
          }
        });
      }
  });
}
