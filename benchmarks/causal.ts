// Per-token decode cost of CausalMM branches (batched rows of one forward vs one forward per branch),
// and POPE questions/s with and without image + prompt-prefix caching, on the tiny-336 fixture model.
// Run: npm run build && node dist/benchmarks/causal.js [--backends wasm,cpu] [--questions 12]  (0: decode only)
//      [--mid]  (also a random 0.16 B-parameter model on wasm, where weight reads dominate as in 7B)
//      [--in-place never]  (KV cache reallocated every step, as before in-place writes)
//      [--kernels never]  (tfjs ops instead of the project's kernels: wasm SIMD, cpu JS)
import * as tf from "@tensorflow/tfjs-core";
import { copyFileSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "../src/backend.js";
import { loadLlava, type Llava } from "../src/api.js";
import { CausalSource } from "../src/causal/source.js";
import { ModelSource } from "../src/generate/source.js";
import { makeInterventionHook } from "../src/causal/counterfactual.js";
import { buildPlan } from "../src/causal/presets.js";
import { ModelAnswerer } from "../src/eval/model-answerer.js";
import type { DecodingPlan } from "../src/causal/plan.js";
import type { LogitsSource } from "../src/generate/source.js";
import { readNpy } from "../src/weights/npy.js";
import { fixturesDir, median, table } from "./common.js";
import { buildModel } from "../src/model/load.js";
import { parseLlavaConfig } from "../src/model/config.js";
import { randomSource, tinyConfigJson } from "../src/lab/random-model.js";
import type { LlavaModel } from "../src/model/llava.js";
import type { PerformanceOptions } from "../src/model/performance.js";

const STEPS = 24;
const ROUNDS = 15;

/** Prefilled sources stepped together; each call times STEPS steps and returns ms per token. */
function stepper(make: () => LogitsSource[]): { time(): number; dispose(): void } {
  const sources = make();
  sources.forEach((s) => s.prefill());
  sources.forEach((s) => s.step([3]));
  let k = 0;
  return {
    time: () => {
      const t = performance.now();
      for (let i = 0; i < STEPS; i++, k++) sources.forEach((s) => s.step([5 + (k % 900)]));
      return (performance.now() - t) / STEPS;
    },
    dispose: () => sources.forEach((s) => s.dispose()),
  };
}

/**
 * The machine is shared and noisy: the three variants are timed in interleaved rounds (plain, batched,
 * sequential, plain, …) and each ratio is total time over all rounds against the plain decode's total.
 */
function compare(plain: () => LogitsSource[], batched: () => LogitsSource[], seq: () => LogitsSource[]): number[] {
  const s = [stepper(plain), stepper(batched), stepper(seq)];
  s.forEach((x) => x.time()); // untimed round: V8 tiers wasm and JS up during the first calls
  const rounds = Array.from({ length: ROUNDS }, () => s.map((x) => x.time()));
  s.forEach((x) => x.dispose());
  const col = (i: number) => median(rounds.map((r) => r[i]));
  const total = (i: number) => rounds.reduce((a, r) => a + r[i], 0);
  return [col(1), total(1) / total(0), col(2), total(2) / total(0)];
}

/** The same branches as independent sources, one forward each (what the released code does). */
function sequential(model: LlavaModel, plan: DecodingPlan, ids: number[][], pixels: tf.Tensor4D): LogitsSource[] {
  return plan.branches.map((b) => {
    const vision = b.vision?.kind === "clip" ? b.vision.interventions : [];
    return new ModelSource(model, ids, { pixels, hook: makeInterventionHook([...vision, ...b.text]) });
  });
}

/** Rows [backend, decoding, batched ms, × plain, sequential ms, × plain] for the standard plans. */
function decodeTable(backend: string, model: LlavaModel, ids: number[][], pixels: tf.Tensor4D): (string | number)[][] {
  const plans: [string, DecodingPlan][] = [
    ["vision CF (1 branch)", buildPlan({ cf: ["vision:uniform@sel"] }, model.config)],
    ["text CF @last (1 branch)", buildPlan({ cf: ["text:uniform@last"] }, model.config)],
    ["multimodal (2 branches)", buildPlan({ cf: ["both"] }, model.config)],
  ];
  const plain = () => [new ModelSource(model, ids, { pixels })];
  return plans.map(([name, plan]) => {
    const r = compare(
      plain,
      () => [new CausalSource(model, { plan, prompts: { main: ids }, pixels })],
      () => sequential(model, plan, ids, pixels),
    );
    return [backend, name, ...r];
  });
}

/**
 * A random model of mid size (0.16 B parameters, LLaMA-7B's vocabulary) where, as in the real model,
 * reading the weights dominates a decode step; a 600-token prompt. Random weights give flat logits,
 * so the plausibility cutoff keeps more tokens than a trained model would (reported).
 */
function midModel(performance: Partial<PerformanceOptions>): { model: LlavaModel; ids: number[][]; pixels: tf.Tensor4D } {
  const raw = tinyConfigJson({
    textHidden: 1024,
    textLayers: 8,
    textHeads: 16,
    vocabSize: 32000,
    visionHidden: 64,
    imageSize: 56,
    seed: 1,
  });
  const model = buildModel(parseLlavaConfig(raw), randomSource(raw, 1), { performance });
  const ids = [
    [
      1,
      ...Array.from({ length: 40 }, (_, i) => 100 + i),
      model.config.imageTokenIndex,
      ...Array.from({ length: 543 }, (_, i) => 200 + ((i * 37) % 30000)),
    ],
  ];
  return { model, ids, pixels: tf.randomNormal([1, 3, 56, 56], 0, 1, "float32", 1) as tf.Tensor4D };
}

function modelDir(fixtures: string): string {
  const dir = mkdtempSync(join(tmpdir(), "bench-causal-"));
  const src = join(fixtures, "llava-tiny", "model-f32");
  for (const f of readdirSync(src)) copyFileSync(join(src, f), join(dir, f));
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) copyFileSync(join(fixtures, "tokenizer", f), join(dir, f));
  return dir;
}

