// The published llava-hf checkpoints' layout, for random-weight stand-ins of the real models: their
// config.json and preprocessor_config.json as llava-hf ships them (transformers v4.3x–4.40 era), every
// tensor in state_dict order (the order save_pretrained shards in) and save_pretrained's sharding rule.
// Real weights cannot be downloaded here; these directories let tests and benchmarks run real sizes.

export interface LikeOptions {
  /** Decoder layers (default: the real model's). */
  textLayers?: number;
  /** CLIP encoder layers (default: the real model's). */
  visionLayers?: number;
  /** config.json `torch_dtype`. */
  torchDtype?: "float16" | "bfloat16" | "float32";
  /** Vocabulary size (default: the real model's); tests shrink it to run real widths in little memory. */
  vocabSize?: number;
  /** CLIP input size in pixels, a multiple of the patch size (default: the real model's). */
  imageSize?: number;
}

type Json = Record<string, unknown>;

/** llava-hf/llava-1.5-7b-hf config.json: the text config lists only what differs from LlamaConfig's defaults. */
function llava15_7b(): Json {
  return {
    architectures: ["LlavaForConditionalGeneration"],
    ignore_index: -100,
    image_token_index: 32000,
    model_type: "llava",
    pad_token_id: 32001,
    projector_hidden_act: "gelu",
    text_config: {
      _name_or_path: "lmsys/vicuna-7b-v1.5",
      architectures: ["LlamaForCausalLM"],
      max_position_embeddings: 4096,
      model_type: "llama",
      rms_norm_eps: 1e-5,
      torch_dtype: "float16",
      vocab_size: 32064,
    },
    tie_word_embeddings: false,
    torch_dtype: "float16",
    transformers_version: "4.36.0.dev0",
    vision_config: {
      hidden_size: 1024,
      image_size: 336,
      intermediate_size: 4096,
      model_type: "clip_vision_model",
      num_attention_heads: 16,
      num_hidden_layers: 24,
      patch_size: 14,
      projection_dim: 768,
      vocab_size: 32000,
    },
    vision_feature_layer: -2,
    vision_feature_select_strategy: "default",
  };
}

export const LIKE_MODELS: Record<string, () => Json> = { "llava-1.5-7b": llava15_7b };

/** CLIPImageProcessor settings of the llava-hf 1.5 checkpoints (shortest edge 336, centre crop 336). */
export const LLAVA_PREPROCESSOR_CONFIG: Json = {
  crop_size: { height: 336, width: 336 },
  do_center_crop: true,
  do_convert_rgb: true,
  do_normalize: true,
  do_rescale: true,
  do_resize: true,
  image_mean: [0.48145466, 0.4578275, 0.40821073],
  image_processor_type: "CLIPImageProcessor",
  image_std: [0.26862954, 0.26130258, 0.27577711],
  processor_class: "LlavaProcessor",
  resample: 3,
  rescale_factor: 0.00392156862745098,
  size: { shortest_edge: 336 },
};

/** The config.json of a published model, with fewer layers if asked (written as explicit keys). */
export function likeConfig(like: string, opts: LikeOptions = {}): Json {
  const make = LIKE_MODELS[like];
  if (!make) throw new Error(`unknown --like '${like}' (known: ${Object.keys(LIKE_MODELS).join(", ")})`);
  const cfg = make();
  const text = cfg.text_config as Json;
  const vision = cfg.vision_config as Json;
  if (opts.textLayers !== undefined) text.num_hidden_layers = positiveInt(opts.textLayers, "--text-layers");
  if (opts.visionLayers !== undefined) vision.num_hidden_layers = positiveInt(opts.visionLayers, "--vision-layers");
  if (opts.torchDtype) cfg.torch_dtype = text.torch_dtype = opts.torchDtype;
  if (opts.vocabSize !== undefined) text.vocab_size = positiveInt(opts.vocabSize, "vocab size");
  if (opts.imageSize !== undefined) {
    if (positiveInt(opts.imageSize, "image size") % (vision.patch_size as number))
      throw new Error(`image size must be a multiple of the patch size ${String(vision.patch_size)}, got ${opts.imageSize}`);
    vision.image_size = opts.imageSize;
  }
  return cfg;
}

