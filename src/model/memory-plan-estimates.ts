// The per-unit byte estimates behind the memory plan (memory-plan.ts): what each residency unit weighs
// on the backend and on the host, and what a workload's activations and KV cache take. Every figure
// comes from the checkpoint's headers and the config; nothing here decides a policy or a refusal.
import { FIXED_UNIT, type PlannedTensor } from "../weights/params.js";
import type { LlavaConfig, TextConfig } from "./config.js";
import { numImageTokens } from "./config.js";
import type { MachineMemory } from "./machine.js";
import { defaultHeadChunkRows, type Residency } from "./residency.js";

/** Peak transient bytes of one row running `s` new positions over `t` cached + new positions. */
export function rowForwardBytes(cfg: TextConfig, s: number, t: number): number {
  // [H,S,T]: scores, mask-added scores, probabilities and, under a counterfactual hook, the branches'
  // edited blocks and their concatenation (causal/row-blocks.ts); gate/up/act [S,I]; ~8 hidden-size tensors [S,D]
  return 4 * s * (5 * cfg.numHeads * t + 3 * cfg.intermediateSize + 8 * cfg.hiddenSize);
}

/** KV-cache bytes of one row holding `t` positions. */
export function rowCacheBytes(cfg: TextConfig, t: number): number {
  return 4 * cfg.numLayers * 2 * cfg.numKvHeads * cfg.headDim * t;
}

/**
 * Peak live bytes of one layer's intermediates for one row of `s` new positions over `t` (every
 * intermediate of a layer lives until the layer's tf.tidy ends). Measured with the engine's byte
 * count on a LLaVA-7B-width decoder layer on wasm: 438 MiB at 300 positions, 987 MiB at 581
 * (benchmarks/residency.ts) — about 7 score-sized [H,S,T] and 14 [S,I] + 40 [S,D] float tensors.
 */
export function layerPeakBytes(heads: number, inter: number, dim: number, s: number, t: number): number {
  return 4 * s * (7 * heads * t + 14 * inter + 40 * dim);
}

/**
 * Peak bytes one layer's intermediates really hold in the backend's memory, for `s` new positions over `t`:
 * tf.memory() (layerPeakBytes) counts a reshaped or transposed view once per view, the heap holds each
 * buffer once. The layer's attention half and MLP half each free their intermediates (src/model/llama.ts),
 * so the peak is the larger half: 2 score-sized [H,S,T] + 11 [S,D] floats per position for attention,
 * 4 [S,I] + 1 [H,S,T] + 3 [S,D] for the MLP. Measured by tracking the wasm heap's malloc/free on a
 * LLaVA-7B-width decoder layer: 17 MiB at 81 positions, 36 at 160, 66 at 273, 109 at 400, 193 at 600
 * (the formula is within 5 % of each).
 */
export function layerLiveBytes(heads: number, inter: number, dim: number, s: number, t: number): number {
  return 4 * s * Math.max(2 * heads * t + 11 * dim, heads * t + 4 * inter + 3 * dim);
}

/** What the model will be asked to do: the plan provisions activations and KV caches for it. */
export interface Workload {
  /** Prompt positions, image tokens included (default: one image + 128 text tokens). */
  promptTokens?: number;
  /** New tokens (default 512, `causalmm ask`'s default). */
  maxNewTokens?: number;
  /** Batch rows: prompts × CausalMM branches (factual + each counterfactual; default 1). */
  rows?: number;
  /** Images encoded at once (default 1; CLIP-side counterfactual branches add rows here). */
  images?: number;
}

export function fullWorkload(cfg: LlavaConfig, w: Workload = {}): Required<Workload> {
  return {
    promptTokens: w.promptTokens ?? numImageTokens(cfg) + 128,
    maxNewTokens: w.maxNewTokens ?? 512,
    rows: w.rows ?? 1,
    images: w.images ?? 1,
  };
}

/** Activation and KV-cache bytes of a workload, per phase (CLIP, the prompt's decoder layers, the logits). */
export interface WorkloadBytes {
  kvBytes: number;
  /** Activations as tf.memory() counts them (views once per view), for the tensor peak. */
  vision: number;
  text: number;
  logits: number;
  /** Activations as the backend holds them (each buffer once), for the backend and process peaks. */
  visionLive: number;
  textLive: number;
}

type LayerBytes = (heads: number, inter: number, dim: number, s: number, t: number) => number;

