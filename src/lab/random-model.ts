// Deterministic random LLaVA checkpoints of any shape: for tests of configurations the shared fixtures
// don't cover (grouped-query attention, other sizes) and as a stand-in model before training.
import { writeFileSync } from "node:fs";
import { makeDirs } from "../util/files.js";
import { join } from "node:path";
import { stream } from "../util/rng.js";
import { parseLlavaConfig } from "../model/config.js";
import { llavaParams } from "../model/llava.js";
import { ParamPlanner, type TensorSource } from "../weights/params.js";
import { writeSafetensors } from "../weights/safetensors-write.js";

export interface TinySpec {
  imageSize?: number;
  patchSize?: number;
  visionHidden?: number;
  visionLayers?: number;
  visionHeads?: number;
  textHidden?: number;
  textLayers?: number;
  textHeads?: number;
  kvHeads?: number;
  vocabSize?: number;
  imageTokenIndex?: number;
  seed?: number;
}

/** An HF-style config.json object (as save_pretrained writes it: only non-default keys). */
export function tinyConfigJson(s: TinySpec = {}): Record<string, unknown> {
  const vocab = s.vocabSize ?? 1024;
  const vh = s.visionHidden ?? 32;
  const th = s.textHidden ?? 32;
  return {
    architectures: ["LlavaForConditionalGeneration"],
    model_type: "llava",
    image_token_index: s.imageTokenIndex ?? vocab - 2,
    projector_hidden_act: "gelu",
    vision_feature_layer: -2,
    vision_feature_select_strategy: "default",
    pad_token_id: vocab - 1,
    vision_config: {
      model_type: "clip_vision_model",
      hidden_size: vh,
      intermediate_size: vh * 4,
      num_hidden_layers: s.visionLayers ?? 3,
      num_attention_heads: s.visionHeads ?? 4,
      image_size: s.imageSize ?? 56,
      patch_size: s.patchSize ?? 14,
    },
    text_config: {
      model_type: "llama",
      hidden_size: th,
      intermediate_size: Math.round(th * 2.7),
      num_hidden_layers: s.textLayers ?? 2,
      num_attention_heads: s.textHeads ?? 4,
      num_key_value_heads: s.kvHeads ?? s.textHeads ?? 4,
      rms_norm_eps: 1e-5,
      vocab_size: vocab,
      max_position_embeddings: 4096,
    },
  };
}

/** Initial distribution of a tensor: norms near 1, biases small, matrices scaled by 1/√fan_in. */
export function initScale(name: string, shape: number[]): { mean: number; std: number } {
  const isNorm = /norm|layrnorm/.test(name) && name.endsWith(".weight");
  const fanIn = shape.length >= 2 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1;
  const std = isNorm ? 0.1 : shape.length === 1 ? 0.02 : /embed|embedding/.test(name) ? 1 : 1 / Math.sqrt(fanIn);
  return { mean: isNorm ? 1 : 0, std };
}

/** Gaussian values for one tensor (deterministic in seed and name). */
export function initValues(name: string, shape: number[], seed: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const rng = stream(seed, "init", name);
  const out = new Float32Array(n);
  const { mean, std } = initScale(name, shape);
  for (let i = 0; i < n; i++) out[i] = mean + std * rng.normal();
  return out;
}

export function randomTensors(configJson: Record<string, unknown>, seed = 0): { name: string; shape: number[]; data: Float32Array }[] {
  const planner = new ParamPlanner();
  llavaParams(parseLlavaConfig(configJson, "random model"), planner);
  const seen = new Set<string>();
  return planner.wanted
    .filter((p) => !seen.has(p.name) && seen.add(p.name))
    .map((p) => ({ name: p.name, shape: p.shape, data: initValues(p.name, p.shape, seed) }));
}

/** An in-memory tensor source (no files). */
export function randomSource(configJson: Record<string, unknown>, seed = 0): TensorSource {
  const tensors = new Map(randomTensors(configJson, seed).map((t) => [t.name, t]));
  return {
    dir: `<random model seed ${seed}>`,
    names: () => [...tensors.keys()],
    shapeOf: (n) => tensors.get(n)!.shape,
    fileOf: () => "<memory>",
    readFloat32: (n) => tensors.get(n)!.data,
  };
}

/** Writes config.json, generation_config.json and model.safetensors (F32) into `dir`. */
export function writeRandomModel(dir: string, spec: TinySpec = {}): void {
  makeDirs(dir, "the random model");
  const cfg = tinyConfigJson(spec);
  writeFileSync(join(dir, "config.json"), JSON.stringify(cfg, null, 2) + "\n");
  writeFileSync(
    join(dir, "generation_config.json"),
    JSON.stringify({ bos_token_id: 1, eos_token_id: 2, pad_token_id: cfg.pad_token_id }, null, 2) + "\n",
  );
  const tensors = randomTensors(cfg, spec.seed ?? 0).map((t) => ({ ...t, dtype: "F32" as const }));
  writeSafetensors(join(dir, "model.safetensors"), tensors, { format: "pt" });
}
