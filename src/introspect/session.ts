// A question about a picture, answered with an AttentionRecorder plugged into every attention, and
// everything needed to interpret the records afterwards: which key positions are the system prompt,
// the image patches, the question and the answer; the token texts; the picture as the model saw it.
import * as tf from "@tensorflow/tfjs-core";
import type { Llava } from "../api.js";
import type { LlavaModel } from "../model/llava.js";
import type { AttentionHook } from "../model/hooks.js";
import { KVCache } from "../model/kv-cache.js";
import type { LogitsSource } from "../generate/source.js";
import { logitsRows } from "../generate/source.js";
import { generate } from "../generate/generate.js";
import { encodePrompt, type TemplateName } from "../text/index.js";
import type { Tokenizer } from "../text/tokenizer.js";
import { loadImage, preprocessWithShape, type PreprocessMode, type ProcessorConfig, type RgbImage } from "../vision/index.js";
import { AttentionRecorder, type AttentionRecord, type RecorderOptions } from "./recorder.js";
import { DEFAULTS } from "../defaults.js";

export type SegmentName = "system" | "image" | "text" | "answer";

/** Key positions [start, end) of one part of the sequence. */
export interface Segment {
  name: SegmentName;
  start: number;
  end: number;
}

export interface RecordingMeta {
  format: "causalmm-attention-record/1";
  model: string;
  question: string;
  template: TemplateName;
  suffix: string;
  mode: PreprocessMode;
  promptIds: number[];
  /** One label per key position of the expanded prompt (image positions are `<patch r,c>`). */
  positionLabels: string[];
  /**
   * system = BOS + system prompt + "USER:" (everything before the image), image = the patch features,
   * text = the question + " ASSISTANT:", answer = generated tokens fed back (decode steps only).
   */
  segments: Segment[];
  /** Image patches form a grid × grid square in row-major order. */
  grid: number;
  answer: { ids: number[]; tokens: string[]; text: string };
  dims: { visionLayers: number; visionHeads: number; textLayers: number; textHeads: number };
  selection: RecorderOptions;
  /** Interventions applied while recording (records are post-intervention); empty = factual. */
  interventions: string[];
  /** Per step: the top-k next-token probabilities of the recorded run. */
  topk?: { id: number; token: string; p: number }[][];
}

export interface Recording {
  meta: RecordingMeta;
  records: AttentionRecord[];
  /** The picture exactly as CLIP saw it (after resize/crop or pad), so patches line up with pixels. */
  image: RgbImage;
}

export interface PreparedPrompt {
  ids: number[];
  pixels: tf.Tensor4D;
  image: RgbImage;
}

/** Prompt ids + normalised pixels `[1,3,H,W]` (caller disposes) + the model-view picture. */
export async function preparePrompt(
  llava: Llava,
  image: string | RgbImage,
  question: string,
  o: { template?: TemplateName; suffix?: string; mode?: PreprocessMode } = {},
): Promise<PreparedPrompt> {
  const img = typeof image === "string" ? await loadImage(image) : image;
  const pre = preprocessWithShape(img, llava.processor, o.mode ?? DEFAULTS.mode);
  const ids = encodePrompt(llava.tokenizer, o.template ?? DEFAULTS.template, question, { suffix: o.suffix ?? "", image: true });
  return {
    ids,
    pixels: tf.tensor4d(pre.data, [1, 3, pre.height, pre.width]),
    image: modelView(pre.data, pre.width, pre.height, llava.processor),
  };
}

/** Un-normalises CLIP pixels `[3,H,W]` back to 8-bit RGB. */
export function modelView(data: Float32Array, width: number, height: number, p: ProcessorConfig): RgbImage {
  const out = new Uint8Array(width * height * 3);
  const plane = width * height;
  for (let c = 0; c < 3; c++) {
    const [m, s] = p.doNormalize ? [p.mean[c], p.std[c]] : [0, 1];
    const scale = p.doRescale ? 1 / p.rescaleFactor : 1;
    for (let i = 0; i < plane; i++) out[i * 3 + c] = Math.max(0, Math.min(255, Math.round((data[c * plane + i] * s + m) * scale)));
  }
  return { width, height, data: out };
}

