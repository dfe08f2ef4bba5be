// `causalmm train`: trains the tiny lab LLaVA on a `causalmm lab make` dataset and writes a llava-hf
// model directory (plus checkpoints/ and loss.jsonl) that every other command loads unchanged.
import * as tf from "@tensorflow/tfjs-core";
import type { ParsedArgs } from "../args.js";
import { defineCommand, need, numOpt, str } from "../args.js";
import { ProgressBar } from "../progress.js";
import { initBackend } from "../../backend.js";
import { loadTrainingData } from "../../lab/data.js";
import { LAB_MODEL, labConfigJson } from "../../lab/export.js";
import { train, type StepRecord } from "../../lab/train.js";
import { labTokenizerJson } from "../../lab/vocab.js";
import { Tokenizer } from "../../text/index.js";
import { defaultProcessorConfig } from "../../vision/index.js";

function reporter(total: number, every: number): (r: StepRecord) => void {
  const bar = new ProgressBar("training");
  // Rates from the steps' own timings, so stage-0 pretraining and resuming do not skew them.
  let tokens = 0;
  let ms = 0;
  let n = 0;
  return (r) => {
    tokens += r.tokens;
    ms += r.ms;
    n++;
    const rate = (tokens / ms) * 1000;
    const eta = ((total - r.step - 1) * ms) / n / 1000;
    bar.update(r.step + 1, total, `step ${r.step + 1}/${total} loss ${r.loss.toFixed(3)} ${rate.toFixed(0)} tok/s`);
    // Plain lines too, so logs of non-interactive runs show progress.
    if (!process.stderr.isTTY && ((r.step + 1) % every === 0 || r.step + 1 === total)) {
      process.stderr.write(
        `step ${r.step + 1}/${total} loss ${r.loss.toFixed(4)} lr ${r.lr.toExponential(2)} ` +
          `|g| ${r.gradNorm.toFixed(2)} ${rate.toFixed(0)} tok/s eta ${eta.toFixed(0)}s\n`,
      );
    }
  };
}

async function run(args: ParsedArgs): Promise<void> {
  const dataDir = need(args, "data", "train");
  const out = need(args, "out", "train");
  const steps = numOpt(args, "steps") ?? 700;
  const warmup = numOpt(args, "warmup") ?? 40;
  if (warmup >= steps)
    throw new Error(`train: --warmup (${warmup}) must be less than --steps (${steps}); the cosine decay would never start`);
  const info = await initBackend(str(args, "backend") ?? "wasm");
  const spec = {
    ...LAB_MODEL,
    textHidden: numOpt(args, "text-hidden") ?? LAB_MODEL.textHidden,
    textLayers: numOpt(args, "text-layers") ?? LAB_MODEL.textLayers,
    visionHidden: numOpt(args, "vision-hidden") ?? LAB_MODEL.visionHidden,
    visionLayers: numOpt(args, "vision-layers") ?? LAB_MODEL.visionLayers,
  };
  const configJson = labConfigJson(spec);
  const tok = Tokenizer.fromJson(labTokenizerJson(), { bos_token: "<s>", eos_token: "</s>", pad_token: "<pad>", image_token: "<image>" });
  const data = await loadTrainingData(dataDir, tok, defaultProcessorConfig(spec.imageSize ?? 56), numOpt(args, "limit"));
  process.stderr.write(`backend ${info.name}; ${data.samples.length} conversations, ${data.pixels.length} images; ${steps} steps\n`);
  const t0 = Date.now();
  const res = train(data, {
    out,
    seed: numOpt(args, "seed") ?? 0,
    steps,
    batchSize: numOpt(args, "batch") ?? 16,
    lr: numOpt(args, "lr") ?? 2e-3,
    warmup,
    weightDecay: numOpt(args, "weight-decay"),
    checkpointEvery: numOpt(args, "checkpoint-every") ?? 100,
    stopAt: numOpt(args, "stop-at"),
    resume: args.opts.resume !== false,
    configJson,
    checkpointRoot: str(args, "checkpoints"),
    // One batched matMul per attention product trains faster than the per-head loop used for inference.
    performance: { attentionMatMul: "batched" },
    visionPretrain: {
      steps: numOpt(args, "vision-pretrain-steps") ?? 600,
      batchSize: numOpt(args, "vision-pretrain-batch") ?? 64,
      lr: numOpt(args, "vision-pretrain-lr") ?? 3e-3,
    },
    onPretrainStep: (s, loss) => {
      if ((s + 1) % 50 === 0) process.stderr.write(`vision pretraining step ${s + 1}: object BCE ${loss.toFixed(4)}\n`);
    },
    onStep: reporter(steps, numOpt(args, "log-every") ?? 10),
  });
  const last = res.records[res.records.length - 1];
  const tokens = res.records.reduce((a, r) => a + r.tokens, 0);
  const secs = (Date.now() - t0) / 1000;
  process.stdout.write(
    JSON.stringify({
      out,
      backend: tf.getBackend(),
      steps: [res.startStep, res.endStep],
      seconds: Math.round(secs),
      tokensPerSecond: Math.round(tokens / secs),
      finalLoss: last?.loss,
    }) + "\n",
  );
}

