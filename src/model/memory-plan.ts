// The memory plan: before any tensor is read, what a model directory will need under a residency
// policy (src/model/residency.ts) on a backend, and whether that fits the backend's limit (wasm's
// 4 GiB heap) and the machine's memory. The byte estimates it adds up are in memory-plan-estimates.ts;
// `causalmm plan --model DIR` prints the plan, and loading refuses a plan that cannot fit.
import { FIXED_UNIT } from "../weights/params.js";
import type { LlavaConfig } from "./config.js";
import { type Residency, type ResidencyPolicy } from "./residency.js";
import type { MachineMemory } from "./machine.js";
import {
  bytesByDtype,
  fullWorkload,
  PROCESS_BASE_BYTES,
  residencyBytes,
  unitsOf,
  workloadBytes,
  type PlanContext,
  type Workload,
} from "./memory-plan-estimates.js";

export {
  PROCESS_BASE_BYTES,
  rowCacheBytes,
  rowForwardBytes,
  unitBytes,
  type PlanContext,
  type SizedTensor,
  type Workload,
} from "./memory-plan-estimates.js";

export interface PlanRequest {
  policy?: ResidencyPolicy | "auto";
  /** budget: bytes of resident weights on the backend (float32 and, on wasm, XNNPACK's packed copies). */
  residentBytes?: number;
  headChunkRows?: number;
  workload?: Workload;
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
  /** Of hostBytes: the token-major float32 copy of a resident lm_head that CausalMM's rows gather from. */
  lmHeadCopyBytes: number;
  /** Residency `native`: the native GEMM addon loaded (host weights read in place; else widened per product). */
  nativeGemm: boolean;
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

/** Residency units in the order the budget policy keeps them: decoder layers run every token, then lm_head, then CLIP. */
function priority(cfg: LlavaConfig): string[] {
  return [
    ...Array.from({ length: cfg.text.numLayers }, (_, i) => `text.${i}`),
    "lm_head",
    ...Array.from({ length: cfg.vision.numLayers }, (_, i) => `vision.${i}`),
    "embed",
  ];
}

/** The plan for one explicit residency (which units stay on the backend). */
export function planFor(ctx: PlanContext, residency: Residency, workload: Workload = {}): MemoryPlan {
  const { cfg } = ctx;
  const w = fullWorkload(cfg, workload);
  const r = residencyBytes(ctx, residency);
  const { phase, residentBytes } = r;
  // CausalMM's counterfactual rows gather lm_head rows of the kept tokens (LlavaModel.lmHeadRows): in
  // place from a host lm_head, from a token-major float32 copy in JS memory of a resident one
  const headCopy = w.rows > 1 && residency.policy !== "native" && residency.resident.has("lm_head");
  const lmHeadCopyBytes = headCopy ? cfg.text.vocabSize * cfg.text.hiddenSize * 4 : 0;
  const hostBytes = r.hostBytes + lmHeadCopyBytes;
  const { kvBytes, vision, text, logits, visionLive, textLive } = workloadBytes(cfg, w);
  const activationBytes = Math.max(visionLive, textLive);
  // the phases do not overlap: CLIP runs before the prompt's KV cache exists, lm_head after the last layer;
  // the backend holds each buffer once (k 0: live bytes), tf.memory() counts views (k 1). In the heap the
  // image features, allocated last, pin CLIP's freed region, and the prefill's buffers go mostly above it
  // (the highest allocation measured at 112 and 224 px is CLIP's peak plus the prefill's, within 3 %).
  const act = [
    [visionLive, visionLive + textLive],
    [vision, text],
  ];
  const peak = (k: 0 | 1) => Math.max(phase.vision[k] + act[k][0], phase.text[k] + act[k][1] + kvBytes, phase.head[k] + kvBytes + logits);
  const backendPeakBytes = residentBytes + peak(0);
  const tensorPeakBytes = r.residentTensorBytes + peak(1);
  const processPeakBytes = PROCESS_BASE_BYTES + hostBytes + backendPeakBytes + r.largestUpload;
  const plan: MemoryPlan = {
    backend: ctx.backend,
    policy: residency.policy,
    residency,
    workload: w,
    fileBytes: bytesByDtype(ctx.tensors),
    hostBytes,
    lmHeadCopyBytes,
    nativeGemm: ctx.native ?? false,
    residentBytes,
    streamBytes: Math.max(phase.vision[0], phase.text[0], phase.head[0]),
    kvBytes,
    activationBytes,
    tensorPeakBytes,
    backendPeakBytes,
    processPeakBytes,
    backendLimitBytes: ctx.backendLimitBytes,
    machine: ctx.machine,
    units: { resident: r.resident, streamed: r.streamed },
    problems: [],
  };
  plan.problems = problemsOf(plan);
  return plan;
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
