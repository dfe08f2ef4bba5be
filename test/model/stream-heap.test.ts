// Under residency `stream` the wasm heap is bounded by one layer: each decoder layer is uploaded, packed
// by XNNPACK, used and freed, so a model with twice the layers needs no more heap. Checked on a model of
// moderate width (decoder 2048 wide, FFN 5504, 16 heads: 193 MiB of float32 weights per layer, plus
// XNNPACK's packed copies; F16 values generated from the tensor names, no files; benchmarks/heap-layers.ts measured
// the same at 7B widths by hand). The heap (HEAPU8.length) never shrinks, so it is its own high-water mark:
// running N layers and then 2N layers in one process, leaking one FFN matrix per layer fails it (tried by hand).
import { beforeAll, describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend.js";
import { buildModel, memoryPlanOf } from "../../src/model/load.js";
import { parseLlavaConfig } from "../../src/model/config.js";
import { KVCache } from "../../src/model/kv-cache.js";
import type { Tap } from "../../src/model/hooks.js";
import { llava7bConfig, realWidthSource } from "../../benchmarks/lib/real-width.js";

const N = 3;
const S = 32;
const POLICY = "stream";
const heap = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;

function moderateConfig(layers: number): Record<string, unknown> {
  const cfg = llava7bConfig(layers, 1, 28);
  const text = cfg.text_config as Record<string, unknown>;
  Object.assign(text, { hidden_size: 2048, intermediate_size: 5504, num_attention_heads: 16, num_key_value_heads: 16, vocab_size: 128 });
  return cfg;
}

interface HeapRun {
  /** heap and live tensor bytes when layer i has computed its q/k/v (every earlier layer has run and been freed) */
  atLayer: { heap: number; live: number }[];
  end: number;
}

function runStreamed(layers: number): HeapRun {
  const cfgJson = moderateConfig(layers);
  const cfg = parseLlavaConfig(cfgJson);
  const model = buildModel(cfg, realWidthSource(cfgJson), {
    residency: { policy: POLICY, workload: { promptTokens: S, maxNewTokens: 1 } },
  });
  const cache = new KVCache(layers);
  try {
    expect(memoryPlanOf(model)!.residency.resident.size).toBe(0);
    const atLayer: HeapRun["atLayer"] = [];
    const tap: Tap = (_m, _layer, name) => {
      if (name === "v") atLayer.push({ heap: heap(), live: tf.memory().numBytes });
    };
    const ids = [Array.from({ length: S }, (_, i) => 1 + (i % 120))];
    const logits = tf.tidy(() => model.decode(model.embed(ids), { cache, logits: "last", tap }).logits!.dataSync());
    expect(logits.every(Number.isFinite)).toBe(true);
    return { atLayer, end: heap() };
  } finally {
    cache.dispose();
    model.dispose();
  }
}

describe("wasm heap under residency stream (decoder width 2048)", () => {
  beforeAll(async () => {
    await initBackend("wasm");
  });

  test(`${2 * N} streamed layers need no more heap than ${N}`, () => {
    const before = tf.memory().numTensors;
    const small = runStreamed(N);
    const big = runStreamed(2 * N);
    expect(tf.memory().numTensors, "no tensors left behind").toBe(before);
    const f32 = layerFloat32Bytes(moderateConfig(1));
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
    // the heap held a streamed layer (its float32 weights at least), and far less than the 2N layers resident
    expect(small.end).toBeGreaterThan(f32);
    expect(big.end, `heap ${mib(big.end)} against ${2 * N} layers' float32 ${mib(2 * N * f32)}`).toBeLessThan(2 * f32);
    // twice the layers: the high-water mark grows by less than half a layer (wasm memory grows in steps of ≤ 96 MiB)
    expect(big.end - small.end, `heap after ${N} layers ${mib(small.end)}, after ${2 * N} ${mib(big.end)}`).toBeLessThan(f32 / 2);
    // layer by layer, once the first layer has run and been freed: the heap stays flat, live tensors grow by the KV cache only
    // (each layer's KV cache is allocated with room to grow, a few MiB here; a leaked layer would be 202 MiB)
    const kvPerLayer = f32 / 50;
    for (let i = 2; i < big.atLayer.length; i++) {
      expect(big.atLayer[i].heap - big.atLayer[1].heap, `heap at layer ${i}`).toBeLessThan(f32 / 2);
      expect(big.atLayer[i].live - big.atLayer[1].live, `live tensors at layer ${i}`).toBeLessThanOrEqual((i - 1) * kvPerLayer);
    }
  }, 300_000);
});

/** Float32 bytes of one decoder layer's weights: q, k, v, o [D,D], gate and up [I,D], down [D,I], two norms. */
function layerFloat32Bytes(cfgJson: Record<string, unknown>): number {
  const t = parseLlavaConfig(cfgJson).text;
  return 4 * (4 * t.hiddenSize ** 2 + 3 * t.hiddenSize * t.intermediateSize + 2 * t.hiddenSize);
}
