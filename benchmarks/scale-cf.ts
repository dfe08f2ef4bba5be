// CausalMM (`--cf both` and one-branch cases) at LLaVA-1.5-7B widths with few layers, on wasm under a
// residency policy (default native): the memory plan against the measured peaks — live tfjs bytes,
// the wasm heap (HEAPU8.length: wasm memory never shrinks, so this is its high-water mark) and VmHWM —
// and the peak of each phase (vision, each branch group's prefill, decode). No files (benchmarks/lib).
//   node dist/benchmarks/scale-cf.js [--cf both] [--text-layers 2] [--vision-layers 2] [--image 336]
//        [--text 58] [--new 2] [--policy native] [--json]
import * as tf from "@tensorflow/tfjs-core";
import { readFileSync } from "node:fs";
import { initBackend } from "../src/backend.js";
import { buildModel, memoryPlanOf } from "../src/model/load.js";
import { numImageTokens, parseLlavaConfig } from "../src/model/config.js";
import type { ResidencyPolicy } from "../src/model/residency.js";
import { buildPlan } from "../src/causal/presets.js";
import { decodingSource } from "../src/causal/decoding.js";
import { generate } from "../src/generate/generate.js";
import { arg } from "./common.js";
import { llava7bConfig, realWidthSource } from "./lib/real-width.js";

function vmHwm(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

const heap = () => (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8?.length ?? 0;

/**
 * Live tensor bytes by data buffer (tf.memory().numBytes counts a reshaped view of one buffer once per
 * view) and their peak since the last reset, updated on every registration and release.
 */
function trackPeak(): { peak: () => number; live: () => number; reset: () => void } {
  type Info = { bytes: number };
  const engine = tf.engine() as unknown as {
    trackTensor(a: { dataId: object }, b: unknown): void;
    removeDataId(id: object, b: unknown): void;
    state: { tensorInfo: WeakMap<object, Info> };
  };
  const infos = engine.state.tensorInfo;
  const track = engine.trackTensor.bind(engine);
  const remove = engine.removeDataId.bind(engine);
  let live = 0; // a WeakMap: tensors made before this call are not counted
  let peak = live;
  engine.trackTensor = (a, b) => {
    const had = infos.has(a.dataId);
    track(a, b);
    if (!had && infos.has(a.dataId)) peak = Math.max(peak, (live += infos.get(a.dataId)!.bytes));
  };
  engine.removeDataId = (id, b) => {
    const info = infos.get(id);
    remove(id, b);
    if (info && !infos.has(id)) live -= info.bytes;
  };
  return { peak: () => peak, live: () => live, reset: () => (peak = live) };
}

async function main(): Promise<void> {
  const policy = arg("policy", "native") as ResidencyPolicy;
  const cf = arg("cf", "both");
  const newTokens = Number(arg("new", "2"));
  const image = Number(arg("image", "336"));
  const textTokens = Number(arg("text", "58"));
  await initBackend(arg("backend", "wasm"));
  const cfgJson = llava7bConfig(Number(arg("text-layers", "2")), Number(arg("vision-layers", "2")), image);
  const cfg = parseLlavaConfig(cfgJson);
  const ids = [1, ...Array.from({ length: textTokens - 2 }, (_, i) => 300 + ((i * 7919) % 20000)), cfg.imageTokenIndex];
  ids.splice(20, 0, ids.pop()!); // the image after a short system prompt, as LLaVA's template puts it
  // "none": plain decoding (the model alone), the reference the branches' memory is compared with
  const plan = cf === "none" ? null : buildPlan({ cf: cf.split(",") }, cfg);
  const branches = plan?.branches.length ?? 1;
  const images = plan ? new Set(plan.branches.map((b) => JSON.stringify(b.vision))).size : 1;
  const workload = { promptTokens: ids.length - 1 + numImageTokens(cfg), maxNewTokens: newTokens, rows: branches, images };
  const tracker = trackPeak();
  const model = buildModel(cfg, realWidthSource(cfgJson), { residency: { policy, workload } });
  const phases: { phase: string; liveBefore?: number; peakTensors: number; liveAfter: number; heap: number }[] = [];
  const decode = model.decode.bind(model);
  phases.push({ phase: "loaded", peakTensors: tracker.peak(), liveAfter: tracker.live(), heap: heap() });
  model.decode = (embeds, opts) => {
    if (phases.length === 1) phases.push({ phase: "vision", peakTensors: tracker.peak(), liveAfter: tracker.live(), heap: heap() });
    tracker.reset();
    const liveBefore = tracker.live();
    const out = decode(embeds, opts);
    const phase = `decode ${embeds.shape.join("×")}`;
    phases.push({ phase, liveBefore, peakTensors: tracker.peak(), liveAfter: tracker.live(), heap: heap() });
    return out;
  };
  const pixels = tf.randomUniform([1, 3, image, image], -1, 1, "float32", 7) as tf.Tensor4D;
  const source = decodingSource(model, plan, { prompts: { main: [ids] }, pixels });
  const t0 = performance.now();
  const result = generate(source, { maxNewTokens: newTokens });
  const runMs = performance.now() - t0;
  source.dispose();
  const p = memoryPlanOf(model)!;
  const out = {
    cf,
    branches,
    policy: p.policy,
    tokens: result.tokens,
    runMs,
    plan: {
      tensorPeak: p.tensorPeakBytes,
      backendPeak: p.backendPeakBytes,
      processPeak: p.processPeakBytes,
      kv: p.kvBytes,
      act: p.activationBytes,
    },
    measured: { tensorPeak: tracker.peak(), wasmHeap: heap(), vmHwm: vmHwm() },
    phases,
  };
  if (process.argv.includes("--json")) process.stdout.write(JSON.stringify(out) + "\n");
  else {
    const g = (b: number) => `${(b / 1024 ** 3).toFixed(3)} GiB`;
    console.log(`${cf} (${branches} branches), ${p.policy}: run ${runMs.toFixed(0)} ms, tokens ${JSON.stringify(result.tokens)}`);
    for (const ph of phases) {
      const before = ph.liveBefore === undefined ? "" : `live before ${g(ph.liveBefore)}, `;
      console.log(`  ${ph.phase}: ${before}peak tensors ${g(ph.peakTensors)}, live after ${g(ph.liveAfter)}, heap ${g(ph.heap)}`);
    }
    console.log(`  plan: KV ${g(p.kvBytes)}, activations ${g(p.activationBytes)}`);
    console.log(`  backend: plan ${g(p.backendPeakBytes)}, wasm heap ${g(out.measured.wasmHeap)}`);
    console.log(`  process: plan ${g(p.processPeakBytes)}, VmHWM ${g(out.measured.vmHwm)}`);
  }
  pixels.dispose();
  model.dispose();
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
