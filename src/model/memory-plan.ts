// The memory plan: before any tensor is read, what a model directory will need under a residency
// policy (src/model/residency.ts) on a backend, and whether that fits the backend's limit (wasm's
// 4 GiB heap) and the machine's memory. Every figure comes from the checkpoint's headers and the
// config; `causalmm plan --model DIR` prints it, and loading refuses a plan that cannot fit.
import { FIXED_UNIT, type PlannedTensor } from "../weights/params.js";
import type { LlavaConfig, TextConfig } from "./config.js";
import { numImageTokens } from "./config.js";
import { defaultHeadChunkRows, type Residency, type ResidencyPolicy } from "./residency.js";
import type { MachineMemory } from "./machine.js";

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

export interface PlanRequest {
  policy?: ResidencyPolicy | "auto";
  /** budget: bytes of resident weights on the backend (float32 and, on wasm, XNNPACK's packed copies). */
  residentBytes?: number;
  headChunkRows?: number;
  workload?: Workload;
}

/** A planned tensor with its bytes in the file. */
export interface SizedTensor extends PlannedTensor {
  fileBytes: number;
  dtype: string;
}

export interface MemoryPlan {
  backend: string;
  policy: ResidencyPolicy;
  residency: Residency;
  workload: Required<Workload>;
  /** Tensor data in the checkpoint, by dtype. */
  fileBytes: Record<string, number>;
  /** 16-bit (file dtype) host copies of the units that are not resident, plus JS-side lm_head rows for CausalMM. */
  hostBytes: number;
  /** Resident weights on the backend: float32, with XNNPACK's packed copies on wasm. */
  residentBytes: number;
  /** The largest streamed unit (or lm_head chunk) while it runs, packed copies and upload transients included. */
  streamBytes: number;
  kvBytes: number;
  activationBytes: number;
  /** Peak live tfjs tensor bytes (what tf.memory() reports; packed copies are not tensors). */
  tensorPeakBytes: number;
  /** Peak backend memory (the wasm heap holds tensors and packed copies). */
  backendPeakBytes: number;
  /** Peak resident memory of the process. */
  processPeakBytes: number;
  backendLimitBytes: number | null;
  machine: MachineMemory;
  units: { resident: number; streamed: number };
  /** Empty when the plan fits. */
  problems: string[];
}

/** Node, tfjs, the tokenizer and V8's heap before any weight: measured ≈ 150–250 MiB here. */
export const PROCESS_BASE_BYTES = 200 * 1024 ** 2;

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

