// Causal-effect sweeps (the paper's layer ablation as a tool): for each question, each module
// (vision / text), each layer group and each counterfactual type, the effect of replacing that
// attention on the next-token distribution at the answer position (KL, Δ yes/no log-odds, flips).
//
// Cost: per question one factual forward; the text interventions run as rows of batched forwards
// (sorted by first intervened layer, layers below it computed once per batch and tiled); the vision
// interventions share CLIP's early layers the same way and their LLM forwards are batched too.
// Each image's factual features are computed once for all of its questions.
import * as tf from "@tensorflow/tfjs-core";
import type { Llava } from "../api.js";
import type { AttentionHook, ModuleName } from "../model/hooks.js";
import { makeInterventionHook, type CfType, type Intervention } from "../causal/counterfactual.js";
import { rowBlockHook } from "../causal/row-blocks.js";
import { tileRows } from "../causal/images.js";
import { firstLayer } from "../causal/plan.js";
import { selectedHiddenIndex } from "../model/config.js";
import { encodePrompt, type TemplateName } from "../text/index.js";
import { loadImage, preprocessWithShape, type PreprocessMode } from "../vision/index.js";
import { logSoftmax, meanEffect, rowEffect, yesNoIds, yesNoLogOdds, type RowEffect, type YesNoIds } from "./sweep-stats.js";
import { runningVisionLayers } from "./layers.js";
import { argmax } from "../util/argmax.js";

export const SWEEP_TYPES: readonly CfType[] = ["uniform", "reversed", "random", "shuffle"];

export interface SweepQuestion {
  id: string | number;
  image: string;
  text: string;
  label?: string;
}

export interface SweepSettings {
  modules: ModuleName[];
  types: CfType[];
  /** Layer groups per module (each group intervened at once); default every single layer. */
  groups?: Partial<Record<ModuleName, number[][]>>;
  /** Seeded draws averaged for random/shuffle (seeds seed, seed+1, …). */
  draws: number;
  seed: number;
  /** Counterfactual rows per batched forward. */
  batch: number;
  template: TemplateName;
  suffix: string;
  mode: PreprocessMode;
}

export interface Cell {
  module: ModuleName;
  type: CfType;
  layers: number[];
}

export interface QuestionResult {
  id: string | number;
  image: string;
  text: string;
  label?: string;
  factual: { argmax: number; token: string; logOdds: number };
  /** One mean effect (over draws) per cell, in cell order. */
  effects: RowEffect[];
}

interface Row {
  cell: number;
  ivs: Intervention[];
}

export function defaultGroups(llava: Llava, module: ModuleName): number[][] {
  const cfg = llava.model.config;
  const n = module === "text" ? cfg.text.numLayers : runningVisionLayers(cfg);
  return Array.from({ length: n }, (_, l) => [l]);
}

export function sweepCells(llava: Llava, s: SweepSettings): Cell[] {
  return s.modules.flatMap((module) =>
    (s.groups?.[module] ?? defaultGroups(llava, module)).flatMap((layers) => s.types.map((type) => ({ module, type, layers }))),
  );
}

function rowsOf(cells: Cell[], s: SweepSettings): Row[] {
  return cells.flatMap((c, cell) => {
    const stochastic = c.type === "random" || c.type === "shuffle";
    return Array.from({ length: stochastic ? s.draws : 1 }, (_, d) => ({
      cell,
      ivs: [{ module: c.module, layers: c.layers, type: c.type, ...(stochastic ? { seed: s.seed + d } : {}) }],
    }));
  });
}

function chunks<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

const tick = () => new Promise<void>((r) => setImmediate(r));

/** Last-position logits of one forward; `[k,V]` rows as Float64 log-probabilities. */
function lastLogProbs(logits: tf.Tensor): Float64Array[] {
  const data = logits.dataSync();
  const k = logits.shape[0];
  const V = data.length / k;
  return Array.from({ length: k }, (_, r) => logSoftmax(data.subarray(r * V, (r + 1) * V)));
}

/** Runs `fn` in a tidy scope and converts its logits (then freed) to log-probabilities. */
function logProbsOf(fn: () => tf.Tensor): Float64Array[] {
  const logits = tf.tidy(fn);
  try {
    return lastLogProbs(logits);
  } finally {
    logits.dispose();
  }
}

/** One hook for a batch whose row j carries its own interventions (row-blocks.ts: one row per block, concatenated once). */
function rowwiseHook(perRow: Intervention[][]): AttentionHook | undefined {
  const hooks = perRow.map((ivs) => makeInterventionHook(ivs));
  return rowBlockHook(hooks, 1);
}

/**
 * LLM layers [from, to) one at a time, each in its own tidy: the model keeps every intermediate of a
 * forward until its scope ends, so with k rows of `[H,T,T]` attention a whole-model scope would hold
 * every layer's tensors at once; this holds one layer's (the hidden states in between are small).
 */
function textLayers(model: Llava["model"], x: tf.Tensor3D, from: number, to: number, hook?: AttentionHook): tf.Tensor3D {
  let h = x;
  for (let i = from; i < to; i++) {
    const input = h;
    h = tf.tidy(() => model.decode(input, { startLayer: i, stopLayer: i + 1, positionOffset: 0, hook, logits: "none" }).last);
  }
  return h;
}

/** Final norm + LM head on the last position (no layers run). */
function headLogits(model: Llava["model"], h: tf.Tensor3D): tf.Tensor {
  return model.decode(h, { startLayer: model.config.text.numLayers, positionOffset: 0, logits: "last" }).logits!;
}

