// A small greedy yes/no evaluation on POPE-format files (the project's full POPE runner lives
// elsewhere): one forward per question, the first generated token read as "yes", "no" or other.
import * as tf from "@tensorflow/tfjs-core";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { argmax } from "../util/argmax.js";
import type { LlavaModel } from "../model/llava.js";
import { encodePrompt, type Tokenizer } from "../text/index.js";
import { loadImage, preprocess, type ProcessorConfig } from "../vision/index.js";
import type { PopeQuestion } from "./pope.js";
import { concatFloat32 } from "../util/concat.js";

export interface PopeScore {
  questions: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  /** Fraction of questions answered "yes" (0.5 for an unbiased model on balanced files). */
  yesRatio: number;
  /** Answers that were neither yes nor no. */
  other: number;
}

export function readPopeFile(path: string, limit?: number): PopeQuestion[] {
  const rows = readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as PopeQuestion);
  return limit === undefined ? rows : rows.slice(0, limit);
}

/** POPE's metrics with "yes" as the positive class. */
export function popeScore(labels: ("yes" | "no")[], answers: string[]): PopeScore {
  let tp = 0,
    fp = 0,
    tn = 0,
    fn = 0,
    other = 0,
    yes = 0;
  labels.forEach((label, i) => {
    const a = answers[i];
    if (a === "yes") yes++;
    if (a !== "yes" && a !== "no") other++;
    if (label === "yes" && a === "yes") tp++;
    else if (label === "yes") fn++;
    else if (a === "yes") fp++;
    else tn++;
  });
  const precision = tp + fp ? tp / (tp + fp) : 0;
  const recall = tp + fn ? tp / (tp + fn) : 0;
  const n = labels.length;
  return {
    questions: n,
    accuracy: n ? (tp + tn) / n : 0,
    precision,
    recall,
    f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0,
    yesRatio: n ? yes / n : 0,
    other,
  };
}

/** "yes" / "no" / the raw token for the greedy first answer token. */
function firstWord(tok: Tokenizer, id: number): string {
  const t = (tok.idToToken(id) ?? "").toLowerCase();
  return t === "yes" || t === "no" ? t : t || `<${id}>`;
}

/** Greedy first-token answers for POPE questions, batched by prompt length. */
export async function answerPope(
  model: LlavaModel,
  tok: Tokenizer,
  proc: ProcessorConfig,
  imageDir: string,
  qs: PopeQuestion[],
  batchSize = 32,
): Promise<string[]> {
  const answers: string[] = new Array(qs.length);
  const prompts = qs.map((q) => encodePrompt(tok, "llava_v1", q.text));
  const pixelsOf = new Map<string, Float32Array>();
  for (const q of qs) if (!pixelsOf.has(q.image)) pixelsOf.set(q.image, preprocess(await loadImage(join(imageDir, q.image)), proc, "crop"));
  const byLength = new Map<number, number[]>();
  prompts.forEach((p, i) => byLength.set(p.length, [...(byLength.get(p.length) ?? []), i]));
  const size = proc.cropSize;
  for (const group of byLength.values()) {
    for (let s = 0; s < group.length; s += batchSize) {
      const idx = group.slice(s, s + batchSize);
      const logits = tf.tidy(() => {
        const pixels = tf.tensor4d(concatFloat32(idx.map((i) => pixelsOf.get(qs[i].image)!)), [idx.length, 3, size, size]);
        const feats = model.encodeImages(pixels).features;
        return model.decode(
          model.embed(
            idx.map((i) => prompts[i]),
            feats,
          ),
          { logits: "last" },
        ).logits!;
      });
      const data = logits.dataSync();
      logits.dispose();
      const V = model.config.text.vocabSize;
      idx.forEach((qi, b) => (answers[qi] = firstWord(tok, argmax(data.subarray(b * V, (b + 1) * V)))));
    }
  }
  return answers;
}

/** Scores one POPE file of a lab dataset directory (`pope/lab_pope_<split>.jsonl`). */
export async function evaluateSplit(
  model: LlavaModel,
  tok: Tokenizer,
  proc: ProcessorConfig,
  dataDir: string,
  split: string,
  limit?: number,
): Promise<PopeScore> {
  const qs = readPopeFile(join(dataDir, "pope", `lab_pope_${split}.jsonl`), limit);
  const answers = await answerPope(model, tok, proc, join(dataDir, "images"), qs);
  return popeScore(
    qs.map((q) => q.label),
    answers,
  );
}
