// Loading a llava-hf model directory: config.json → plan → check against the checkpoint → heap guard
// → read, convert and upload each tensor once.
import { assertFitsBackend, currentBackend, initBackend, type BackendName } from "../backend.js";
import { Checkpoint } from "../weights/checkpoint.js";
import { checkPlan, ParamLoader, ParamPlanner, plannedBytes, type LoadProgress, type TensorSource } from "../weights/params.js";
import { loadLlavaConfig, numImageTokens, type LlavaConfig } from "./config.js";
import { LlavaModel, llavaParams, UNUSED_TENSORS } from "./llava.js";

export interface LoadOptions {
  backend?: BackendName | string;
  onProgress?: (p: LoadProgress) => void;
}

export function checkpointSource(ckpt: Checkpoint): TensorSource {
  return {
    dir: ckpt.dir,
    names: () => ckpt.names(),
    shapeOf: (n) => ckpt.entry(n).shape,
    fileOf: (n) => ckpt.entry(n).file,
    readFloat32: (n) => ckpt.readFloat32(n),
  };
}

/** Rough peak of activation memory for one image + a 2k-token prompt, on top of the weights. */
function activationBytes(cfg: LlavaConfig): number {
  const v = cfg.vision;
  const tokens = (v.imageSize / v.patchSize) ** 2 + 1;
  const visionAttn = v.numHeads * tokens * tokens * 4 * 3;
  const seq = Math.min(cfg.text.maxPositionEmbeddings, 2048) + numImageTokens(cfg);
  const textAttn = cfg.text.numHeads * seq * seq * 4 * 3;
  const kv = 2 * cfg.text.numLayers * cfg.text.numKvHeads * cfg.text.headDim * seq * 4;
  return Math.max(visionAttn, textAttn) + kv + cfg.text.vocabSize * seq * 4;
}

/** Builds a model from any tensor source (a checkpoint, or tensors made in memory). */
export function buildModel(cfg: LlavaConfig, src: TensorSource, onProgress?: (p: LoadProgress) => void): LlavaModel {
  const planner = new ParamPlanner();
  llavaParams(cfg, planner);
  checkPlan(planner.wanted, src, UNUSED_TENSORS);
  const weightBytes = plannedBytes(planner.wanted, false);
  assertFitsBackend(plannedBytes(planner.wanted, true) + activationBytes(cfg), `model ${src.dir}`);
  const loader = new ParamLoader(src, weightBytes, onProgress);
  return new LlavaModel(cfg, llavaParams(cfg, loader));
}

/** Loads `config.json` and the safetensors weights of a llava-hf directory. */
export async function loadModel(dir: string, opts: LoadOptions = {}): Promise<LlavaModel> {
  if (!currentBackend() || opts.backend !== undefined) await initBackend(opts.backend);
  const cfg = loadLlavaConfig(dir);
  const ckpt = Checkpoint.open(dir);
  try {
    return buildModel(cfg, checkpointSource(ckpt), opts.onProgress);
  } finally {
    ckpt.close();
  }
}
