// Stage 0: vision pretraining. LLaVA starts from a pretrained CLIP; the lab's CLIP starts from random
// weights, and learning shapes only through the language model's answers is slow (in our runs the
// model learnt backgrounds and colours but not shapes in 900 steps). So, as CLIP is pretrained before
// LLaVA, the lab tower is first trained alone to say which objects an image holds: mean-pooled patch
// features of the layer LLaVA reads → a linear head → per-class sigmoid (multi-label BCE). The head
// is thrown away; only the tower's weights carry over into instruction tuning.
import * as tf from "@tensorflow/tfjs-core";
import { stream } from "../util/rng.js";
import type { LlavaModel } from "../model/llava.js";
import { AdamW, DEFAULT_ADAMW, learningRate } from "./adamw.js";
import type { TrainingData } from "./data.js";
import type { TrainParam } from "./variables.js";
import { withMatMulGradient } from "./fast-grads.js";

export interface PretrainOptions {
  steps: number;
  batchSize: number;
  lr: number;
  seed: number;
  onStep?: (step: number, loss: number) => void;
}

function headParams(dim: number, classes: number, seed: number): TrainParam[] {
  const rng = stream(seed, "pretrain-head");
  const w = Float32Array.from({ length: dim * classes }, () => rng.normal() / Math.sqrt(dim));
  return [
    {
      name: "head.weight",
      kind: "matrix",
      ckptShape: [dim, classes],
      variable: tf.variable(tf.tensor2d(w, [dim, classes]), true),
      decay: true,
    },
    { name: "head.bias", kind: "vec", ckptShape: [classes], variable: tf.variable(tf.zeros([classes]), true), decay: false },
  ];
}

/** Mean BCE of the multi-label object head. Call inside tf.variableGrads. */
function presenceLoss(model: LlavaModel, head: TrainParam[], pixels: Float32Array, labels: Float32Array, B: number): tf.Scalar {
  const size = model.config.vision.imageSize;
  const sel = model.encodeImages(tf.tensor4d(pixels, [B, 3, size, size])).selected; // [B,P+1,Dv]
  const pooled = tf.mean(sel.slice([0, 1, 0], [-1, -1, -1]), 1) as tf.Tensor2D; // [B,Dv] patches only
  const logits = tf.add(tf.matMul(pooled, head[0].variable as tf.Tensor2D), head[1].variable); // [B,C]
  const C = head[1].ckptShape[0];
  return tf.losses.sigmoidCrossEntropy(tf.tensor2d(labels, [B, C]), logits) as tf.Scalar;
}

/** Trains the vision-tower parameters among `params` to detect objects; returns the loss curve. */
export function pretrainVision(model: LlavaModel, params: TrainParam[], data: TrainingData, o: PretrainOptions): number[] {
  if (!data.labels) throw new Error("vision pretraining needs object labels (scenes_train.jsonl beside train.jsonl)");
  const labels = data.labels;
  const C = labels[0].length;
  const tower = params.filter((p) => p.name.startsWith("vision_tower."));
  const head = headParams(model.config.vision.hiddenSize, C, o.seed);
  const opt = new AdamW([...tower, ...head], DEFAULT_ADAMW);
  const plane = data.pixels[0].length;
  const losses: number[] = [];
  try {
    for (let step = 0; step < o.steps; step++) {
      const rng = stream(o.seed, "pretrain-batch", step);
      const idx = Array.from({ length: o.batchSize }, () => rng.int(data.pixels.length));
      const px = new Float32Array(o.batchSize * plane);
      const lab = new Float32Array(o.batchSize * C);
      idx.forEach((i, b) => {
        px.set(data.pixels[i], b * plane);
        lab.set(labels[i], b * C);
      });
      const vars = [...tower, ...head].map((p) => p.variable);
      const { value, grads } = withMatMulGradient(model.performance.matMulGradient, () =>
        tf.variableGrads(() => presenceLoss(model, head, px, lab, o.batchSize), vars),
      );
      const loss = value.dataSync()[0];
      opt.step(grads, learningRate(step, o.steps, o.lr, Math.min(20, o.steps)));
      value.dispose();
      tf.dispose(Object.values(grads));
      losses.push(loss);
      o.onStep?.(step, loss);
    }
  } finally {
    opt.dispose();
    for (const p of head) p.variable.dispose();
  }
  return losses;
}
