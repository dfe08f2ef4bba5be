// Training on a micro LLaVA: the loss falls, a resumed run repeats the uninterrupted loss curve
// exactly, autograd gradients match finite differences, and AdamW / the schedule follow their formulas.
import * as tf from "@tensorflow/tfjs-core";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../src/backend.js";
import { parseLlavaConfig } from "../../src/model/config.js";
import { loadModel } from "../../src/model/load.js";
import { Tokenizer } from "../../src/text/index.js";
import { defaultProcessorConfig } from "../../src/vision/index.js";
import { AdamW, learningRate } from "../../src/lab/adamw.js";
import { batchIndices, loadTrainingData, makeBatch, type TrainingData } from "../../src/lab/data.js";
import { labConfigJson } from "../../src/lab/export.js";
import { batchLoss } from "../../src/lab/loss.js";
import { makeLab } from "../../src/lab/make.js";
import { train, type TrainOptions } from "../../src/lab/train.js";
import { disposeParams, trainableModel } from "../../src/lab/variables.js";
import { labTokenizerJson } from "../../src/lab/vocab.js";
import { withMatMulGradient } from "../../src/lab/fast-grads.js";
import { pretrainVision } from "../../src/lab/pretrain.js";

const MICRO = labConfigJson({
  imageSize: 28,
  patchSize: 14,
  visionHidden: 16,
  visionLayers: 2,
  visionHeads: 2,
  textHidden: 16,
  textLayers: 1,
  textHeads: 2,
  kvHeads: 2,
});
const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));
let data: TrainingData;

beforeAll(async () => {
  await initBackend("cpu");
  const dir = tmp("labdata-");
  await makeLab({ out: dir, seed: 1, train: 12, test: 2, questionsPerImage: 2, imageSize: 28 });
  const tok = Tokenizer.fromJson(labTokenizerJson(), { bos_token: "<s>", eos_token: "</s>", pad_token: "<pad>" });
  data = await loadTrainingData(dir, tok, defaultProcessorConfig(28));
});

const opts = (out: string, extra: Partial<TrainOptions> = {}): TrainOptions => ({
  out,
  seed: 3,
  steps: 6,
  batchSize: 4,
  lr: 1e-2,
  warmup: 2,
  checkpointEvery: 3,
  configJson: MICRO,
  ...extra,
});

