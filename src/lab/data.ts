// Training data for `causalmm train`: LLaVA-format conversations (train.jsonl) + their images, turned
// into token ids with the same prompt template every other tool uses, and cut into batches whose
// order is a pure function of (seed, step) — so a resumed run sees exactly the same batches.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { stream } from "../util/rng.js";
import { encodePrompt, type Tokenizer } from "../text/index.js";
import { loadImage, preprocess, type ProcessorConfig } from "../vision/index.js";
import { CLASSES } from "./world.js";

export interface EncodedSample {
  /** Index into TrainingData.pixels. */
  image: number;
  /** The whole conversation: prompt (with one `<image>` id), then each answer + EOS and next question. */
  ids: number[];
  /** 1 where `ids[j]` is an answer token (or its EOS): the tokens the loss is taken on. */
  trained: Uint8Array;
}

export interface TrainingData {
  samples: EncodedSample[];
  /** One CHW float32 array per image, already normalised. */
  pixels: Float32Array[];
  imageSize: number;
  /** Per image, 1 for each class (CLASSES order) it shows; from scenes_train.jsonl when present. */
  labels?: Float32Array[];
}

interface Conversation {
  image: string;
  conversations: { from: string; value: string }[];
}

/**
 * llava_v1 (SeparatorStyle.TWO) rendering of a conversation: the first turn exactly as encodePrompt
 * builds evaluation prompts, each answer closed by `</s>` (sep2), later turns as `USER: q ASSISTANT:`.
 */
export function encodeConversation(tok: Tokenizer, turns: { question: string; answer: string }[], image: number): EncodedSample {
  const ids: number[] = [];
  const trained: number[] = [];
  const push = (part: number[], train: boolean) => {
    ids.push(...part);
    trained.push(...part.map(() => (train ? 1 : 0)));
  };
  turns.forEach((t, i) => {
    push(i === 0 ? encodePrompt(tok, "llava_v1", t.question) : tok.encode(`USER: ${t.question} ASSISTANT:`, { addBos: false }), false);
    push([...tok.encode(t.answer, { addBos: false }), tok.eosId], true);
  });
  return { image, ids, trained: Uint8Array.from(trained) };
}

/** Reads `train.jsonl` and every image it names (each image decoded and preprocessed once). */
export async function loadTrainingData(dir: string, tok: Tokenizer, proc: ProcessorConfig, limit?: number): Promise<TrainingData> {
  const lines = readFileSync(join(dir, "train.jsonl"), "utf8").split("\n").filter(Boolean);
  const rows = lines.slice(0, limit ?? lines.length).map((l) => JSON.parse(l) as Conversation);
  const imageIndex = new Map<string, number>();
  const pixels: Float32Array[] = [];
  const samples: EncodedSample[] = [];
  for (const row of rows) {
    let idx = imageIndex.get(row.image);
    if (idx === undefined) {
      idx = pixels.length;
      imageIndex.set(row.image, idx);
      pixels.push(preprocess(await loadImage(join(dir, "images", row.image)), proc, "crop"));
    }
    const turns = [];
    for (let i = 0; i + 1 < row.conversations.length; i += 2) {
      turns.push({ question: row.conversations[i].value.replace(/^<image>\n/, ""), answer: row.conversations[i + 1].value });
    }
    samples.push(encodeConversation(tok, turns, idx));
  }
  return { samples, pixels, imageSize: proc.cropSize, labels: readLabels(dir, imageIndex) };
}

/** Multi-hot object labels per loaded image, for vision pretraining (absent file: undefined). */
function readLabels(dir: string, imageIndex: Map<string, number>): Float32Array[] | undefined {
  const path = join(dir, "scenes_train.jsonl");
  if (!existsSync(path)) return undefined;
  const labels = Array.from({ length: imageIndex.size }, () => new Float32Array(CLASSES.length));
  for (const line of readFileSync(path, "utf8").split("\n").filter(Boolean)) {
    const scene = JSON.parse(line) as { image: string; classes: string[] };
    const idx = imageIndex.get(scene.image);
    if (idx !== undefined) for (const c of scene.classes) labels[idx][CLASSES.indexOf(c as never)] = 1;
  }
  return labels;
}

/** The sample indices of batch `step`: epochs are seeded permutations, consumed in order. */
export function batchIndices(seed: number, step: number, batchSize: number, n: number): number[] {
  const out: number[] = [];
  let epoch = -1;
  let perm: Int32Array = new Int32Array(0);
  for (let i = 0; i < batchSize; i++) {
    const pos = step * batchSize + i;
    const e = Math.floor(pos / n);
    if (e !== epoch) {
      epoch = e;
      perm = stream(seed, "data-order", e).permutation(n);
    }
    out.push(perm[pos % n]);
  }
  return out;
}

export interface Batch {
  /** Rows padded with `pad` to one length. */
  ids: number[][];
  /** `[B,3,H,W]` values, row-major. */
  pixels: Float32Array;
  /** Per merged position (B·S): the next token to predict, or 0 where masked. */
  targets: Int32Array;
  /** 1 where the position's next token is an answer token. */
  mask: Float32Array;
  /** Merged sequence length S (text with the image expanded to `imageTokens` positions). */
  seqLen: number;
  /** Answer tokens in the batch (what the loss averages over). */
  answerTokens: number;
}

export function makeBatch(data: TrainingData, indices: number[], pad: number, imageTokens: number): Batch {
  const chosen = indices.map((i) => data.samples[i]);
  const S0 = Math.max(...chosen.map((s) => s.ids.length));
  const S = S0 - 1 + imageTokens;
  const B = chosen.length;
  const plane = data.pixels[0].length;
  const pixels = new Float32Array(B * plane);
  const targets = new Int32Array(B * S);
  const mask = new Float32Array(B * S);
  let answerTokens = 0;
  const ids = chosen.map((s, b) => {
    pixels.set(data.pixels[s.image], b * plane);
    // In merged coordinates the text after the image moves right by imageTokens − 1.
    const shift = imageTokens - 1;
    for (let j = 0; j < s.ids.length; j++) {
      if (!s.trained[j]) continue;
      const pos = j + shift - 1; // the position whose output predicts ids[j] (every answer follows the image)
      targets[b * S + pos] = s.ids[j];
      mask[b * S + pos] = 1;
      answerTokens++;
    }
    return [...s.ids, ...new Array<number>(S0 - s.ids.length).fill(pad)];
  });
  return { ids, pixels, targets, mask, seqLen: S, answerTokens };
}