/** Segments of a prompt with one `<image>` token (a run of 1 or n), plus `answer` generated tokens. */
export function promptSegments(ids: number[], imageToken: number, n: number, answer: number): Segment[] {
  const at = ids.indexOf(imageToken);
  if (at < 0) throw new Error("the prompt has no image token");
  let run = 0;
  while (ids[at + run] === imageToken) run++;
  const expanded = ids.length - run + n;
  const segs: Segment[] = [
    { name: "system", start: 0, end: at },
    { name: "image", start: at, end: at + n },
    { name: "text", start: at + n, end: expanded },
  ];
  if (answer > 0) segs.push({ name: "answer", start: expanded, end: expanded + answer });
  return segs;
}

/** A token as readable text: SentencePiece's "▁" as a space, byte tokens as is. */
export function tokenText(tok: Tokenizer, id: number): string {
  return (tok.idToToken(id) ?? `<${id}>`).replace(/▁/g, " ");
}

/** LLaVA on one prompt with a hook and a tap on every attention; one KV cache. */
export class RecordingSource implements LogitsSource {
  readonly vocabSize: number;
  readonly batchSize: number;
  private cache: KVCache;

  constructor(
    private model: LlavaModel,
    private prompt: number[][],
    private pixels: tf.Tensor4D | null,
    private recorder: AttentionRecorder,
    private hook?: AttentionHook,
  ) {
    this.vocabSize = model.config.text.vocabSize;
    this.batchSize = prompt.length;
    this.cache = new KVCache(model.config.text.numLayers);
  }

  prefill(): Float32Array[] {
    const hook = this.recorder.after(this.hook);
    const tap = this.recorder.tap;
    const logits = tf.tidy(() => {
      const features = this.pixels ? this.model.encodeImages(this.pixels, { hook, tap }).features : undefined;
      return this.model.decode(this.model.embed(this.prompt, features), { cache: this.cache, hook, tap, logits: "last" }).logits!;
    });
    return this.rows(logits);
  }

  step(tokens: number[]): Float32Array[] {
    const hook = this.recorder.after(this.hook);
    const logits = tf.tidy(
      () => this.model.decode(this.model.embedStep(tokens), { cache: this.cache, hook, tap: this.recorder.tap, logits: "last" }).logits!,
    );
    return this.rows(logits);
  }

  dispose(): void {
    this.cache.dispose();
  }

  private rows(logits: tf.Tensor): Float32Array[] {
    try {
      return logitsRows(logits, this.batchSize);
    } finally {
      logits.dispose();
    }
  }
}

/** A question about an image, how it is prompted, and what to record. */
export interface PromptRequest {
  image: string | RgbImage;
  question: string;
  template?: TemplateName;
  suffix?: string;
  mode?: PreprocessMode;
  maxNewTokens?: number;
  select: RecorderOptions;
  /** Keep the top-k next-token probabilities per step. */
  topk?: number;
}

export interface RecordRequest extends PromptRequest {
  /** Teacher-force these answer tokens instead of generating greedily. */
  forced?: number[];
  /** Interventions applied while recording (records are taken after them), with their spec strings. */
  hook?: AttentionHook;
  interventions?: string[];
}

