// A model with LLaVA-1.5-7B's widths and few layers, as a TensorSource whose F16 values are made on
// demand from each tensor's name (no storage, no files): real-width memory and bit-identity checks
// without a 14 GB directory. Values have the right scale (1/√fan_in, norms near 1) and no meaning.
import { parseLlavaConfig } from "../../src/model/config.js";
import { llavaParams } from "../../src/model/llava.js";
import { f16ToF32, floatBitsToHalf } from "../../src/weights/dtype.js";
import { ParamPlanner, type TensorSource } from "../../src/weights/params.js";

/** config.json of llava-hf/llava-1.5-7b-hf with `textLayers` LLaMA and `visionLayers` CLIP layers. */
export function llava7bConfig(textLayers = 32, visionLayers = 24, imageSize = 336): Record<string, unknown> {
  return {
    architectures: ["LlavaForConditionalGeneration"],
    model_type: "llava",
    image_token_index: 32000,
    pad_token_id: 32001,
    projector_hidden_act: "gelu",
    vision_feature_layer: -2,
    vision_feature_select_strategy: "default",
    vision_config: {
      model_type: "clip_vision_model",
      hidden_size: 1024,
      intermediate_size: 4096,
      num_hidden_layers: visionLayers,
      num_attention_heads: 16,
      image_size: imageSize,
      patch_size: 14,
      projection_dim: 768,
    },
    text_config: {
      model_type: "llama",
      hidden_size: 4096,
      intermediate_size: 11008,
      num_hidden_layers: textLayers,
      num_attention_heads: 32,
      num_key_value_heads: 32,
      rms_norm_eps: 1e-5,
      vocab_size: 32064,
      max_position_embeddings: 4096,
    },
  };
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0 || 1;
}

/** One tensor's F16 values: 256 distinct halves of the right scale, picked by an xorshift stream. */
function values(name: string, shape: number[]): Uint16Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const isNorm = /norm|layrnorm/.test(name) && name.endsWith(".weight");
  const fanIn = shape.length >= 2 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1;
  const scale = isNorm ? 0.1 : shape.length === 1 ? 0.02 : /embed/.test(name) ? 1 : 1 / Math.sqrt(fanIn);
  const f32 = new Float32Array(1);
  const bits = new Uint32Array(f32.buffer);
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    f32[0] = (isNorm ? 1 : 0) + scale * ((i - 127.5) / 73.6); // uniform, unit variance
    table[i] = floatBitsToHalf(bits[0]);
  }
  const out = new Uint16Array(n);
  let state = hash(name);
  for (let i = 0; i < n; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = table[state & 255];
  }
  return out;
}

export function realWidthSource(cfgJson: Record<string, unknown>): TensorSource {
  const planner = new ParamPlanner();
  llavaParams(parseLlavaConfig(cfgJson, "real-width model"), planner);
  const shapes = new Map(planner.wanted.map((p) => [p.name, p.shape]));
  return {
    dir: `<real-width model, ${shapes.size} tensors>`,
    names: () => [...shapes.keys()],
    shapeOf: (n) => shapes.get(n)!,
    fileOf: () => "<generated>",
    dtypeOf: () => "F16",
    readRaw: (n) => ({ dtype: "F16", data: values(n, shapes.get(n)!) }),
    readFloat32: (n) => {
      const raw = values(n, shapes.get(n)!);
      const out = new Float32Array(raw.length);
      f16ToF32(raw, out);
      return out;
    },
  };
}
