// Op-by-op profile on wasm at real widths (issue 16): one CLIP ViT-L/14-336 layer (577 tokens, width
// 1024) with the patch embedding and the 7B projector, and one Vicuna-7B decoder layer's 595-position
// prefill and cached decode step (lm_head profiled alone). tf.profile records every kernel with its
// time; kernels are grouped by name and input shapes, with GFLOP/s for matMuls and GB/s (bytes read +
// written) for the rest; "outside kernels" = wall time − Σ kernel times (tensor bookkeeping, JS).
// "causal": one decode step after the 595-position prompt on the full 32 064-token vocabulary with linear()
// on the native addon (the CausalMM rows of real-width.ts), plain and CausalMM (both, vision only).
// Run: npm run build && node dist/benchmarks/profile-ops.js [wasm threads=1] [--parts clip,prefill,decode,causal]
//        [--native-threads 1]
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend.js";
import { buildModel } from "../src/model/load.js";
import { KVCache } from "../src/model/kv-cache.js";
import type { LlavaModel } from "../src/model/llava.js";
import { table } from "./common.js";
import { lazyRandomSource, realWidthConfig, textPrompt, PROMPT_POSITIONS } from "./real-width-models.js";
import { ModelSource, type LogitsSource } from "../src/generate/source.js";
import { CausalSource } from "../src/causal/source.js";
import { buildPlan } from "../src/causal/presets.js";
import { nativeAvailable, nativeUnavailableReason, setNativeThreads } from "../src/model/kernels/native.js";

interface Group {
  name: string;
  shapes: string;
  count: number;
  ms: number;
  flop: number;
  bytes: number;
}

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** 2·m·k·n per (batched) matMul; 0 for other kernels. */
function flopOf(name: string, inputs: number[][], output: number[]): number {
  if (!/MatMul/.test(name)) return 0;
  const a = inputs[0];
  return 2 * size(output) * a[a.length - 1];
}

async function profile(label: string, fn: () => void, reps = 3) {
  fn(); // warm-up: XNNPACK packs each weight on first use
  const walls: number[] = [];
  let best: Awaited<ReturnType<typeof tf.profile>> | null = null;
  let bestWall = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    const info = await tf.profile(fn);
    const wall = performance.now() - t;
    walls.push(wall);
    if (wall < bestWall) {
      bestWall = wall;
      best = info;
    }
  }
  const groups = new Map<string, Group>();
  let kernelMs = 0;
  for (const k of best!.kernels) {
    const ms = Number(await k.kernelTimeMs);
    kernelMs += ms;
    const shapes = k.inputShapes.map((s) => `[${s.join(",")}]`).join(" ");
    const key = `${k.name} ${shapes}`;
    const g = groups.get(key) ?? { name: k.name, shapes, count: 0, ms: 0, flop: 0, bytes: 0 };
    g.count++;
    g.ms += ms;
    g.flop += flopOf(k.name, k.inputShapes, k.outputShapes[0] ?? []);
    g.bytes += 4 * (k.inputShapes.reduce((s, x) => s + size(x), 0) + k.outputShapes.reduce((s, x) => s + size(x ?? []), 0));
    groups.set(key, g);
  }
  const byName = new Map<string, { ms: number; count: number; flop: number }>();
  for (const g of groups.values()) {
    const n = byName.get(g.name) ?? { ms: 0, count: 0, flop: 0 };
    byName.set(g.name, { ms: n.ms + g.ms, count: n.count + g.count, flop: n.flop + g.flop });
  }
  const pct = (ms: number) => `${((100 * ms) / bestWall).toFixed(1)} %`;
  console.log(
    `\n## ${label}: wall ${bestWall.toFixed(0)} ms (best of ${reps} profiled runs), ` +
      `Σ kernels ${kernelMs.toFixed(0)} ms, outside kernels ${(bestWall - kernelMs).toFixed(0)} ms (${pct(bestWall - kernelMs)})\n`,
  );
  const names = [...byName].sort((a, b) => b[1].ms - a[1].ms);
  console.log(
    table(
      ["kernel", "calls", "ms", "share of wall", "GFLOP/s"],
      names.map(([n, v]) => [n, v.count, v.ms, pct(v.ms), v.flop ? v.flop / (v.ms * 1e6) : ""]),
    ),
  );
  const top = [...groups.values()].sort((a, b) => b.ms - a.ms).slice(0, 14);
  console.log("\nlargest kernel groups (name, input shapes):\n");
  console.log(
    table(
      ["kernel", "inputs", "calls", "ms", "share", "GFLOP/s", "GB/s"],
      top.map((g) => [
        g.name,
        g.shapes,
        g.count,
        g.ms,
        pct(g.ms),
        g.flop ? g.flop / (g.ms * 1e6) : "",
        g.flop ? "" : g.bytes / (g.ms * 1e6),
      ]),
    ),
  );
}

