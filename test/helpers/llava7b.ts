// LLaVA-1.5-7B-shaped checkpoints for memory tests. `writeSparse7b` writes real safetensors headers
// (three shards, the llava-hf layout) over sparse files: a 14 GB directory that takes no disk, for
// plans and refusals, which read headers only. `realWidthSource` is an in-memory model with the 7B's
// widths and few layers, F16 values made by a fast generator (numbers of the right scale, no meaning).
import { closeSync, ftruncateSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { parseLlavaConfig } from "../../src/model/config.js";
import { llavaParams } from "../../src/model/llava.js";
import { f16ToF32, floatBitsToHalf } from "../../src/weights/dtype.js";
import { ParamPlanner, type TensorSource } from "../../src/weights/params.js";

/** config.json of llava-hf/llava-1.5-7b-hf, with `textLayers`/`visionLayers` CLIP and LLaMA layers. */
export function llava7bConfig(textLayers = 32, visionLayers = 24, imageSize = 336): Record<string, unknown> {
  return {
    architectures: ["LlavaForConditionalGeneration"],
    model_type: "llava",
    image_token_index: 32000,
    pad_token_id: 32001,
    projector_hidden_act: "gelu",
    vision_feature_layer: -2,
    vision_feature_select_strategy: "default",
    vision_config: { model_type: "clip_vision_model", hidden_size: 1024, intermediate_size: 4096, num_hidden_layers: visionLayers, num_attention_heads: 16, image_size: imageSize, patch_size: 14, projection_dim: 768 },
    text_config: { model_type: "llama", hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: textLayers, num_attention_heads: 32, num_key_value_heads: 32, rms_norm_eps: 1e-5, vocab_size: 32064, max_position_embeddings: 4096 },
  };
}

function planned(cfgJson: Record<string, unknown>) {
  const planner = new ParamPlanner();
  llavaParams(parseLlavaConfig(cfgJson, "7b"), planner);
  const seen = new Set<string>();
  return planner.wanted.filter((p) => !seen.has(p.name) && seen.add(p.name));
}

/** Writes config.json and three F16 shards whose data sections are sparse (zeros, no disk). */
export function writeSparse7b(dir: string, cfgJson = llava7bConfig()): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify(cfgJson, null, 2));
  const tensors = planned(cfgJson);
  const shards: (typeof tensors)[] = [[], [], []];
  tensors.forEach((t, i) => shards[Math.min(2, Math.floor((3 * i) / tensors.length))].push(t));
  const weightMap: Record<string, string> = {};
  shards.forEach((list, s) => {
    const file = `model-0000${s + 1}-of-00003.safetensors`;
    const json: Record<string, unknown> = {};
    let offset = 0;
    for (const t of list) {
      const bytes = t.shape.reduce((a, b) => a * b, 1) * 2;
      json[t.name] = { dtype: "F16", shape: t.shape, data_offsets: [offset, offset + bytes] };
      offset += bytes;
      weightMap[t.name] = file;
    }
    let header = Buffer.from(JSON.stringify(json));
    header = Buffer.concat([header, Buffer.alloc((8 - (header.length % 8)) % 8, 0x20)]);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    const fd = openSync(join(dir, file), "w");
    writeSync(fd, len);
    writeSync(fd, header);
    ftruncateSync(fd, 8 + header.length + offset);
    closeSync(fd);
  });
  writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }));
}

/** An in-memory F16 model with the 7B's widths (few layers): values N(0,1)-ish × 1/√fan_in, norms near 1. */
export function realWidthSource(cfgJson: Record<string, unknown>, seed = 1): TensorSource {
  const tensors = new Map<string, { shape: number[]; data: Uint16Array }>();
  let state = seed >>> 0 || 1;
  const f32 = new Float32Array(1);
  const bits = new Uint32Array(f32.buffer);
  for (const p of planned(cfgJson)) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const isNorm = /norm|layrnorm/.test(p.name) && p.name.endsWith(".weight");
    const fanIn = p.shape.length >= 2 ? p.shape.slice(1).reduce((a, b) => a * b, 1) : 1;
    const scale = isNorm ? 0.1 : p.shape.length === 1 ? 0.02 : /embed/.test(p.name) ? 1 : 1 / Math.sqrt(fanIn);
    // 256 distinct half values per tensor, picked by an xorshift stream: fast for 10⁸ elements
    const table = new Uint16Array(256);
    for (let i = 0; i < 256; i++) {
      f32[0] = (isNorm ? 1 : 0) + scale * ((i - 127.5) / 73.6);
      table[i] = floatBitsToHalf(bits[0]);
    }
    const data = new Uint16Array(n);
    for (let i = 0; i < n; i++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      data[i] = table[state & 255];
    }
    tensors.set(p.name, { shape: p.shape, data });
  }
  const widen = (d: Uint16Array) => {
    const out = new Float32Array(d.length);
    f16ToF32(d, out);
    return out;
  };
  return {
    dir: `<real-width model, ${tensors.size} tensors>`,
    names: () => [...tensors.keys()],
    shapeOf: (n) => tensors.get(n)!.shape,
    fileOf: () => "<memory>",
    dtypeOf: () => "F16",
    readFloat32: (n) => widen(tensors.get(n)!.data),
    readRaw: (n) => ({ dtype: "F16", data: tensors.get(n)!.data }),
  };
}
