// Loading a llava-hf model directory: config.json → plan → check against the checkpoint → memory
// plan (refused before any read when it cannot fit) → read each tensor once: upload it, or keep its
// 16-bit bytes on the host for layers that stream (src/model/residency.ts).
import * as tf from "@tensorflow/tfjs-core";
import { currentBackend, initBackend, wasmHeapLimit, type BackendName } from "../backend.js";
import { Checkpoint } from "../weights/checkpoint.js";
import { dtypeSize, isSupportedDtype } from "../weights/dtype.js";
import {
  checkPlan,
  ParamLoader,
  ParamPlanner,
  plannedBytes,
  type LoadProgress,
  type PlannedTensor,
  type TensorSource,
} from "../weights/params.js";
import { loadLlavaConfig, type LlavaConfig } from "./config.js";
import { LlavaModel, llavaParams, UNUSED_TENSORS } from "./llava.js";
import { machineMemory, type MachineMemory } from "./machine.js";
import { choosePlan, type MemoryPlan, type PlanContext, type PlanRequest, type SizedTensor } from "./memory-plan.js";
import { refusal } from "./plan-text.js";
import { ResidencyLoader } from "./residency.js";
import { resolvePerformance, type PerformanceOptions } from "./performance.js";
import { NativeLoader } from "./native-residency.js";
import { nativeAvailable } from "./kernels/native.js";

export interface LoadOptions {
  backend?: BackendName | string;
  onProgress?: (p: LoadProgress) => void;
  /**
   * Weight residency ("auto" = the fastest policy whose memory plan fits; "all", "budget" with
   * `residentBytes`, "stream") and the workload the plan provisions for (docs/architecture.md, Residency).
   */
  residency?: PlanRequest;
  /** The machine's memory as the plan sees it (default: measured now; tests pass their own). */
  machine?: MachineMemory;
  /** How the model computes (never what): src/model/performance.ts; unset fields take the defaults. */
  performance?: Partial<PerformanceOptions>;
}

export function checkpointSource(ckpt: Checkpoint): TensorSource {
  return {
    dir: ckpt.dir,
    names: () => ckpt.names(),
    shapeOf: (n) => ckpt.entry(n).shape,
    fileOf: (n) => ckpt.entry(n).file,
    dtypeOf: (n) => ckpt.entry(n).dtype,
    readFloat32: (n) => ckpt.readFloat32(n),
    readRaw: (n) => ckpt.readRaw(n),
  };
}

const plans = new WeakMap<LlavaModel, MemoryPlan>();

/** The memory plan a model was loaded under (absent for models built by other means, e.g. training). */
export function memoryPlanOf(model: LlavaModel): MemoryPlan | undefined {
  return plans.get(model);
}

/** The checkpoint's tensors as the model declares them, with their bytes in the file. */
export function sizedTensors(cfg: LlavaConfig, src: TensorSource): SizedTensor[] {
  const planner = new ParamPlanner();
  llavaParams(cfg, planner);
  checkPlan(planner.wanted, src, UNUSED_TENSORS);
  return planner.wanted.map((p: PlannedTensor) => {
    const dtype = src.dtypeOf?.(p.name) ?? "F32";
    const n = p.shape.reduce((a, b) => a * b, 1);
    return { ...p, dtype, fileBytes: n * (isSupportedDtype(dtype) ? dtypeSize(dtype) : 4) };
  });
}

/** The plan context for the active backend and this machine. */
export function planContext(
  cfg: LlavaConfig,
  tensors: SizedTensor[],
  machine: MachineMemory = machineMemory(),
  backend = currentBackend()?.name ?? tf.getBackend(),
): PlanContext {
  const native = (backend === "wasm" || backend === "cpu") && nativeAvailable();
  return { cfg, tensors, backend, backendLimitBytes: backend === "wasm" ? wasmHeapLimit() * 0.9 : null, machine, native };
}

