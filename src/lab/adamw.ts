// AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization"), as torch.optim.AdamW:
//   p ← p · (1 − lr·λ)                       (decay decoupled from the gradient statistics)
//   m ← β1·m + (1−β1)·g,   v ← β2·v + (1−β2)·g²
//   p ← p − lr · m̂ / (√v̂ + ε),   m̂ = m/(1−β1^t), v̂ = v/(1−β2^t)   (bias correction)
// plus global-norm gradient clipping, and the warmup + cosine learning-rate schedule.
import * as tf from "@tensorflow/tfjs-core";
import type { TrainParam } from "./variables.js";

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Clip the global gradient norm to this (0 = off). */
  clipNorm: number;
}

export const DEFAULT_ADAMW: AdamWOptions = { beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.05, clipNorm: 1 };

/** Linear warmup to `peak` over `warmup` steps, then cosine down to `peak·minRatio` at `total`. */
export function learningRate(step: number, total: number, peak: number, warmup: number, minRatio = 0.1): number {
  if (step < warmup) return (peak * (step + 1)) / warmup;
  const t = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return peak * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * t)));
}

export class AdamW {
  /** Number of updates applied so far (t of the bias correction). */
  t = 0;
  readonly m = new Map<string, tf.Tensor>();
  readonly v = new Map<string, tf.Tensor>();

  constructor(
    readonly params: TrainParam[],
    readonly opts: AdamWOptions = DEFAULT_ADAMW,
  ) {
    for (const p of params) {
      this.m.set(p.name, tf.zerosLike(p.variable));
      this.v.set(p.name, tf.zerosLike(p.variable));
    }
  }

  /** Applies one update; `grads` maps variable names (tf.variableGrads keys) to gradients. Returns the pre-clip norm. */
  step(grads: tf.NamedTensorMap, lr: number): number {
    const { beta1, beta2, eps, weightDecay, clipNorm } = this.opts;
    this.t++;
    const bc1 = 1 - Math.pow(beta1, this.t);
    const bc2 = 1 - Math.pow(beta2, this.t);
    // Parameters the loss does not reach (LLaVA never uses CLIP's last layer) have no gradient and,
    // as in torch, are skipped entirely (no decay, no moment update).
    const live = this.params.filter((p) => grads[p.variable.name]);
    const norm = tf.tidy(() => Math.sqrt(tf.addN(live.map((p) => tf.sum(tf.square(grads[p.variable.name])))).dataSync()[0]));
    const scale = clipNorm > 0 && norm > clipNorm ? clipNorm / norm : 1;
    for (const p of live) {
      const [m, v] = tf.tidy(() => {
        const g = tf.mul(grads[p.variable.name], scale);
        const m1 = tf.add(tf.mul(this.m.get(p.name)!, beta1), tf.mul(g, 1 - beta1));
        const v1 = tf.add(tf.mul(this.v.get(p.name)!, beta2), tf.mul(tf.square(g), 1 - beta2));
        const update = tf.div(tf.div(m1, bc1), tf.add(tf.sqrt(tf.div(v1, bc2)), eps));
        const decayed = p.decay ? tf.mul(p.variable, 1 - lr * weightDecay) : p.variable;
        p.variable.assign(tf.sub(decayed, tf.mul(update, lr)));
        return [m1, v1];
      });
      this.m.get(p.name)!.dispose();
      this.v.get(p.name)!.dispose();
      this.m.set(p.name, m);
      this.v.set(p.name, v);
    }
    return norm;
  }

  /** Replaces the moments (resuming from a checkpoint). */
  load(t: number, m: Map<string, Float32Array>, v: Map<string, Float32Array>): void {
    this.t = t;
    for (const p of this.params) {
      for (const [mine, src] of [
        [this.m, m],
        [this.v, v],
      ] as const) {
        const data = src.get(p.name);
        if (!data) throw new Error(`optimizer state has no moment for ${p.name}`);
        mine.get(p.name)!.dispose();
        mine.set(p.name, tf.tensor(data, p.variable.shape));
      }
    }
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}