async function popeRate(llava: Llava, fixtures: string, causal: object | undefined, caching: boolean, n: number): Promise<number> {
  const answerer = new ModelAnswerer(llava, { maxNewTokens: 4, causal }, caching);
  const objects = ["cup", "cat", "dog", "person", "car", "chair"];
  const items = Array.from({ length: n }, (_, i) => ({
    questionId: i,
    image: join(fixtures, "preprocess", "coffee.png"),
    question: `Is there a ${objects[i % 6]} in the image?`,
  }));
  await answerer.answer(items.slice(0, 6)); // warm-up
  const t = performance.now();
  for (let i = 0; i < n; i += 6) await answerer.answer(items.slice(i, i + 6)); // POPE: 6 questions per image
  return n / ((performance.now() - t) / 1000);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (name: string, d: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : d);
  const performance: Partial<PerformanceOptions> = {
    kvWrites: opt("--in-place", "auto") === "never" ? "never" : "auto",
    kernels: opt("--kernels", "auto") === "never" ? "never" : "auto",
  };
  const fixtures = fixturesDir();
  const dir = modelDir(fixtures);
  const ids = [Array.from(readNpy(join(fixtures, "llava-tiny", "golden", "input_ids.npy")).data)];
  const pv = readNpy(join(fixtures, "llava-tiny", "golden", "pixel_values.npy"));
  const decodeRows: (string | number)[][] = [];
  const popeRows: (string | number)[][] = [];
  for (const backend of opt("--backends", "wasm,cpu").split(",")) {
    await initBackend(backend);
    const llava = await loadLlava(dir, { performance });
    const pixels = tf.tensor4d(pv.data as Float32Array, pv.shape as [number, number, number, number]);
    decodeRows.push(...decodeTable(backend, llava.model, ids, pixels));
    const n = Number(opt("--questions", backend === "cpu" ? "6" : "24"));
    for (const [name, causal] of n > 0
      ? ([
          ["plain", undefined],
          ["CausalMM multimodal", { cf: ["both"] }],
        ] as const)
      : []) {
      const cached = await popeRate(llava, fixtures, causal, true, n);
      const fresh = await popeRate(llava, fixtures, causal, false, n);
      popeRows.push([backend, name, fresh, cached, cached / fresh]);
    }
    pixels.dispose();
    llava.dispose();
  }
  const midRows: (string | number)[][] = [];
  if (argv.includes("--mid")) {
    await initBackend("wasm");
    const mid = midModel(performance);
    midRows.push(...decodeTable("wasm", mid.model, mid.ids, mid.pixels));
    mid.model.dispose();
    mid.pixels.dispose();
  }
  console.log(
    `per-token decode, tiny-336 fixture model (595-position prompt), medians over ${ROUNDS} interleaved rounds of ${STEPS} steps; ` +
      `× plain = total time over all rounds relative to a plain ModelSource decode timed in the same rounds`,
  );
  console.log(
    `KV cache writes: ${opt("--in-place", "auto") === "never" ? "reallocated every step" : "in place"}; ` +
      `kernels: ${opt("--kernels", "auto") === "never" ? "off" : "on"}\n`,
  );
  console.log(table(["backend", "decoding", "batched ms/token", "× plain", "sequential ms/token", "× plain"], decodeRows));
  if (midRows.length) {
    console.log(`\nthe same on a random mid-size model (D 1024, 8 layers, 16 heads, V 32000; 0.16 B parameters, 600-position prompt)\n`);
    console.log(table(["backend", "decoding", "batched ms/token", "× plain", "sequential ms/token", "× plain"], midRows));
  }
  console.log("\nPOPE answering (6 questions per image, ≤ 4 new tokens), questions/s\n");
  console.log(table(["backend", "decoding", "no caching q/s", "image+prefix caching q/s", "speed-up"], popeRows));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
