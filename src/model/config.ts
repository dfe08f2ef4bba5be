// Typed LLaVA-1.5 config built from a Hugging Face `config.json`, with HF's class defaults for every
// key `save_pretrained` leaves out (transformers v4.40 CLIPVisionConfig / LlamaConfig / LlavaConfig).
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface VisionConfig {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  headDim: number;
  imageSize: number;
  patchSize: number;
  numChannels: number;
  layerNormEps: number;
  hiddenAct: "quick_gelu" | "gelu";
}

export interface TextConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  maxPositionEmbeddings: number;
  attentionBias: boolean;
  mlpBias: boolean;
  hiddenAct: "silu";
  tieWordEmbeddings: boolean;
}

export interface LlavaConfig {
  vision: VisionConfig;
  text: TextConfig;
  imageTokenIndex: number;
  /** Negative = counted from the end of CLIP's hidden-state list (length numLayers + 1). */
  visionFeatureLayer: number;
  visionFeatureSelectStrategy: "default" | "full";
  projectorHiddenAct: "gelu";
  projectorBias: boolean;
  bosTokenId: number;
  eosTokenId: number;
  padTokenId: number | null;
}

type Json = Record<string, unknown>;

function num(obj: Json, key: string, dflt: number, where: string): number {
  const v = obj[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`${where}: '${key}' must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function oneOf<T extends string>(obj: Json, key: string, dflt: T, allowed: readonly T[], where: string): T {
  const v = obj[key] ?? dflt;
  if (!allowed.includes(v as T)) throw new Error(`${where}: unsupported ${key} ${JSON.stringify(v)} (supported: ${allowed.join(", ")})`);
  return v as T;
}

/** Sizes above this are certainly a corrupt config (Llama-2-70B's largest is 28672). */
const MAX_SIZE = 1 << 24;

function positiveInt(n: number, key: string, where: string): number {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${where}: '${key}' must be a positive integer, got ${n}`);
  if (n > MAX_SIZE) throw new Error(`${where}: '${key}' ${n} is implausibly large (limit ${MAX_SIZE})`);
  return n;
}

/** eps, rope_theta: a zero or negative value gives NaN/Inf activations, not an error, so catch it here. */
function positiveNum(obj: Json, key: string, dflt: number, where: string): number {
  const v = num(obj, key, dflt, where);
  if (!(v > 0)) throw new Error(`${where}: '${key}' must be a positive number, got ${v}`);
  return v;
}