describe("lab training", () => {
  it("reduces the loss in a few steps and writes a loadable model directory", async () => {
    const out = tmp("labtrain-");
    const res = train(data, opts(out, { steps: 12, checkpointEvery: 100 }));
    const losses = res.records.map((r) => r.loss);
    const tail = losses.slice(-3).reduce((a, b) => a + b) / 3;
    expect(tail).toBeLessThan(losses[0] * 0.8);
    const model = await loadModel(out, { backend: "cpu" });
    expect(model.config.text.vocabSize).toBe((MICRO.text_config as { vocab_size: number }).vocab_size);
    model.dispose();
  });

  it("resumes from a checkpoint with exactly the loss curve of an uninterrupted run", () => {
    const full = train(data, opts(tmp("labfull-")));
    const out = tmp("labresume-");
    const first = train(data, opts(out, { stopAt: 3, resume: true }));
    const second = train(data, opts(out, { resume: true }));
    expect(first.endStep).toBe(3);
    expect(second.startStep).toBe(3);
    expect([...first.records, ...second.records].map((r) => r.loss)).toEqual(full.records.map((r) => r.loss));
    const logged = readFileSync(join(out, "loss.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).loss);
    expect(logged).toEqual(full.records.map((r) => r.loss));
  });

  it("stage 0 lowers the object-detection loss and changes only the vision tower", () => {
    const tm = trainableModel(parseLlavaConfig(MICRO), 2);
    const before = new Map(tm.params.map((p) => [p.name, p.variable.dataSync().slice()]));
    const losses = pretrainVision(tm.model, tm.params, data, { steps: 30, batchSize: 8, lr: 1e-2, seed: 0 });
    expect(losses.slice(-5).reduce((a, b) => a + b) / 5).toBeLessThan(losses[0]);
    for (const p of tm.params) {
      const same = p.variable.dataSync().every((v, i) => v === before.get(p.name)![i]);
      // LLaVA reads CLIP's second-to-last layer, so the last one (layer 1 here) gets no gradient.
      const trained = p.name.startsWith("vision_tower.") && !p.name.includes("encoder.layers.1.");
      expect(same).toBe(!trained);
    }
    disposeParams(tm.params);
  });

  it("draws batches as a seeded permutation per epoch", () => {
    const n = 10;
    const epoch = [0, 1, 2, 3, 4].flatMap((s) => batchIndices(9, s, 2, n));
    expect([...epoch].sort((a, b) => a - b)).toEqual([...Array(n).keys()]);
    expect(batchIndices(9, 2, 2, n)).toEqual(batchIndices(9, 2, 2, n));
  });

  it("has autograd gradients that match central finite differences", () => {
    const tm = trainableModel(parseLlavaConfig(MICRO), 5);
    const batch = makeBatch(data, [0, 1], tm.model.config.padTokenId!, tm.model.numImageTokens);
    const loss = () => tf.tidy(() => batchLoss(tm.model, batch).dataSync()[0]);
    // the lab's BatchMatMul gradient, as training runs it (performance.matMulGradient)
    const vars = tm.params.map((p) => p.variable);
    const { value, grads } = withMatMulGradient("explicit-transpose", () => tf.variableGrads(() => batchLoss(tm.model, batch), vars));
    value.dispose();
    const names = [
      "language_model.lm_head.weight",
      "language_model.model.embed_tokens.weight",
      "multi_modal_projector.linear_1.weight",
      "vision_tower.vision_model.embeddings.patch_embedding.weight",
      "language_model.model.layers.0.self_attn.q_proj.weight",
    ];
    for (const name of names) {
      const p = tm.params.find((q) => q.name === name)!;
      const g = grads[p.variable.name].dataSync();
      let k = 0;
      for (let i = 1; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[k])) k = i;
      const base = p.variable.dataSync();
      const at = (delta: number) => {
        const v = Float32Array.from(base);
        v[k] += delta;
        p.variable.assign(tf.tensor(v, p.variable.shape));
        return loss();
      };
      const eps = 1e-2;
      const numeric = (at(eps) - at(-eps)) / (2 * eps);
      p.variable.assign(tf.tensor(base, p.variable.shape));
      expect(Math.abs(numeric - g[k]) / Math.abs(g[k])).toBeLessThan(0.05);
    }
    tf.dispose(Object.values(grads));
    disposeParams(tm.params);
  });
});

describe("AdamW and the schedule", () => {
  it("applies bias-corrected moments and decoupled weight decay", () => {
    const variable = tf.variable(tf.tensor1d([1, -2]), true, "adamw-test");
    const param = { name: "w", kind: "linear" as const, ckptShape: [2], variable, decay: true };
    const opt = new AdamW([param], { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, clipNorm: 0 });
    const lr = 0.01;
    const g = [0.5, -0.25];
    for (let t = 1; t <= 2; t++) opt.step({ "adamw-test": tf.tensor1d(g) }, lr);
    // Two identical gradients: m̂ = g, v̂ = g², so each step moves by lr·sign(g), after decay.
    const expected = [1, -2].map((w, i) => {
      for (let t = 0; t < 2; t++) w = w * (1 - lr * 0.1) - lr * (g[i] / (Math.abs(g[i]) + 1e-8));
      return w;
    });
    const got = Array.from(variable.dataSync());
    got.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
    opt.dispose();
    variable.dispose();
  });

  it("warms up linearly, then decays along a cosine to the floor", () => {
    expect(learningRate(0, 100, 1, 10)).toBeCloseTo(0.1);
    expect(learningRate(9, 100, 1, 10)).toBeCloseTo(1);
    expect(learningRate(55, 100, 1, 10, 0.1)).toBeCloseTo(0.55);
    expect(learningRate(100, 100, 1, 10, 0.1)).toBeCloseTo(0.1);
  });
});