function textModel(): LlavaModel {
  // the layer at 7B widths; a small vocabulary keeps the process under 2 GB (lm_head is profiled alone)
  const cfg = realWidthConfig("text", { vocabSize: 1024 });
  return buildModel(cfg, lazyRandomSource(cfg));
}

/** One decode step of plain and CausalMM sources at 7B widths, full vocabulary, native linear(). */
async function profileCausal(threads: number): Promise<void> {
  if (!nativeAvailable()) throw new Error(`the causal part needs the native addon: ${nativeUnavailableReason()}`);
  setNativeThreads(threads);
  const cfg = realWidthConfig("text");
  const model = buildModel(cfg, lazyRandomSource(cfg), { performance: { matmul: "native" } });
  const ids = textPrompt(model);
  const pixels = tf.randomNormal([1, 3, 56, 56], 0, 1, "float32", 1) as tf.Tensor4D;
  const sources: [string, LogitsSource][] = [
    ["plain", new ModelSource(model, ids, { pixels })],
    [
      "CausalMM both (3 rows)",
      new CausalSource(model, { plan: buildPlan({ cf: ["both"] }, model.config), prompts: { main: ids }, pixels }),
    ],
    [
      "CausalMM vision:uniform@sel (2 rows)",
      new CausalSource(model, { plan: buildPlan({ cf: ["vision:uniform@sel"] }, model.config), prompts: { main: ids }, pixels }),
    ],
  ];
  let k = 0;
  for (const [label, s] of sources) {
    s.prefill();
    await profile(`decode step, ${label}, native linear on ${threads} thread(s)`, () => void s.step([5 + (k++ % 900)]), 7);
    s.dispose();
  }
  pixels.dispose();
  model.dispose();
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const threads = Number(argv[0] ?? 1);
  const parts = (argv.includes("--parts") ? argv[argv.indexOf("--parts") + 1] : "clip,prefill,decode").split(",");
  const info = await initBackend("wasm", { wasmThreads: threads });
  console.log(`# wasm op profile, ${info.threads} thread(s), ${new Date().toISOString()}`);
  if (parts.includes("clip")) {
    // two layers: LLaVA's feature layer −2 runs one of them; patch embedding, pre-norm and projector included
    const cfg = realWidthConfig("clip", { visionLayers: 2 });
    const model = buildModel(cfg, lazyRandomSource(cfg));
    const pixels = tf.randomNormal([1, 3, 336, 336], 0, 1, "float32", 2) as tf.Tensor4D;
    await profile("CLIP-L: patch embedding + one encoder layer + 7B projector", () =>
      tf.tidy(() => void model.encodeImages(pixels).features.dataSync()),
    );
    pixels.dispose();
    model.dispose();
  }
  if (parts.includes("prefill") || parts.includes("decode")) {
    const model = textModel();
    const ids = [[1, ...Array.from({ length: PROMPT_POSITIONS - 1 }, (_, i) => 3 + (i % 1000))]];
    const run = (cache: KVCache) => tf.tidy(() => void model.decode(model.embed(ids), { cache, logits: "last" }).logits!.dataSync());
    if (parts.includes("prefill"))
      await profile(`7B layer prefill, ${PROMPT_POSITIONS} positions (lm_head of 1 024 tokens)`, () => {
        const c = new KVCache(1);
        run(c);
        c.dispose();
      });
    if (parts.includes("decode")) {
      const cache = new KVCache(1);
      run(cache);
      await profile(
        `7B layer decode step after ${PROMPT_POSITIONS} positions (lm_head of 1 024 tokens)`,
        () => tf.tidy(() => void model.decode(model.embedStep([7]), { cache, logits: "last" }).logits!.dataSync()),
        7,
      );
      cache.dispose();
    }
    model.dispose();
    const head = tf.randomUniform([4096, 32064], -0.03, 0.03) as tf.Tensor2D;
    const row = tf.randomNormal([1, 4096]) as tf.Tensor2D;
    await profile("lm_head alone: [1,4096]·[4096,32064]", () => tf.tidy(() => void tf.matMul(row, head).dataSync()), 7);
    head.dispose();
    row.dispose();
  }
  if (parts.includes("causal"))
    await profileCausal(argv.includes("--native-threads") ? Number(argv[argv.indexOf("--native-threads") + 1]) : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
