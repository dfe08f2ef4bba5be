// Memory plan against measured memory, per residency policy, on a model with LLaVA-1.5-7B's widths
// and few layers (benchmarks/lib/real-width.ts; no files). One run per process, so the peaks are its
// own: peak live tfjs bytes (counted on every tensor registration), the wasm heap, and VmHWM.
//   node dist/benchmarks/residency.js --backend wasm --policy stream [--resident 2GiB] [--text-layers 1]
//        [--vision-layers 2] [--image 336] [--new 2] [--cf SPEC] [--json]
// --cf runs CausalMM (one --cf entry, e.g. both) through its batched branches, with the plan provisioned as
// `causalmm ask --cf SPEC` provisions it.
import * as tf from "@tensorflow/tfjs-core";
import { readFileSync } from "node:fs";
import { initBackend } from "../src/backend.js";
import { buildModel, memoryPlanOf } from "../src/model/load.js";
import { numImageTokens, parseLlavaConfig } from "../src/model/config.js";
import { greedyDecode } from "../src/generate/greedy.js";
import { generate } from "../src/generate/generate.js";
import { buildPlan } from "../src/causal/presets.js";
import { decodingSource } from "../src/causal/decoding.js";
import type { LlavaModel } from "../src/model/llava.js";
import type { ResidencyPolicy } from "../src/model/residency.js";
import { cfBranchCount, parseBytes } from "../src/cli/residency.js";
import { arg } from "./common.js";
import { llava7bConfig, realWidthSource } from "./lib/real-width.js";

function vmHwm(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Peak of tf.memory().numBytes, updated whenever the engine registers a tensor. */
function trackPeak(): () => number {
  const engine = tf.engine() as unknown as { trackTensor(a: unknown, b: unknown): void; state: { numBytes: number } };
  const orig = engine.trackTensor.bind(engine);
  let peak = engine.state.numBytes;
  engine.trackTensor = (a, b) => {
    orig(a, b);
    if (engine.state.numBytes > peak) peak = engine.state.numBytes;
  };
  return () => peak;
}

/**
 * The highest heap address any tensor allocation reached: what the backend had to hold. HEAPU8.length can be
 * up to 20 % more (emscripten grows the heap to max(request, 1.2 × its size)); allocations XNNPACK makes from
 * C (packed weights) are not seen here, so this is a lower bound where weights are packed.
 */
function trackHeapTop(): () => number {
  const wasm = (tf.backend() as unknown as { wasm?: { _malloc(n: number): number } }).wasm;
  if (!wasm) return () => 0;
  const malloc = wasm._malloc.bind(wasm);
  let top = 0;
  wasm._malloc = (n: number) => {
    const p = malloc(n);
    top = Math.max(top, (p >>> 0) + n);
    return p;
  };
  return () => top;
}

/** Greedy CausalMM tokens of `--cf spec` (paper preset) through the batched branches. */
function causalTokens(model: LlavaModel, spec: string, ids: number[], pixels: tf.Tensor4D, n: number): number[] {
  const source = decodingSource(model, buildPlan({ cf: [spec] }, model.config), { prompts: { main: [ids] }, pixels });
  try {
    return generate(source, { maxNewTokens: n }).tokens[0];
  } finally {
    source.dispose();
  }
}

async function main(): Promise<void> {
  const backend = arg("backend", "wasm");
  const policy = arg("policy", "stream") as ResidencyPolicy;
  const resident = arg("resident", "");
  const newTokens = Number(arg("new", "2"));
  const image = Number(arg("image", "336"));
  await initBackend(backend);
  const cfgJson = llava7bConfig(Number(arg("text-layers", "1")), Number(arg("vision-layers", "2")), image);
  const cfg = parseLlavaConfig(cfgJson);
  const ids = [1, 319, 1799, 9047, 13, 3148, 1001, 29901, cfg.imageTokenIndex, 13, 1724, 338, 445, 29973, 319, 1799, 9047, 29901];
  const cf = arg("cf", "");
  const extra = cf ? cfBranchCount([cf], 1) : { rows: 0, images: 0 };
  const workload = {
    promptTokens: ids.length - 1 + numImageTokens(cfg),
    maxNewTokens: newTokens,
    rows: 1 + extra.rows,
    images: 1 + extra.images,
  };
  const peak = trackPeak();
  const heapTop = trackHeapTop();
  const heap0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const model = buildModel(cfg, realWidthSource(cfgJson), {
    residency: { policy, workload, ...(resident ? { residentBytes: parseBytes(resident) } : {}) },
  });
  const loadMs = performance.now() - t0;
  const pixels = tf.randomUniform([1, 3, image, image], -1, 1, "float32", 7) as tf.Tensor4D;
  const t1 = performance.now();
  const tokens = cf ? [causalTokens(model, cf, ids, pixels, newTokens)] : greedyDecode(model, [ids], pixels, newTokens).tokens;
  const runMs = performance.now() - t1;
  const plan = memoryPlanOf(model)!;
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8?.length ?? 0;
  const out = {
    backend,
    policy: plan.policy,
    cf: cf || null,
    rows: workload.rows,
    resident: [...plan.residency.resident],
    tokens: tokens[0],
    loadMs,
    runMs,
    plan: {
      tensorPeak: plan.tensorPeakBytes,
      backendPeak: plan.backendPeakBytes,
      processPeak: plan.processPeakBytes,
      host: plan.hostBytes,
    },
    measured: { tensorPeak: peak(), wasmHeap: heap, wasmHeapTop: heapTop(), vmHwm: vmHwm(), rssAtStart: heap0 },
  };
  if (process.argv.includes("--json")) process.stdout.write(JSON.stringify(out) + "\n");
  else {
    const g = (b: number) => `${(b / 1024 ** 3).toFixed(2)} GiB`;
    console.log(`${backend} ${plan.policy}: load ${loadMs.toFixed(0)} ms, run ${runMs.toFixed(0)} ms, tokens ${tokens[0].join(",")}`);
    console.log(`  tensors: plan ${g(out.plan.tensorPeak)}, measured ${g(out.measured.tensorPeak)}`);
    console.log(`  backend: plan ${g(out.plan.backendPeak)}, wasm heap ${g(heap)} (highest tensor allocation ${g(heapTop())})`);
    console.log(`  process: plan ${g(out.plan.processPeak)}, VmHWM ${g(out.measured.vmHwm)}`);
  }
  pixels.dispose();
  model.dispose();
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