/** Token ids: a non-negative integer (or null/absent where the key is optional). */
function tokenId(obj: Json, key: string, dflt: number, where: string): number;
function tokenId(obj: Json, key: string, dflt: null, where: string): number | null;
function tokenId(obj: Json, key: string, dflt: number | null, where: string): number | null {
  const v = obj[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
    throw new Error(`${where}: '${key}' must be a non-negative integer token id, got ${JSON.stringify(v)}`);
  return v;
}

function bool(obj: Json, key: string, dflt: boolean, where: string): boolean {
  const v = obj[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== "boolean") throw new Error(`${where}: '${key}' must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function section(raw: Json, key: string, where: string): Json | undefined {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "object" || Array.isArray(v)) throw new Error(`${where}: '${key}' must be a JSON object, got ${JSON.stringify(v)}`);
  return v as Json;
}

/** CLIPVisionConfig; when `vision_config` is absent LlavaConfig uses the ViT-L/14-336 values. */
export function parseVisionConfig(raw: Json | undefined, where: string): VisionConfig {
  const w = `${where} vision_config`;
  const d =
    raw === undefined
      ? { hidden: 1024, inter: 4096, layers: 24, heads: 16, image: 336, patch: 14 }
      : { hidden: 768, inter: 3072, layers: 12, heads: 12, image: 224, patch: 32 };
  const c = raw ?? {};
  const modelType = c.model_type ?? "clip_vision_model";
  if (modelType !== "clip_vision_model")
    throw new Error(`${w}: unsupported vision model_type ${JSON.stringify(modelType)} (supported: clip_vision_model)`);
  const hiddenSize = positiveInt(num(c, "hidden_size", d.hidden, w), "hidden_size", w);
  const numHeads = positiveInt(num(c, "num_attention_heads", d.heads, w), "num_attention_heads", w);
  if (hiddenSize % numHeads !== 0) throw new Error(`${w}: hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}`);
  const imageSize = positiveInt(num(c, "image_size", d.image, w), "image_size", w);
  const patchSize = positiveInt(num(c, "patch_size", d.patch, w), "patch_size", w);
  if (imageSize % patchSize !== 0) throw new Error(`${w}: image_size ${imageSize} is not a multiple of patch_size ${patchSize}`);
  return {
    hiddenSize,
    intermediateSize: positiveInt(num(c, "intermediate_size", d.inter, w), "intermediate_size", w),
    numLayers: positiveInt(num(c, "num_hidden_layers", d.layers, w), "num_hidden_layers", w),
    numHeads,
    headDim: hiddenSize / numHeads,
    imageSize,
    patchSize,
    numChannels: positiveInt(num(c, "num_channels", 3, w), "num_channels", w),
    layerNormEps: positiveNum(c, "layer_norm_eps", 1e-5, w),
    hiddenAct: oneOf(c, "hidden_act", "quick_gelu", ["quick_gelu", "gelu"] as const, w),
  };
}

/** LlamaConfig defaults (Llama-2-7B sizes). */
export function parseTextConfig(raw: Json | undefined, where: string): TextConfig {
  const w = `${where} text_config`;
  const c = raw ?? {};
  const modelType = c.model_type ?? "llama";
  if (modelType !== "llama") throw new Error(`${w}: unsupported text model_type ${JSON.stringify(modelType)} (supported: llama)`);
  if (c.rope_scaling !== undefined && c.rope_scaling !== null) throw new Error(`${w}: rope_scaling is not supported (LLaVA-1.5 uses none)`);
  const hiddenSize = positiveInt(num(c, "hidden_size", 4096, w), "hidden_size", w);
  const numHeads = positiveInt(num(c, "num_attention_heads", 32, w), "num_attention_heads", w);
  const numKvHeads = positiveInt(num(c, "num_key_value_heads", numHeads, w), "num_key_value_heads", w);
  if (numHeads % numKvHeads !== 0)
    throw new Error(`${w}: num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  const headDim = positiveInt(num(c, "head_dim", hiddenSize / numHeads, w), "head_dim", w);
  return {
    vocabSize: positiveInt(num(c, "vocab_size", 32000, w), "vocab_size", w),
    hiddenSize,
    intermediateSize: positiveInt(num(c, "intermediate_size", 11008, w), "intermediate_size", w),
    numLayers: positiveInt(num(c, "num_hidden_layers", 32, w), "num_hidden_layers", w),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: positiveNum(c, "rms_norm_eps", 1e-6, w),
    ropeTheta: positiveNum(c, "rope_theta", 10000, w),
    maxPositionEmbeddings: positiveInt(num(c, "max_position_embeddings", 2048, w), "max_position_embeddings", w),
    attentionBias: bool(c, "attention_bias", false, w),
    mlpBias: bool(c, "mlp_bias", false, w),
    hiddenAct: oneOf(c, "hidden_act", "silu", ["silu"] as const, w),
    tieWordEmbeddings: bool(c, "tie_word_embeddings", false, w),
  };
}

export function parseLlavaConfig(raw: Json, where = "config.json"): LlavaConfig {
  const archs = raw.architectures as unknown;
  if (archs !== undefined && archs !== null && !(Array.isArray(archs) && archs.every((a) => typeof a === "string"))) {
    throw new Error(`${where}: "architectures" must be a list of class names, got ${JSON.stringify(archs)}`);
  }
  const arch = Array.isArray(archs) ? archs[0] : undefined;
  if (raw.model_type === undefined) {
    throw new Error(`${where}: missing "model_type" (a LLaVA-1.5 checkpoint's config.json has "model_type": "llava")`);
  }
  if (raw.model_type !== "llava" || (arch !== undefined && arch !== "LlavaForConditionalGeneration")) {
    throw new Error(
      `${where}: unsupported architecture ${JSON.stringify(arch ?? raw.model_type)} (supported: LlavaForConditionalGeneration, model_type "llava")`,
    );
  }
  const vision = parseVisionConfig(section(raw, "vision_config", where), where);
  const text = parseTextConfig(section(raw, "text_config", where), where);
  if (bool(raw, "tie_word_embeddings", false, where)) text.tieWordEmbeddings = true;
  const featureLayer = raw.vision_feature_layer ?? -2;
  if (typeof featureLayer !== "number" || !Number.isInteger(featureLayer)) {
    throw new Error(
      `${where}: vision_feature_layer must be one integer, got ${JSON.stringify(featureLayer)} (lists of layers are not supported)`,
    );
  }
  const hiddenStates = vision.numLayers + 1;
  if (featureLayer < -hiddenStates || featureLayer >= hiddenStates) {
    throw new Error(`${where}: vision_feature_layer ${featureLayer} is out of range for ${vision.numLayers} vision layers`);
  }
  const tc = section(raw, "text_config", where) ?? {};
  return {
    vision,
    text,
    imageTokenIndex: tokenId(raw, "image_token_index", 32000, where),
    visionFeatureLayer: featureLayer,
    visionFeatureSelectStrategy: oneOf(raw, "vision_feature_select_strategy", "default", ["default", "full"] as const, where),
    projectorHiddenAct: oneOf(raw, "projector_hidden_act", "gelu", ["gelu"] as const, where),
    projectorBias: bool(raw, "multimodal_projector_bias", true, where),
    bosTokenId: tokenId(tc, "bos_token_id", 1, where),
    eosTokenId: tokenId(tc, "eos_token_id", 2, where),
    padTokenId: tokenId(raw, "pad_token_id", null, where) ?? tokenId(tc, "pad_token_id", null, where),
  };
}

export function loadLlavaConfig(modelDir: string): LlavaConfig {
  const path = join(modelDir, "config.json");
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`${path}: cannot read model config (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: invalid JSON (${(e as Error).message})`, { cause: e });
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error(`${path}: expected a JSON object`);
  return parseLlavaConfig(raw as Json, path);
}

/** Index into CLIP's hidden-state list (0 = after pre_layrnorm) that feeds the projector. */
export function selectedHiddenIndex(cfg: LlavaConfig): number {
  const n = cfg.vision.numLayers + 1;
  return cfg.visionFeatureLayer < 0 ? n + cfg.visionFeatureLayer : cfg.visionFeatureLayer;
}

/** Number of image tokens one image becomes in the LLM sequence. */
export function numImageTokens(cfg: LlavaConfig): number {
  const grid = cfg.vision.imageSize / cfg.vision.patchSize;
  return grid * grid + (cfg.visionFeatureSelectStrategy === "full" ? 1 : 0);
}
