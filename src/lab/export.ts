// Writing and reading what training produces: a llava-hf model directory (config.json,
// generation_config.json, preprocessor_config.json, tokenizer files, model.safetensors) that
// loadModel() opens like any downloaded checkpoint, and the optimizer state beside a checkpoint.
import { writeFileSync } from "node:fs";
import { makeDirs } from "../util/files.js";
import { join } from "node:path";
import { Checkpoint } from "../weights/checkpoint.js";
import { type SafetensorsDtype } from "../weights/safetensors.js";
import { writeSafetensors } from "../weights/safetensors-write.js";
import { OPENAI_CLIP_MEAN, OPENAI_CLIP_STD } from "../vision/index.js";
import { tinyConfigJson, type TinySpec } from "./random-model.js";
import { checkpointData, type TrainParam } from "./variables.js";
import { labVocabInfo, writeLabTokenizer } from "./vocab.js";
import type { AdamW } from "./adamw.js";

export type LabModelSpec = Omit<TinySpec, "vocabSize" | "imageTokenIndex" | "seed">;

/** Default lab model: 56-px images (16 image tokens), small CLIP and LLaMA, the lab vocabulary. */
export const LAB_MODEL: LabModelSpec = {
  imageSize: 56,
  patchSize: 14,
  visionHidden: 64,
  visionLayers: 3,
  visionHeads: 4,
  textHidden: 128,
  textLayers: 2,
  textHeads: 4,
  kvHeads: 4,
};

/** config.json for the lab vocabulary: `<image>` and `<pad>` are its last two ids, as tinyConfigJson lays out. */
export function labConfigJson(spec: LabModelSpec = LAB_MODEL): Record<string, unknown> {
  const v = labVocabInfo();
  const cfg = tinyConfigJson({ ...spec, vocabSize: v.vocabSize, imageTokenIndex: v.imageTokenId });
  const text = cfg.text_config as Record<string, unknown>;
  Object.assign(text, { bos_token_id: v.bosTokenId, eos_token_id: v.eosTokenId, pad_token_id: v.padTokenId, max_position_embeddings: 512 });
  return { ...cfg, pad_token_id: v.padTokenId, torch_dtype: "float32", transformers_version: "4.40.0" };
}

/** llava-hf's CLIPImageProcessor settings at the lab's image size. */
export function labPreprocessorJson(imageSize: number): Record<string, unknown> {
  return {
    crop_size: { height: imageSize, width: imageSize },
    do_center_crop: true,
    do_convert_rgb: true,
    do_normalize: true,
    do_rescale: true,
    do_resize: true,
    image_mean: OPENAI_CLIP_MEAN,
    image_std: OPENAI_CLIP_STD,
    image_processor_type: "CLIPImageProcessor",
    processor_class: "LlavaProcessor",
    resample: 3,
    rescale_factor: 1 / 255,
    size: { shortest_edge: imageSize },
  };
}

/** Writes a complete model directory with the current parameter values. */
export function writeModelDir(
  dir: string,
  configJson: Record<string, unknown>,
  params: TrainParam[],
  dtype: SafetensorsDtype = "F32",
  metadata: Record<string, string> = {},
): void {
  makeDirs(dir, "the exported model");
  const v = labVocabInfo();
  const imageSize = (configJson.vision_config as { image_size: number }).image_size;
  const json = (name: string, obj: object) => writeFileSync(join(dir, name), JSON.stringify(obj, null, 2) + "\n");
  json("config.json", configJson);
  json("generation_config.json", {
    bos_token_id: v.bosTokenId,
    eos_token_id: v.eosTokenId,
    pad_token_id: v.padTokenId,
    do_sample: false,
    max_new_tokens: 32,
  });
  json("preprocessor_config.json", labPreprocessorJson(imageSize));
  writeLabTokenizer(dir);
  const tensors = params.map((p) => ({ name: p.name, shape: p.ckptShape, dtype, data: checkpointData(p) }));
  writeSafetensors(join(dir, "model.safetensors"), tensors, { format: "pt", ...metadata });
}

/** Adam moments, in variable layout, as `<dir>/optimizer/model.safetensors` (readable by Checkpoint). */
export function writeOptimizerState(dir: string, opt: AdamW): void {
  const sub = join(dir, "optimizer");
  makeDirs(sub, "the optimizer state");
  const tensors = opt.params.flatMap((p) => [
    { name: `m.${p.name}`, shape: p.variable.shape, dtype: "F32" as const, data: opt.m.get(p.name)!.dataSync() as Float32Array },
    { name: `v.${p.name}`, shape: p.variable.shape, dtype: "F32" as const, data: opt.v.get(p.name)!.dataSync() as Float32Array },
  ]);
  writeSafetensors(join(sub, "model.safetensors"), tensors, { t: String(opt.t) });
}

export function readOptimizerState(dir: string, opt: AdamW, t: number): void {
  const ckpt = Checkpoint.open(join(dir, "optimizer"));
  try {
    const m = new Map(opt.params.map((p) => [p.name, ckpt.readFloat32(`m.${p.name}`)]));
    const v = new Map(opt.params.map((p) => [p.name, ckpt.readFloat32(`v.${p.name}`)]));
    opt.load(t, m, v);
  } finally {
    ckpt.close();
  }
}