/** Greedy answer (or the forced tokens) with attention recorded as `req.select` asks. */
export async function recordAnswer(llava: Llava, req: RecordRequest): Promise<Recording> {
  const prep = await preparePrompt(llava, req.image, req.question, req);
  const recorder = new AttentionRecorder(req.select);
  const source = new RecordingSource(llava.model, [prep.ids], prep.pixels, recorder, req.hook);
  const topk: RecordingMeta["topk"] = [];
  const keep = (scores: Float32Array) => req.topk && topk.push(topK(scores, req.topk, llava.tokenizer));
  let ids: number[];
  try {
    ids = req.forced ? forceTokens(source, req.forced, keep) : generateTokens(llava, source, req.maxNewTokens ?? 32, keep);
  } finally {
    source.dispose();
    prep.pixels.dispose();
  }
  const meta = describe(llava, prep.ids, ids, req, recorder);
  if (req.topk) meta.topk = topk;
  return { meta, records: recorder.records, image: prep.image };
}

function forceTokens(source: RecordingSource, tokens: number[], keep: (s: Float32Array) => void): number[] {
  if (tokens.length === 0) return [];
  keep(source.prefill()[0]);
  for (let i = 0; i + 1 < tokens.length; i++) keep(source.step([tokens[i]])[0]);
  return [...tokens];
}

function generateTokens(llava: Llava, source: LogitsSource, maxNew: number, keep: (s: Float32Array) => void): number[] {
  const watched: LogitsSource = {
    vocabSize: source.vocabSize,
    batchSize: source.batchSize,
    prefill: () => tap(source.prefill(), keep),
    step: (t) => tap(source.step(t), keep),
    dispose: () => source.dispose(),
  };
  return generate(watched, { maxNewTokens: maxNew, eosTokenIds: llava.generation.eosTokenIds }).tokens[0];
}

function tap(rows: Float32Array[], keep: (s: Float32Array) => void): Float32Array[] {
  keep(rows[0]);
  return rows;
}

/** The k most likely tokens with softmax probabilities. */
export function topK(logits: Float32Array, k: number, tok: Tokenizer): { id: number; token: string; p: number }[] {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  // tokens removed by a plausibility cut (−∞) are not candidates: leave them out of the table
  const idx = Array.from({ length: logits.length }, (_, i) => i)
    .filter((i) => logits[i] > -Infinity)
    .sort((a, b) => logits[b] - logits[a])
    .slice(0, k);
  return idx.map((id) => ({ id, token: tokenText(tok, id), p: Math.exp(logits[id] - max) / sum }));
}

function describe(llava: Llava, promptIds: number[], answer: number[], req: RecordRequest, recorder: AttentionRecorder): RecordingMeta {
  const cfg = llava.model.config;
  const n = llava.model.numImageTokens;
  const segments = promptSegments(promptIds, cfg.imageTokenIndex, n, answer.length);
  const grid = Math.round(Math.sqrt(n));
  const labels: string[] = [];
  for (const id of promptIds) {
    if (id !== cfg.imageTokenIndex) labels.push(tokenText(llava.tokenizer, id));
    else if (labels.length === segments[1].start) for (let j = 0; j < n; j++) labels.push(`<patch ${Math.floor(j / grid)},${j % grid}>`);
  }
  const tokens = answer.map((id) => tokenText(llava.tokenizer, id));
  if (recorder.prefillLength !== null && recorder.prefillLength !== labels.length)
    throw new Error(`recorder saw a prompt of ${recorder.prefillLength} positions, expected ${labels.length}`);
  return {
    format: "causalmm-attention-record/1",
    model: llava.dir,
    question: req.question,
    template: req.template ?? DEFAULTS.template,
    suffix: req.suffix ?? "",
    mode: req.mode ?? DEFAULTS.mode,
    promptIds,
    positionLabels: labels,
    segments,
    grid,
    answer: { ids: answer, tokens, text: llava.tokenizer.decode(answer, { skipSpecialTokens: true }) },
    dims: {
      visionLayers: cfg.vision.numLayers,
      visionHeads: cfg.vision.numHeads,
      textLayers: cfg.text.numLayers,
      textHeads: cfg.text.numHeads,
    },
    selection: req.select,
    interventions: req.interventions ?? [],
  };
}