export const trainCommand = defineCommand({
  name: "train",
  summary: "train the tiny lab LLaVA on a 'lab make' dataset (AdamW, resumable checkpoints)",
  usage: "causalmm train --data DIR --out DIR [--seed S --steps N --batch B --lr LR] [--backend wasm|cpu]",
  options: [
    { name: "data", type: "string", help: "dataset directory written by 'causalmm lab make'" },
    { name: "out", type: "string", help: "model directory to write (checkpoints/ and loss.jsonl go inside)" },
    { name: "seed", type: "number", integer: true, help: "initialisation and data-order seed", default: 0 },
    { name: "steps", type: "number", integer: true, min: 1, help: "optimisation steps", default: 700 },
    { name: "batch", type: "number", integer: true, min: 1, help: "conversations per step", default: 16 },
    { name: "lr", type: "number", min: 0, exclusiveMin: true, help: "peak learning rate", default: 0.002 },
    { name: "warmup", type: "number", integer: true, min: 0, help: "linear warmup steps before the cosine decay", default: 40 },
    { name: "weight-decay", type: "number", min: 0, help: "AdamW decoupled weight decay", default: 0.05 },
    { name: "checkpoint-every", type: "number", integer: true, min: 1, help: "steps between checkpoints", default: 100 },
    { name: "stop-at", type: "number", integer: true, min: 1, help: "stop after this step (the schedule still spans --steps)" },
    { name: "checkpoints", type: "string", help: "checkpoint directory (default: OUT/checkpoints)" },
    { name: "resume", type: "boolean", help: "continue from the newest checkpoint (--resume=false to restart)", default: true },
    { name: "limit", type: "number", integer: true, min: 1, help: "use only the first N conversations" },
    { name: "text-hidden", type: "number", integer: true, min: 1, help: "LLaMA hidden size", default: LAB_MODEL.textHidden },
    { name: "text-layers", type: "number", integer: true, min: 1, help: "LLaMA layers", default: LAB_MODEL.textLayers },
    { name: "vision-hidden", type: "number", integer: true, min: 1, help: "CLIP hidden size", default: LAB_MODEL.visionHidden },
    {
      name: "vision-layers",
      type: "number",
      integer: true,
      min: 2,
      help: "CLIP layers (LLaVA reads the second-to-last)",
      default: LAB_MODEL.visionLayers,
    },
    {
      name: "vision-pretrain-steps",
      type: "number",
      integer: true,
      min: 0,
      help: "stage 0: steps of object-detection pretraining of the vision tower (fresh runs)",
      default: 600,
    },
    { name: "vision-pretrain-batch", type: "number", integer: true, min: 1, help: "stage 0: images per step", default: 64 },
    { name: "vision-pretrain-lr", type: "number", min: 0, exclusiveMin: true, help: "stage 0: peak learning rate", default: 0.003 },
    {
      name: "log-every",
      type: "number",
      integer: true,
      min: 1,
      help: "steps between log lines when stderr is not a terminal",
      default: 10,
    },
  ],
  run,
});