function positiveInt(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what} must be a positive integer, got ${n}`);
  return n;
}

export interface LayoutTensor {
  name: string;
  shape: number[];
}

interface Dims {
  vh: number;
  vi: number;
  vl: number;
  patch: number;
  image: number;
  channels: number;
  th: number;
  ti: number;
  tl: number;
  heads: number;
  kvHeads: number;
  vocab: number;
}

// Only what the llava-1.5 configs need; keys absent from config.json take HF's class defaults.
function dims(cfg: Json): Dims {
  const t = cfg.text_config as Json;
  const v = cfg.vision_config as Json;
  const n = (o: Json, k: string, d: number) => (typeof o[k] === "number" ? (o[k] as number) : d);
  const heads = n(t, "num_attention_heads", 32);
  return {
    vh: n(v, "hidden_size", 768),
    vi: n(v, "intermediate_size", 3072),
    vl: n(v, "num_hidden_layers", 12),
    patch: n(v, "patch_size", 32),
    image: n(v, "image_size", 224),
    channels: n(v, "num_channels", 3),
    th: n(t, "hidden_size", 4096),
    ti: n(t, "intermediate_size", 11008),
    tl: n(t, "num_hidden_layers", 32),
    heads,
    kvHeads: n(t, "num_key_value_heads", heads),
    vocab: n(t, "vocab_size", 32000),
  };
}

/**
 * Every tensor of LlavaForConditionalGeneration's state_dict in registration order (vision tower,
 * projector, language model), names in the llava-hf (transformers ≤ 4.4x) layout, torch shapes.
 */
export function llavaLayout(cfg: Json): LayoutTensor[] {
  const d = dims(cfg);
  const out: LayoutTensor[] = [];
  const add = (name: string, ...shape: number[]) => out.push({ name, shape });
  const linear = (p: string, inDim: number, outDim: number, bias: boolean) => {
    add(`${p}.weight`, outDim, inDim);
    if (bias) add(`${p}.bias`, outDim);
  };
  const norm = (p: string, n: number) => {
    add(`${p}.weight`, n);
    add(`${p}.bias`, n);
  };
  const vm = "vision_tower.vision_model";
  add(`${vm}.embeddings.class_embedding`, d.vh);
  add(`${vm}.embeddings.patch_embedding.weight`, d.vh, d.channels, d.patch, d.patch);
  add(`${vm}.embeddings.position_embedding.weight`, (d.image / d.patch) ** 2 + 1, d.vh);
  norm(`${vm}.pre_layrnorm`, d.vh);
  for (let i = 0; i < d.vl; i++) {
    const p = `${vm}.encoder.layers.${i}`;
    for (const proj of ["k_proj", "v_proj", "q_proj", "out_proj"]) linear(`${p}.self_attn.${proj}`, d.vh, d.vh, true);
    norm(`${p}.layer_norm1`, d.vh);
    linear(`${p}.mlp.fc1`, d.vh, d.vi, true);
    linear(`${p}.mlp.fc2`, d.vi, d.vh, true);
    norm(`${p}.layer_norm2`, d.vh);
  }
  norm(`${vm}.post_layernorm`, d.vh);
  linear("multi_modal_projector.linear_1", d.vh, d.th, true);
  linear("multi_modal_projector.linear_2", d.th, d.th, true);
  add("language_model.model.embed_tokens.weight", d.vocab, d.th);
  const kv = (d.th / d.heads) * d.kvHeads;
  for (let i = 0; i < d.tl; i++) {
    const p = `language_model.model.layers.${i}`;
    linear(`${p}.self_attn.q_proj`, d.th, d.th, false);
    linear(`${p}.self_attn.k_proj`, d.th, kv, false);
    linear(`${p}.self_attn.v_proj`, d.th, kv, false);
    linear(`${p}.self_attn.o_proj`, d.th, d.th, false);
    linear(`${p}.mlp.gate_proj`, d.th, d.ti, false);
    linear(`${p}.mlp.up_proj`, d.th, d.ti, false);
    linear(`${p}.mlp.down_proj`, d.ti, d.th, false);
    add(`${p}.input_layernorm.weight`, d.th);
    add(`${p}.post_attention_layernorm.weight`, d.th);
  }
  add("language_model.model.norm.weight", d.th);
  add("language_model.lm_head.weight", d.vocab, d.th);
  return out;
}

/** save_pretrained's default max_shard_size ("5GB", decimal). */
export const HF_MAX_SHARD_BYTES = 5_000_000_000;

/**
 * Shard index of each tensor. save_pretrained's rule: tensors in order, a new shard whenever the
 * next tensor would push the current one past `maxBytes` (for llava-1.5-7b in F16 this gives its
 * published 4.99 / 4.96 / 4.18 GB shards). With `shards` given and that rule giving another count,
 * the tensors are cut into `shards` runs of about equal bytes instead.
 */
export function shardOf(bytes: number[], shards?: number, maxBytes = HF_MAX_SHARD_BYTES): number[] {
  const greedy: number[] = [];
  let shard = 0;
  let size = 0;
  for (const b of bytes) {
    if (size > 0 && size + b > maxBytes) {
      shard++;
      size = 0;
    }
    greedy.push(shard);
    size += b;
  }
  if (shards === undefined || shard + 1 === shards) return greedy;
  positiveInt(shards, "--shards");
  if (shards > bytes.length) throw new Error(`--shards ${shards}: the model has only ${bytes.length} tensors`);
  const total = bytes.reduce((a, b) => a + b, 0);
  const out: number[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    // By byte position, but never skipping a shard and leaving at least one tensor for each later one.
    const byBytes = Math.floor((shards * start) / total);
    const prev = i > 0 ? out[i - 1] : 0;
    const atLeast = shards - (bytes.length - i);
    out.push(Math.min(Math.max(byBytes, prev, atLeast), prev + 1));
    start += bytes[i];
  }
  return out;
}
