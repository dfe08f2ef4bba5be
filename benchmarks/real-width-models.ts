// Random-weight models at the widths users run, made in memory for benchmarks/real-width.ts:
// - "clip": CLIP ViT-L/14-336 (24 layers, width 1024, 577 tokens) + LLaVA-1.5-7B's projector
//   (1024 → 4096 → 4096); its text model is a stub of width 4096 (one layer with a 16-wide MLP and one kv
//   head) because the config format wants one, and it is never run.
// - "text": one Vicuna-7B decoder layer (width 4096, 32 heads of 128, FFN 11008) + norm + lm_head and
//   embeddings over LLaMA's 32 064 tokens; a small CLIP (width 64, 56 px → 16 image tokens) for CausalMM's
//   vision branch.
// Values are drawn lazily, one tensor at a time while the loader uploads it (no copy of the whole model
// in JS memory): uniform with the variance of N(0, 1/fan_in) for matrices, 1 ± 0.1 for norms.
import { parseLlavaConfig, type LlavaConfig } from "../src/model/config.js";
import { llavaParams, type LlavaModel } from "../src/model/llava.js";
import { ParamPlanner, type TensorSource } from "../src/weights/params.js";

export type RealWidthPart = "clip" | "text";

/** Prompt length of the real model's golden-style prompt: 18 text tokens + 576 image tokens + 1. */
export const PROMPT_POSITIONS = 595;

/** For op profiles: fewer CLIP layers, a smaller vocabulary (the widths stay). */
export interface RealWidthOverrides {
  visionLayers?: number;
  vocabSize?: number;
}

export function realWidthConfigJson(part: RealWidthPart, o: RealWidthOverrides = {}): Record<string, unknown> {
  const vision =
    part === "clip"
      ? { hidden_size: 1024, intermediate_size: 4096, num_hidden_layers: 24, num_attention_heads: 16, image_size: 336, patch_size: 14 }
      : { hidden_size: 64, intermediate_size: 256, num_hidden_layers: 3, num_attention_heads: 4, image_size: 56, patch_size: 14 };
  const text =
    part === "clip"
      ? { hidden_size: 4096, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 32, num_key_value_heads: 1, vocab_size: 64 }
      : {
          hidden_size: 4096,
          intermediate_size: 11008,
          num_hidden_layers: 1,
          num_attention_heads: 32,
          num_key_value_heads: 32,
          vocab_size: 32064,
        };
  if (o.visionLayers) vision.num_hidden_layers = o.visionLayers;
  if (o.vocabSize) text.vocab_size = o.vocabSize;
  const vocab = text.vocab_size;
  return {
    architectures: ["LlavaForConditionalGeneration"],
    model_type: "llava",
    image_token_index: vocab - 2,
    projector_hidden_act: "gelu",
    vision_feature_layer: -2,
    vision_feature_select_strategy: "default",
    pad_token_id: vocab - 1,
    vision_config: { model_type: "clip_vision_model", hidden_act: "quick_gelu", layer_norm_eps: 1e-5, ...vision },
    // max_position_embeddings bounds the loader's activation estimate (a 2k prompt would not fit 4 GiB next to the weights)
    text_config: { model_type: "llama", rms_norm_eps: 1e-5, max_position_embeddings: 640, ...text },
  };
}

export function realWidthConfig(part: RealWidthPart, o: RealWidthOverrides = {}): LlavaConfig {
  return parseLlavaConfig(realWidthConfigJson(part, o), `real-width ${part} model`);
}

/** xorshift32 uniform in [-1, 1). */
function fill(out: Float32Array, seed: number, centre: number, halfWidth: number): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = centre + halfWidth * ((s >>> 0) / 2147483648 - 1);
  }
  return out;
}

/** A tensor source drawing each planned tensor's values when it is read. */
export function lazyRandomSource(cfg: LlavaConfig, seed = 0): TensorSource {
  const planner = new ParamPlanner();
  llavaParams(cfg, planner);
  const shapes = new Map(planner.wanted.map((p) => [p.name, p.shape]));
  const names = [...shapes.keys()];
  return {
    dir: `<real-width random model seed ${seed}>`,
    names: () => names,
    shapeOf: (n) => shapes.get(n)!,
    fileOf: () => "<memory>",
    readFloat32: (n) => {
      const shape = shapes.get(n)!;
      const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
      const isNorm = /norm|layrnorm/.test(n) && n.endsWith(".weight");
      const fanIn = shape.length >= 2 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1;
      // uniform on [-a, a] has variance a²/3
      const a = isNorm ? 0.1 : shape.length === 1 ? 0.02 : /embed/.test(n) ? 1 : Math.sqrt(3 / fanIn);
      return fill(out, seed * 7919 + names.indexOf(n) + 1, isNorm ? 1 : 0, a);
    },
  };
}

/** The text rows' prompt: BOS, 40 text ids, the image placeholder, text ids up to PROMPT_POSITIONS embedded positions. */
export function textPrompt(model: LlavaModel): number[][] {
  const img = model.config.imageTokenIndex;
  const after = PROMPT_POSITIONS - 41 - model.numImageTokens;
  return [[1, ...Array.from({ length: 40 }, (_, i) => 100 + i), img, ...Array.from({ length: after }, (_, i) => 200 + ((i * 37) % 30000))]];
}