/** The plan of a load (checked against the source, refused with the numbers when it cannot fit). */
function plannedLoad(cfg: LlavaConfig, src: TensorSource, o: Omit<LoadOptions, "backend">): { tensors: SizedTensor[]; plan: MemoryPlan } {
  resolvePerformance(o.performance); // a bad option fails before any tensor is read
  const tensors = sizedTensors(cfg, src);
  const ctx = planContext(cfg, tensors, o.machine);
  const plan = choosePlan(ctx, o.residency);
  if (plan.problems.length) throw new Error(refusal(`model ${src.dir}`, plan, ctx, o.residency));
  return { tensors, plan };
}

/** Reads the weights a plan made for `src` says to read, the way it says. */
function readPlanned(
  cfg: LlavaConfig,
  src: TensorSource,
  o: Omit<LoadOptions, "backend">,
  tensors: SizedTensor[],
  plan: MemoryPlan,
): LlavaModel {
  const totalBytes = plannedBytes(tensors, false);
  let model: LlavaModel;
  if (plan.policy === "all")
    model = new LlavaModel(cfg, llavaParams(cfg, new ParamLoader(src, totalBytes, o.onProgress)), undefined, o.performance);
  else if (plan.policy === "native") {
    const loader = new NativeLoader(src, totalBytes, o.onProgress);
    model = new LlavaModel(cfg, llavaParams(cfg, loader), () => loader.release(), o.performance);
  } else {
    const loader = new ResidencyLoader(src, plan.residency, totalBytes, o.onProgress);
    model = new LlavaModel(cfg, llavaParams(cfg, loader), () => loader.host.clear(), o.performance);
  }
  plans.set(model, plan);
  return model;
}

/** Builds a model from any tensor source (a checkpoint, or tensors made in memory). */
export function buildModel(
  cfg: LlavaConfig,
  src: TensorSource,
  opts: Omit<LoadOptions, "backend"> | LoadOptions["onProgress"] = {},
): LlavaModel {
  const o = typeof opts === "function" ? { onProgress: opts } : opts;
  const { tensors, plan } = plannedLoad(cfg, src, o);
  return readPlanned(cfg, src, o, tensors, plan);
}

/** A model directory whose headers are read and whose plan fits; no weight is read until `read()`. */
export interface PlannedModel {
  readonly plan: MemoryPlan;
  /** Reads the weights (once) and closes the checkpoint. */
  read(): LlavaModel;
  /** Gives up without reading (read() closes on its own). */
  close(): void;
}

/**
 * The first half of `loadModel`: backend, config, checkpoint headers and the memory plan, refused in
 * milliseconds when it cannot fit, so callers can check it before slower work (the tokenizer, images).
 */
export async function planLoad(dir: string, opts: LoadOptions = {}): Promise<PlannedModel> {
  if (!currentBackend() || opts.backend !== undefined) await initBackend(opts.backend);
  const cfg = loadLlavaConfig(dir);
  const ckpt = Checkpoint.open(dir);
  try {
    const src = checkpointSource(ckpt);
    const { tensors, plan } = plannedLoad(cfg, src, opts);
    return {
      plan,
      read: () => {
        try {
          return readPlanned(cfg, src, opts, tensors, plan);
        } finally {
          ckpt.close();
        }
      },
      close: () => ckpt.close(),
    };
  } catch (e) {
    ckpt.close();
    throw e;
  }
}

/** Loads `config.json` and the safetensors weights of a llava-hf directory. */
export async function loadModel(dir: string, opts: LoadOptions = {}): Promise<LlavaModel> {
  return (await planLoad(dir, opts)).read();
}

/** The memory plan for a model directory on the active backend, without reading any tensor. */
export function planModel(dir: string, req: PlanRequest = {}, machine?: MachineMemory): { plan: MemoryPlan; ctx: PlanContext } {
  const cfg = loadLlavaConfig(dir);
  const ckpt = Checkpoint.open(dir);
  try {
    const ctx = planContext(cfg, sizedTensors(cfg, checkpointSource(ckpt)), machine);
    return { plan: choosePlan(ctx, req), ctx };
  } finally {
    ckpt.close();
  }
}
