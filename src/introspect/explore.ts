// The data behind the HTML explorer: a recording (attention over the image per generated token,
// layer and head; CLS maps; segment fractions), optional CausalMM top-k tables per step (factual vs
// counterfactual vs contrast, from CausalSource's onStep), and an optional sweep picture. Everything
// is inlined into one HTML file (explore-page.ts), so it opens from disk with no network.
import { readFileSync } from "node:fs";
import type { Llava } from "../api.js";
import { decodingSource } from "../causal/decoding.js";
import { buildPlan } from "../causal/presets.js";
import { generate } from "../generate/generate.js";
import { preparePrompt, recordAnswer, topK, type PromptRequest, type Recording } from "./session.js";
import { pngBuffer } from "./store.js";
import { patchMap, recordRow, segment, textSteps } from "./maps.js";
import { explorerHtml } from "./explore-page.js";

export interface TopEntry {
  token: string;
  p: number;
}

export interface ExplorerData {
  question: string;
  answer: string;
  image: string;
  grid: number;
  prompt: { text: string; segment: string }[];
  tokens: { id: number; text: string }[];
  layers: number[];
  heads: number;
  /** att[step][layerIndex]: base64 float32 `[H, grid²]` attention over the image patches. */
  att: string[][];
  /** frac[step][layerIndex]: mean-over-heads fraction on system / image / question / answer. */
  frac: number[][][];
  cls: { layer: number; data: string }[];
  /** Per step: columns of top-k lists (e.g. factual, counterfactual, CausalMM). */
  topk: { columns: string[]; steps: TopEntry[][][] } | null;
  cf: string | null;
  sweep: { image: string; title: string } | null;
}

function b64(a: Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64");
}

const SEGMENTS = ["system", "image", "text", "answer"];

/** Explorer data from a recording (topk: the recording's own, unless CausalMM tables are given). */
export async function explorerData(
  rec: Recording,
  extra: { topk?: ExplorerData["topk"]; cf?: string; sweepPng?: Buffer } = {},
): Promise<ExplorerData> {
  const { meta, records } = rec;
  const layers = [...new Set(records.filter((r) => r.module === "text" && r.kind !== "tap").map((r) => r.layer))].sort((a, b) => a - b);
  const img = segment(meta, "image");
  const steps = meta.answer.ids.map((_, s) => s);
  const att = steps.map((s) =>
    layers.map((l) => {
      const r = textSteps(records, l).find((x) => x.step === s);
      if (!r) throw new Error(`recording lacks text layer ${l} step ${s}`);
      const out = new Float32Array(r.shape[0] * meta.grid * meta.grid);
      for (let k = 0; k < r.shape[0]; k++)
        out.set(patchMap(recordRow(r, k, r.shape[1] - 1), img.start, meta.grid), k * meta.grid * meta.grid);
      return b64(out);
    }),
  );
  const frac = steps.map((s) => layers.map((l) => fractions(rec, l, s)));
  const cls = records
    .filter((r) => r.module === "vision" && r.kind === "cls")
    .map((r) => {
      const out = new Float32Array(r.shape[0] * meta.grid * meta.grid);
      for (let k = 0; k < r.shape[0]; k++) out.set(recordRow(r, k, 0).subarray(1), k * meta.grid * meta.grid);
      return { layer: r.layer, data: b64(out) };
    });
  const prompt = meta.segments
    .filter((s) => s.name !== "answer")
    .flatMap((s) =>
      s.name === "image"
        ? [{ text: "<image>", segment: "image" }]
        : meta.positionLabels.slice(s.start, s.end).map((text) => ({ text, segment: s.name })),
    );
  const ownTopk = meta.topk ? { columns: ["model"], steps: meta.topk.map((t) => [t.map(({ token, p }) => ({ token, p }))]) } : null;
  return {
    question: meta.question,
    answer: meta.answer.text,
    image: dataUrl(await pngBuffer(rec.image)),
    grid: meta.grid,
    prompt,
    tokens: meta.answer.ids.map((id, i) => ({ id, text: meta.answer.tokens[i] })),
    layers,
    heads: meta.dims.textHeads,
    att,
    frac,
    cls,
    topk: extra.topk ?? ownTopk,
    cf: extra.cf ?? (meta.interventions.join(" ") || null),
    sweep: extra.sweepPng ? { image: dataUrl(extra.sweepPng), title: "causal-effect sweep" } : null,
  };
}

