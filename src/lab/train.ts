// The training loop of `causalmm train`: AdamW on the lab model with a warmup + cosine schedule,
// checkpoints that resume exactly, and a loss log (loss.jsonl) beside them.
//
// Why a resumed run is identical to an uninterrupted one: the batch of step s is a function of
// (seed, s) only (data.ts), the learning rate a function of s, and a checkpoint stores the float32
// parameters, both Adam moments and the step — the whole state of the computation.
import * as tf from "@tensorflow/tfjs-core";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { makeDirs } from "../util/files.js";
import { join } from "node:path";
import { Checkpoint } from "../weights/checkpoint.js";
import { checkpointSource } from "../model/load.js";
import { parseLlavaConfig } from "../model/config.js";
import { AdamW, DEFAULT_ADAMW, learningRate } from "./adamw.js";
import { batchIndices, makeBatch, type TrainingData } from "./data.js";
import { readOptimizerState, writeModelDir, writeOptimizerState } from "./export.js";
import { withMatMulGradient } from "./fast-grads.js";
import type { PerformanceOptions } from "../model/performance.js";
import { batchLoss } from "./loss.js";
import { pretrainVision } from "./pretrain.js";
import { disposeParams, trainableModel, type TrainableModel } from "./variables.js";

export interface TrainOptions {
  out: string;
  seed: number;
  steps: number;
  batchSize: number;
  lr: number;
  warmup: number;
  weightDecay?: number;
  /** Save a checkpoint every this many steps (and at the end). */
  checkpointEvery: number;
  /** Stop after this step even if `steps` is larger (the schedule still spans `steps`). */
  stopAt?: number;
  /** Continue from the newest checkpoint when there is one. */
  resume?: boolean;
  /** Where checkpoints go (default `out/checkpoints`); elsewhere keeps a shipped model directory lean. */
  checkpointRoot?: string;
  configJson: Record<string, unknown>;
  /** Stage 0 (fresh runs only): train the vision tower alone to detect objects first (pretrain.ts). */
  visionPretrain?: { steps: number; batchSize: number; lr: number };
  onPretrainStep?: (step: number, loss: number) => void;
  onStep?: (r: StepRecord) => void;
  /** How the model computes while training (src/model/performance.ts), e.g. `{ attentionMatMul: "batched" }`. */
  performance?: Partial<PerformanceOptions>;
}

export interface StepRecord {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  /** Sequence positions processed (B × merged length). */
  tokens: number;
  ms: number;
}

export interface TrainResult {
  startStep: number;
  endStep: number;
  records: StepRecord[];
}

const stepDir = (root: string, step: number) => join(root, `step-${String(step).padStart(6, "0")}`);
const checkpointRoot = (o: TrainOptions) => o.checkpointRoot ?? join(o.out, "checkpoints");

export function latestCheckpoint(root: string): { dir: string; step: number } | null {
  if (!existsSync(root)) return null;
  const steps = readdirSync(root)
    .map((n) => /^step-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null && existsSync(join(root, m[0], "trainer_state.json")))
    .map((m) => Number(m[1]));
  if (!steps.length) return null;
  const step = Math.max(...steps);
  return { dir: stepDir(root, step), step };
}

function saveCheckpoint(o: TrainOptions, tm: TrainableModel, opt: AdamW, step: number): void {
  const dir = stepDir(checkpointRoot(o), step);
  writeModelDir(dir, o.configJson, tm.params);
  writeOptimizerState(dir, opt);
  // Written last: a checkpoint without trainer_state.json is incomplete and never resumed from.
  const state = {
    step,
    adamT: opt.t,
    seed: o.seed,
    steps: o.steps,
    batchSize: o.batchSize,
    lr: o.lr,
    warmup: o.warmup,
    dataOrder: "stream(seed, 'data-order', epoch).permutation(n)",
  };
  writeFileSync(join(dir, "trainer_state.json"), JSON.stringify(state, null, 2) + "\n");
}