export function workloadBytes(cfg: LlavaConfig, w: Required<Workload>): WorkloadBytes {
  const positions = w.promptTokens + w.maxNewTokens;
  // the generation loop tells the caches how many tokens will come (LogitsSource.expectNewTokens), so
  // they hold exactly the prompt and the answer, reserved before a forward's intermediates (KVCache.reserve)
  const kvBytes = w.rows * rowCacheBytes(cfg.text, positions);
  const logits = w.rows * cfg.text.vocabSize * 4 * 2;
  const t = cfg.text;
  const text = (f: LayerBytes) => w.rows * f(t.numHeads, t.intermediateSize, t.hiddenSize, w.promptTokens, w.promptTokens) + logits;
  return {
    kvBytes,
    vision: visionActivationBytes(cfg, w.images, layerPeakBytes),
    text: text(layerPeakBytes),
    logits,
    visionLive: visionLiveBytes(cfg, w.images),
    textLive: text(layerLiveBytes) + editedBlocksBytes(t, w),
  };
}

/**
 * More than one row means CausalMM branches, whose hook edits P in row blocks (causal/row-blocks.ts): the
 * edited blocks and their concatenation hold about two more score-sized [H,S,T] tensors per row (measured
 * on the wasm heap at LLaVA-7B widths, one decoder layer, 273–633 positions: 5.35 against 3.46 per row).
 */
function editedBlocksBytes(t: TextConfig, w: Required<Workload>): number {
  return w.rows > 1 ? w.rows * 4 * 2 * t.numHeads * w.promptTokens * w.promptTokens : 0;
}

/**
 * Bytes the image encoding really holds at its peak: one CLIP layer's intermediates, or, once the layers are
 * done, the embeddings and the projector's [T, D_text] products (not freed until the encoding returns).
 * Measured by tracking the wasm heap's malloc/free with LLaVA-7B widths: 9.5 MiB at 112 px, 37.8 at 224 px,
 * ≈ 6 [T, D_text] + 14 [T, D_vision] floats per position.
 */
function visionLiveBytes(cfg: LlavaConfig, images: number): number {
  const v = cfg.vision;
  const T = (v.imageSize / v.patchSize) ** 2 + 1;
  const projector = 4 * T * (6 * cfg.text.hiddenSize + 14 * v.hiddenSize);
  return images * Math.max(layerLiveBytes(v.numHeads, v.intermediateSize, v.hiddenSize, T, T), projector);
}

function visionActivationBytes(cfg: LlavaConfig, images: number, layer: LayerBytes): number {
  const v = cfg.vision;
  const T = (v.imageSize / v.patchSize) ** 2 + 1;
  return images * layer(v.numHeads, v.intermediateSize, v.hiddenSize, T, T);
}

/** Node, tfjs, the tokenizer and V8's heap before any weight: measured ≈ 150–250 MiB here. */
export const PROCESS_BASE_BYTES = 200 * 1024 ** 2;

/** A planned tensor with its bytes in the file. */
export interface SizedTensor extends PlannedTensor {
  fileBytes: number;
  dtype: string;
}

export interface PlanContext {
  cfg: LlavaConfig;
  tensors: SizedTensor[];
  backend: string;
  /** Tensor bytes the backend can hold (wasm: 90 % of the heap limit); null = no limit. */
  backendLimitBytes: number | null;
  machine: MachineMemory;
  /** The native GEMM addon loaded (residency `native` reads 16-bit host weights in place; else tfjs widens them per use). */
  native?: boolean;
}

/** One residency unit's bytes. */
export interface Unit {
  name: string;
  /** float32 bytes on the backend */
  f32: number;
  /** packed copies (wasm) */
  packed: number;
  /** largest single tensor's float32 bytes (upload transient) */
  largest: number;
  fileBytes: number;
  /** residency `native`: file bytes of the tensors that stay on the host (linear weights, token tables) */
  hostFile: number;
  /** residency `native`: the largest host tensor's float32 bytes */
  largestHost: number;
}

/** Whether residency `native` keeps this tensor on the host: 2-D linear weights, lm_head and the embedding table. */
function onHostNative(t: SizedTensor): boolean {
  return t.unit === "embed" || (t.matmul && t.shape.length === 2);
}