interface Unit {
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

function unitsOf(ctx: PlanContext, native = false): Map<string, Unit> {
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

/** Residency units in the order the budget policy keeps them: decoder layers run every token, then lm_head, then CLIP. */
function priority(cfg: LlavaConfig): string[] {
  return [
    ...Array.from({ length: cfg.text.numLayers }, (_, i) => `text.${i}`),
    "lm_head",
    ...Array.from({ length: cfg.vision.numLayers }, (_, i) => `vision.${i}`),
    "embed",
  ];
}

function fullWorkload(cfg: LlavaConfig, w: Workload = {}): Required<Workload> {
  return {
    promptTokens: w.promptTokens ?? numImageTokens(cfg) + 128,
    maxNewTokens: w.maxNewTokens ?? 512,
    rows: w.rows ?? 1,
    images: w.images ?? 1,
  };
}

/** The plan for one explicit residency (which units stay on the backend). */
export function planFor(ctx: PlanContext, residency: Residency, workload: Workload = {}): MemoryPlan {
  const { cfg } = ctx;
  const w = fullWorkload(cfg, workload);
  const native = residency.policy === "native";
  const units = unitsOf(ctx, native);
  const isResident = (u: string) => native || u === FIXED_UNIT || residency.resident.has(u);
  let residentBytes = 0;
  let residentTensorBytes = 0;
  let hostBytes = 0;
  let resident = 0;
  let streamed = 0;
  // the largest streamed unit per phase, as backend memory (packed copies included) and as tensors
  const phase = { vision: [0, 0], text: [0, 0], head: [0, 0] };
  const widen = (p: number[], backend: number, tensors: number) => {
    p[0] = Math.max(p[0], backend);
    p[1] = Math.max(p[1], tensors);
  };
  for (const u of units.values()) {
    hostBytes += u.hostFile;
    if (isResident(u.name)) {
      residentBytes += u.f32 + u.packed;
      residentTensorBytes += u.f32;
      resident++;
      continue;
    }
    streamed++;
    hostBytes += u.fileBytes;
    // the layer, plus its packed copies while it runs or one transposed upload while it loads
    const p = u.name.startsWith("vision.") ? phase.vision : u.name.startsWith("text.") ? phase.text : null;
    if (p) widen(p, u.f32 + Math.max(u.packed, u.largest), u.f32 + u.largest);
  }
  const V = cfg.text.vocabSize;
  const D = cfg.text.hiddenSize;
  if (!isResident("lm_head")) {
    const chunk = (residency.headChunkRows ?? defaultHeadChunkRows(V, D)) * D * 4;
    widen(phase.head, 2 * chunk + (ctx.backend === "wasm" ? chunk : 0), 2 * chunk); // rows, transposed (, packed)
  }
  if (native && !ctx.native) {
    // without the addon, each host weight is widened into a float32 tensor for the one product that uses it
    const largest = Math.max(...[...units.values()].map((u) => u.largestHost));
    for (const p of [phase.vision, phase.text, phase.head]) widen(p, largest, largest);
  }
  // CausalMM's dot products read lm_head token by token from JS memory (LlavaModel.lmHeadByToken)
  if (w.rows > 1) hostBytes += V * D * 4;
  const positions = w.promptTokens + w.maxNewTokens;
  const kvBytes = w.rows * rowCacheBytes(cfg.text, positions + Math.max(128, Math.ceil(positions / 4)));
  const vision = visionActivationBytes(cfg, w.images);
  const logits = w.rows * V * 4 * 2;
  const t = cfg.text;
  const text = w.rows * layerPeakBytes(t.numHeads, t.intermediateSize, t.hiddenSize, w.promptTokens, w.promptTokens) + logits;
  const activationBytes = Math.max(vision, text);
  // the phases do not overlap: CLIP runs before the prompt's KV cache exists, lm_head after the last layer
  const peak = (k: 0 | 1) => Math.max(phase.vision[k] + vision, phase.text[k] + text + kvBytes, phase.head[k] + kvBytes + logits);
  const backendPeakBytes = residentBytes + peak(0);
  const tensorPeakBytes = residentTensorBytes + peak(1);
  const largestUpload = Math.max(...[...units.values()].map((u) => u.largest));
  const processPeakBytes = PROCESS_BASE_BYTES + hostBytes + backendPeakBytes + largestUpload;
  const plan: MemoryPlan = {
    backend: ctx.backend,
    policy: residency.policy,
    residency,
    workload: w,
    fileBytes: bytesByDtype(ctx.tensors),
    hostBytes,
    residentBytes,
    streamBytes: Math.max(phase.vision[0], phase.text[0], phase.head[0]),
    kvBytes,
    activationBytes,
    tensorPeakBytes,
    backendPeakBytes,
    processPeakBytes,
    backendLimitBytes: ctx.backendLimitBytes,
    machine: ctx.machine,
    units: { resident, streamed },
    problems: [],
  };
  plan.problems = problemsOf(plan);
  return plan;
}

function visionActivationBytes(cfg: LlavaConfig, images: number): number {
  const v = cfg.vision;
  const T = (v.imageSize / v.patchSize) ** 2 + 1;
  return images * layerPeakBytes(v.numHeads, v.intermediateSize, v.hiddenSize, T, T);
}

function bytesByDtype(tensors: SizedTensor[]): Record<string, number> {
  const out: Record<string, number> = {};
  const seen = new Set<string>();
  for (const t of tensors) {
    if (seen.has(t.name)) continue;
    seen.add(t.name);
    out[t.dtype] = (out[t.dtype] ?? 0) + t.fileBytes;
  }
  return out;
}

function problemsOf(p: MemoryPlan): string[] {
  const out: string[] = [];
  if (p.backendLimitBytes !== null && p.backendPeakBytes > p.backendLimitBytes) {
    out.push(`the ${p.backend} backend can hold ${gib(p.backendLimitBytes)} of tensors, the plan needs ${gib(p.backendPeakBytes)}`);
  }
  const room = p.machine.availableBytes + p.machine.processBytes;
  if (p.processPeakBytes > room) {
    out.push(`the process would peak at ${gib(p.processPeakBytes)}, the machine has ${gib(room)} available (${p.machine.source})`);
  }
  return out;
}

/** Bytes for people: GiB from 1 GiB up, else MiB. */
export function gib(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(2)} GiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

/** Fixed units plus as many others (in priority order) as fit `budget` bytes of resident weights. */
export function budgetResidency(ctx: PlanContext, budget: number, headChunkRows?: number): Residency {
  const units = unitsOf(ctx);
  let used = units.get(FIXED_UNIT) ? units.get(FIXED_UNIT)!.f32 + units.get(FIXED_UNIT)!.packed : 0;
  const resident = new Set<string>();
  for (const name of priority(ctx.cfg)) {
    const u = units.get(name);
    if (!u) continue;
    if (used + u.f32 + u.packed <= budget) {
      resident.add(name);
      used += u.f32 + u.packed;
    }
  }
  return { policy: "budget", resident, headChunkRows };
}

export function allResidency(ctx: PlanContext): Residency {
  const resident = new Set([...unitsOf(ctx).keys()].filter((u) => u !== FIXED_UNIT));
  return { policy: "all", resident };
}

export function nativeResidency(): Residency {
  return { policy: "native", resident: new Set() };
}

export function streamResidency(headChunkRows?: number): Residency {
  return { policy: "stream", resident: new Set(), headChunkRows };
}

/** The largest budget that still fits: what is left of the tighter limit once streaming's needs are met. */
function largestBudget(ctx: PlanContext, req: PlanRequest): number {
  const stream = planFor(ctx, streamResidency(req.headChunkRows), req.workload);
  const backendRoom = ctx.backendLimitBytes === null ? Infinity : ctx.backendLimitBytes - (stream.backendPeakBytes - stream.residentBytes);
  const machineRoom = ctx.machine.availableBytes + ctx.machine.processBytes - stream.processPeakBytes + stream.residentBytes;
  return Math.max(0, Math.min(backendRoom, machineRoom));
}

/**
 * The plan for a request. "auto" (default): `all` if it fits, else `native` where the native GEMM addon
 * loaded and it fits, else `budget` with the largest budget that fits, else `stream` (which may not fit
 * either: then its problems say why).
 */
export function choosePlan(ctx: PlanContext, req: PlanRequest = {}): MemoryPlan {
  const policy = req.policy ?? "auto";
  if (policy === "all") return planFor(ctx, allResidency(ctx), req.workload);
  if (policy === "native") return planFor(ctx, nativeResidency(), req.workload);
  if (policy === "stream") return planFor(ctx, streamResidency(req.headChunkRows), req.workload);
  if (policy === "budget") {
    const budget = req.residentBytes ?? largestBudget(ctx, req);
    return planFor(ctx, budgetResidency(ctx, budget, req.headChunkRows), req.workload);
  }
  const all = planFor(ctx, allResidency(ctx), req.workload);
  if (!all.problems.length) return all;
  if (ctx.native) {
    // the native GEMM reads 16-bit host weights in place: faster than streaming uploads, and the heap stays small
    const native = planFor(ctx, nativeResidency(), req.workload);
    if (!native.problems.length) return native;
  }
  const budget = planFor(ctx, budgetResidency(ctx, largestBudget(ctx, req), req.headChunkRows), req.workload);
  if (!budget.problems.length && budget.residency.resident.size > 0) return budget;
  return planFor(ctx, streamResidency(req.headChunkRows), req.workload);
}