/** Keeps the log lines of steps before `step` (a resumed run rewrites what follows). */
function truncateLog(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l && (JSON.parse(l) as StepRecord).step < step);
  writeFileSync(path, kept.map((l) => l + "\n").join(""));
}

function setup(o: TrainOptions): { tm: TrainableModel; opt: AdamW; start: number } {
  const cfg = parseLlavaConfig(o.configJson, "lab config");
  const opts = { ...DEFAULT_ADAMW, weightDecay: o.weightDecay ?? DEFAULT_ADAMW.weightDecay };
  const ck = o.resume ? latestCheckpoint(checkpointRoot(o)) : null;
  if (!ck) {
    const tm = trainableModel(cfg, o.seed, undefined, o.performance);
    return { tm, opt: new AdamW(tm.params, opts), start: 0 };
  }
  const src = Checkpoint.open(ck.dir);
  try {
    const tm = trainableModel(cfg, o.seed, checkpointSource(src), o.performance);
    const opt = new AdamW(tm.params, opts);
    const state = JSON.parse(readFileSync(join(ck.dir, "trainer_state.json"), "utf8")) as { adamT: number };
    readOptimizerState(ck.dir, opt, state.adamT);
    return { tm, opt, start: ck.step };
  } finally {
    src.close();
  }
}

/** One optimisation step; returns the loss before the update. */
function trainStep(tm: TrainableModel, opt: AdamW, data: TrainingData, o: TrainOptions, step: number): StepRecord {
  const t0 = performance.now();
  const cfg = tm.model.config;
  const batch = makeBatch(data, batchIndices(o.seed, step, o.batchSize, data.samples.length), cfg.padTokenId ?? 0, tm.model.numImageTokens);
  const lr = learningRate(step, o.steps, o.lr, o.warmup);
  const vars = tm.params.map((p) => p.variable);
  const { value, grads } = withMatMulGradient(tm.model.performance.matMulGradient, () =>
    tf.variableGrads(() => batchLoss(tm.model, batch), vars),
  );
  const loss = value.dataSync()[0];
  const gradNorm = opt.step(grads, lr);
  value.dispose();
  tf.dispose(Object.values(grads));
  return { step, loss, lr, gradNorm, tokens: batch.ids.length * batch.seqLen, ms: performance.now() - t0 };
}

export function train(data: TrainingData, o: TrainOptions): TrainResult {
  const { tm, opt, start } = setup(o);
  makeDirs(o.out, "the training output (loss.jsonl, checkpoints)");
  const logPath = join(o.out, "loss.jsonl");
  truncateLog(logPath, start);
  const end = Math.min(o.steps, o.stopAt ?? o.steps);
  const records: StepRecord[] = [];
  try {
    // Stage 0 runs before step 0 only; its result lives in every checkpoint, so resuming never repeats it.
    if (start === 0 && o.visionPretrain && o.visionPretrain.steps > 0) {
      const losses = pretrainVision(tm.model, tm.params, data, { ...o.visionPretrain, seed: o.seed, onStep: o.onPretrainStep });
      writeFileSync(join(o.out, "pretrain.jsonl"), losses.map((loss, step) => JSON.stringify({ step, loss }) + "\n").join(""));
    }
    for (let step = start; step < end; step++) {
      const r = trainStep(tm, opt, data, o, step);
      if (!Number.isFinite(r.loss)) throw new Error(`training diverged at step ${step} (loss ${r.loss})`);
      records.push(r);
      writeFileSync(logPath, JSON.stringify(r) + "\n", { flag: "a" });
      o.onStep?.(r);
      const done = step + 1;
      if (done % o.checkpointEvery === 0 || done === end) saveCheckpoint(o, tm, opt, done);
    }
    if (end === o.steps) writeModelDir(o.out, o.configJson, tm.params, "F32", { steps: String(o.steps), seed: String(o.seed) });
  } finally {
    opt.dispose();
    disposeParams(tm.params);
  }
  return { startStep: start, endStep: end, records };
}