/** Every residency unit's bytes; `native`: the tensors the native GEMM reads in place count as host bytes instead. */
export function unitsOf(ctx: PlanContext, native = false): Map<string, Unit> {
  const units = new Map<string, Unit>();
  const seen = new Set<string>();
  const packs = ctx.backend === "wasm";
  for (const t of ctx.tensors) {
    const u = units.get(t.unit) ?? { name: t.unit, f32: 0, packed: 0, largest: 0, fileBytes: 0, hostFile: 0, largestHost: 0 };
    const f32 = t.shape.reduce((a, b) => a * b, 1) * 4;
    // a file tensor listed twice (two uses of one tensor) counts its file bytes once
    const fileBytes = seen.has(t.name) ? 0 : t.fileBytes;
    seen.add(t.name);
    units.set(t.unit, u);
    if (native && onHostNative(t)) {
      u.hostFile += fileBytes;
      u.largestHost = Math.max(u.largestHost, f32);
      continue;
    }
    u.f32 += f32;
    if (t.matmul && packs) u.packed += f32;
    u.largest = Math.max(u.largest, f32);
    u.fileBytes += fileBytes;
  }
  return units;
}

/** Backend bytes of each residency unit when resident (float32, plus packed copies on wasm). */
export function unitBytes(ctx: PlanContext): Map<string, number> {
  return new Map([...unitsOf(ctx)].map(([k, u]) => [k, u.f32 + u.packed]));
}

export function bytesByDtype(tensors: SizedTensor[]): Record<string, number> {
  const out: Record<string, number> = {};
  const seen = new Set<string>();
  for (const t of tensors) {
    if (seen.has(t.name)) continue;
    seen.add(t.name);
    out[t.dtype] = (out[t.dtype] ?? 0) + t.fileBytes;
  }
  return out;
}

/** The weights' share of a plan under one residency: per phase, the largest streamed unit as [backend bytes, tensor bytes]. */
export interface ResidencyBytes {
  residentBytes: number;
  residentTensorBytes: number;
  /** File-dtype host copies of the units that are not resident (under `native`, of the tensors read in place). */
  hostBytes: number;
  resident: number;
  streamed: number;
  phase: { vision: number[]; text: number[]; head: number[] };
  /** The largest single tensor's float32 bytes: its upload's transient JS copy. */
  largestUpload: number;
}

export function residencyBytes(ctx: PlanContext, residency: Residency): ResidencyBytes {
  const native = residency.policy === "native";
  const units = unitsOf(ctx, native);
  const isResident = (u: string) => native || u === FIXED_UNIT || residency.resident.has(u);
  const r: ResidencyBytes = {
    residentBytes: 0,
    residentTensorBytes: 0,
    hostBytes: 0,
    resident: 0,
    streamed: 0,
    phase: { vision: [0, 0], text: [0, 0], head: [0, 0] },
    largestUpload: Math.max(...[...units.values()].map((u) => u.largest)),
  };
  const { phase } = r;
  const widen = (p: number[], backend: number, tensors: number) => {
    p[0] = Math.max(p[0], backend);
    p[1] = Math.max(p[1], tensors);
  };
  for (const u of units.values()) {
    r.hostBytes += u.hostFile;
    if (isResident(u.name)) {
      r.residentBytes += u.f32 + u.packed;
      r.residentTensorBytes += u.f32;
      r.resident++;
      continue;
    }
    r.streamed++;
    r.hostBytes += u.fileBytes;
    // the layer, plus its packed copies while it runs or one transposed upload while it loads
    const p = u.name.startsWith("vision.") ? phase.vision : u.name.startsWith("text.") ? phase.text : null;
    if (p) widen(p, u.f32 + Math.max(u.packed, u.largest), u.f32 + u.largest);
  }
  const V = ctx.cfg.text.vocabSize;
  const D = ctx.cfg.text.hiddenSize;
  if (!isResident("lm_head")) {
    const chunk = (residency.headChunkRows ?? defaultHeadChunkRows(V, D)) * D * 4;
    widen(phase.head, 2 * chunk + (ctx.backend === "wasm" ? chunk : 0), 2 * chunk); // rows, transposed (, packed)
  }
  if (native && !ctx.native) {
    // without the addon, each host weight is widened into a float32 tensor for the one product that uses it
    const largest = Math.max(...[...units.values()].map((u) => u.largestHost));
    for (const p of [phase.vision, phase.text, phase.head]) widen(p, largest, largest);
  }
  return r;
}
