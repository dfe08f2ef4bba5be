// The wasm heap against live tensor bytes, decoder layer by decoder layer, on a model with LLaVA-1.5-7B's
// widths (benchmarks/lib/real-width.ts, no files): does the heap keep growing as layers stream through it?
//   node dist/benchmarks/heap-layers.js [--layers 8] [--s 704] [--policy stream|budget|native] [--resident GiB]
// Prints the heap (HEAPU8.length: wasm memory never shrinks, so this is its high-water mark) and
// tf.memory().numBytes when each layer has computed its q/k/v, and the plan's backend peak.
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend.js";
import { buildModel, memoryPlanOf } from "../src/model/load.js";
import { parseLlavaConfig } from "../src/model/config.js";
import { KVCache } from "../src/model/kv-cache.js";
import type { ResidencyPolicy } from "../src/model/residency.js";
import type { Tap } from "../src/model/hooks.js";
import { arg } from "./common.js";
import { llava7bConfig, realWidthSource } from "./lib/real-width.js";

const gib = (b: number) => `${(b / 2 ** 30).toFixed(3)} GiB`;
const heap = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;

async function main(): Promise<void> {
  await initBackend("wasm");
  const layers = Number(arg("layers", "8"));
  const S = Number(arg("s", "704"));
  const policy = arg("policy", "stream") as ResidencyPolicy;
  const cfgJson = llava7bConfig(layers, 1, 112);
  const cfg = parseLlavaConfig(cfgJson);
  const residentBytes = Number(arg("resident", "0")) * 2 ** 30;
  const workload = { promptTokens: S, maxNewTokens: 2 };
  const model = buildModel(cfg, realWidthSource(cfgJson), { residency: { policy, workload, ...(residentBytes ? { residentBytes } : {}) } });
  const plan = memoryPlanOf(model)!;
  console.log(
    `${plan.policy}, ${layers} layers, ${S} positions: plan backend peak ${gib(plan.backendPeakBytes)}; after load heap ${gib(heap())}`,
  );
  const cache = new KVCache(layers);
  const tap: Tap = (_m, layer, name) => {
    if (name === "v") console.log(`  layer ${layer}: heap ${gib(heap())}, live tensors ${gib(tf.memory().numBytes)}`);
  };
  const ids = [Array.from({ length: S }, (_, i) => 100 + i)];
  tf.tidy(() => model.decode(model.embed(ids), { cache, logits: "last", tap }).logits!.dataSync());
  console.log(`end: heap ${gib(heap())}, live ${gib(tf.memory().numBytes)}, rss ${gib(process.memoryUsage().rss)}`);
  cache.dispose();
  model.dispose();
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