/** Text rows in batches: layers below the batch's first intervened layer run once, then tiled. */
async function textRows(llava: Llava, ids: number[], features: tf.Tensor3D, rows: Row[], batch: number): Promise<Float64Array[]> {
  const model = llava.model;
  const L = model.config.text.numLayers;
  const sorted = rows.map((r, i) => ({ r, i })).sort((a, b) => firstLayer(a.r.ivs) - firstLayer(b.r.ivs));
  const out: Float64Array[] = new Array(rows.length);
  for (const part of chunks(sorted, batch)) {
    const split = Math.min(L, ...part.map((p) => firstLayer(p.r.ivs)));
    const got = logProbsOf(() => {
      const trunk = textLayers(model, model.embed([ids], features), 0, split);
      return headLogits(model, textLayers(model, tileRows(trunk, part.length), split, L, rowwiseHook(part.map((p) => p.r.ivs))));
    });
    part.forEach((p, j) => (out[p.i] = got[j]));
    await tick();
  }
  return out;
}

/**
 * Vision rows in batches (sorted by first intervened CLIP layer): CLIP's layers below it run once on
 * the image, then the model's image path continues on k tiled rows with the row-wise hook (each CLIP
 * layer in its own tidy there); then one batched LLM forward.
 */
async function visionRows(llava: Llava, ids: number[], pixels: tf.Tensor4D, rows: Row[], batch: number): Promise<Float64Array[]> {
  const model = llava.model;
  const cfg = model.config;
  const sel = selectedHiddenIndex(cfg);
  const sorted = rows.map((r, i) => ({ r, i })).sort((a, b) => firstLayer(a.r.ivs) - firstLayer(b.r.ivs));
  const out: Float64Array[] = new Array(rows.length);
  for (const part of chunks(sorted, batch)) {
    const split = Math.min(sel, ...part.map((p) => firstLayer(p.r.ivs)));
    const got = logProbsOf(() => {
      const trunk = model.visionStates(pixels, { upTo: split }).last;
      const hook = rowwiseHook(part.map((p) => p.r.ivs));
      const features = model.encodeImages({ index: split, hidden: tileRows(trunk, part.length) }, { hook }).features;
      const embeds = model.embed(
        part.map(() => ids),
        features,
      ); // row j reads image j
      return headLogits(model, textLayers(model, embeds, 0, cfg.text.numLayers));
    });
    part.forEach((p, j) => (out[p.i] = got[j]));
    await tick();
  }
  return out;
}

export interface SweepProgress {
  question: number;
  total: number;
}

/** Runs the sweep; questions of the same image reuse its pixels and factual features. */
export async function runSweep(
  llava: Llava,
  questions: SweepQuestion[],
  s: SweepSettings,
  onProgress?: (p: SweepProgress) => void,
): Promise<{ cells: Cell[]; results: QuestionResult[]; yesNo: YesNoIds }> {
  const cells = sweepCells(llava, s);
  const rows = rowsOf(cells, s);
  const yesNo = yesNoIds(llava.tokenizer, llava.model.config.text.vocabSize);
  const byImage = new Map<string, number[]>();
  questions.forEach((q, i) => byImage.set(q.image, [...(byImage.get(q.image) ?? []), i]));
  const out: QuestionResult[] = new Array(questions.length);
  let done = 0;
  for (const [image, idx] of byImage) {
    const pre = preprocessWithShape(await loadImage(image), llava.processor, s.mode);
    const pixels = tf.tensor4d(pre.data, [1, 3, pre.height, pre.width]);
    const features = tf.tidy(() => llava.model.encodeImages(pixels).features);
    try {
      for (const i of idx) {
        out[i] = await oneQuestion(llava, questions[i], pixels, features, rows, cells.length, s, yesNo);
        onProgress?.({ question: ++done, total: questions.length });
      }
    } finally {
      features.dispose();
      pixels.dispose();
    }
  }
  return { cells, results: out, yesNo };
}

async function oneQuestion(
  llava: Llava,
  q: SweepQuestion,
  pixels: tf.Tensor4D,
  features: tf.Tensor3D,
  rows: Row[],
  nCells: number,
  s: SweepSettings,
  yesNo: YesNoIds,
): Promise<QuestionResult> {
  const ids = encodePrompt(llava.tokenizer, s.template, q.text, { suffix: s.suffix, image: true });
  const L = llava.model.config.text.numLayers;
  const factual = logProbsOf(() => headLogits(llava.model, textLayers(llava.model, llava.model.embed([ids], features), 0, L)))[0];
  const logps: Float64Array[] = new Array(rows.length);
  const byModule = async (module: ModuleName, run: (part: Row[]) => Promise<Float64Array[]>) => {
    const idx = rows.map((_, i) => i).filter((i) => rows[i].ivs[0].module === module);
    (await run(idx.map((i) => rows[i]))).forEach((lp, j) => (logps[idx[j]] = lp));
  };
  await byModule("text", (part) => textRows(llava, ids, features, part, s.batch));
  await byModule("vision", (part) => visionRows(llava, ids, pixels, part, s.batch));
  const perCell: RowEffect[][] = Array.from({ length: nCells }, () => []);
  rows.forEach((r, i) => perCell[r.cell].push(rowEffect(factual, logps[i], yesNo)));
  const top = argmax(factual);
  const logOdds = yesNoLogOdds(factual, yesNo);
  return {
    id: q.id,
    image: q.image,
    text: q.text,
    label: q.label,
    factual: { argmax: top, token: (llava.tokenizer.idToToken(top) ?? `<${top}>`).replace(/▁/g, " "), logOdds },
    effects: perCell.map(meanEffect),
  };
}