function fractions(rec: Recording, layer: number, step: number): number[] {
  const r = textSteps(rec.records, layer).find((x) => x.step === step)!;
  const out = SEGMENTS.map(() => 0);
  for (let k = 0; k < r.shape[0]; k++) {
    const row = recordRow(r, k, r.shape[1] - 1);
    SEGMENTS.forEach((name, i) => {
      const s = rec.meta.segments.find((x) => x.name === name);
      if (s) for (let j = s.start; j < Math.min(s.end, row.length); j++) out[i] += row[j] / r.shape[0];
    });
  }
  return out.map((v) => Math.round(v * 1e4) / 1e4);
}

function dataUrl(png: Buffer): string {
  return `data:image/png;base64,${png.toString("base64")}`;
}

export interface ExploreRequest extends PromptRequest {
  /** CausalMM counterfactual spec(s), e.g. "vision:uniform@sel"; null/undefined = plain greedy answer. */
  cf?: string | null;
  gamma?: number;
}

/**
 * The answer (greedy, or CausalMM contrastive greedy with `cf`), then one teacher-forced recording
 * pass of the factual model over that answer. With `cf`, the top-k tables come from CausalSource's
 * onStep: factual branch, counterfactual branch(es) and the contrast scores.
 */
export async function exploreAnswer(llava: Llava, req: ExploreRequest): Promise<{ rec: Recording; topk: ExplorerData["topk"] }> {
  const k = req.topk ?? 5;
  if (!req.cf) {
    const rec = await recordAnswer(llava, { ...req, topk: k });
    return { rec, topk: null };
  }
  const plan = buildPlan({ cf: [req.cf], gamma: req.gamma }, llava.model.config); // a CausalMM run: never the plain (null) plan
  const prep = await preparePrompt(llava, req.image, req.question, req);
  const steps: TopEntry[][][] = [];
  const tok = llava.tokenizer;
  const strip = (xs: ReturnType<typeof topK>) => xs.map(({ token, p }) => ({ token, p }));
  const prompts = llava.branchPrompts(plan, [prep.ids], [{ image: prep.image, question: req.question }], req);
  const source = decodingSource(llava.model, plan, {
    prompts,
    pixels: prep.pixels,
    onStep: (_s, branch, scores) =>
      steps.push([
        strip(topK(branch[0][0], k, tok)),
        ...branch.slice(1).map((b) => strip(topK(b[0], k, tok))),
        strip(topK(scores[0], k, tok)),
      ]),
  });
  let tokens: number[];
  try {
    tokens = generate(source, { maxNewTokens: req.maxNewTokens ?? 16, eosTokenIds: llava.generation.eosTokenIds }).tokens[0];
  } finally {
    source.dispose();
    prep.pixels.dispose();
  }
  const rec = await recordAnswer(llava, { ...req, forced: tokens, interventions: [] });
  const columns = ["factual", ...plan.branches.slice(1).map((b) => `cf: ${b.name}`), "CausalMM"];
  return { rec, topk: { columns, steps: steps.slice(0, tokens.length) } };
}

/** The explorer page as one HTML string. */
export async function explorerPage(rec: Recording, extra: Parameters<typeof explorerData>[1] = {}): Promise<string> {
  return explorerHtml(await explorerData(rec, extra));
}

export function readSweepPng(path: string | undefined): Buffer | undefined {
  return path ? readFileSync(path) : undefined;
}
