// PAI (LALBJ/PAI): the pre-softmax seam reads the real scores (a direct computation from the HF goldens'
// q and keys), the amplification a ← a + α·|a| edits exactly the last query row's image keys in the
// chosen layers, the decoding scores are PAI's γ·(log p_mm − log p_txt) + log p_txt with its cutoff, and
// the edit does not depend on how the forward is split (KV cache steps, a shared prefix).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { describeFixtures } from "../helpers/fixtures.js";
import { golden, maxAbsDiff } from "../helpers/compare.js";
import { initBackend } from "../../src/backend.js";
import { loadModel } from "../../src/model/load.js";
import type { LlavaModel } from "../../src/model/llava.js";
import type { AttentionSite } from "../../src/model/hooks.js";
import { amplifyHook, editScores, imageSpans, scoresOnlyHook } from "../../src/causal/amplify.js";
import { composeHooks } from "../../src/causal/images.js";
import { buildPlan } from "../../src/causal/presets.js";
import { CausalSource } from "../../src/causal/source.js";
import { ModelSource } from "../../src/generate/source.js";

/** HF Llama RoPE (rotate_half, θ = 10000) of one head row `[hd]` at position p, in float64. */
function rope(x: ArrayLike<number>, p: number, hd: number, theta: number): Float64Array {
  const out = new Float64Array(hd);
  const half = hd / 2;
  for (let i = 0; i < half; i++) {
    const f = p / Math.pow(theta, (2 * i) / hd);
    out[i] = x[i] * Math.cos(f) - x[i + half] * Math.sin(f);
    out[i + half] = x[i + half] * Math.cos(f) + x[i] * Math.sin(f);
  }
  return out;
}

function softmax(row: number[]): number[] {
  const m = Math.max(...row);
  const e = row.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

type Seen = { site: AttentionSite; data: Float32Array; shape: number[] };
const recorder = (into: Seen[]) =>
  scoresOnlyHook((s, site) => {
    into.push({ site, data: s.dataSync() as Float32Array, shape: s.shape });
    return undefined;
  });

describeFixtures("PAI on llava-tiny-56 (cpu)", (fixtures) => {
  const dir = join(fixtures, "llava-tiny-56");
  let model: LlavaModel;
  let pixels: tf.Tensor4D;
  let ids: number[][];
  const alpha = 0.2;
  beforeAll(async () => {
    await initBackend("cpu");
    model = await loadModel(join(dir, "model-f32"));
    const pv = golden(join(dir, "golden"), "pixel_values");
    pixels = tf.tensor4d(pv.data as Float32Array, pv.shape as [number, number, number, number]);
    ids = [Array.from(golden(join(dir, "golden"), "input_ids").data)];
  });
  afterAll(() => {
    model?.dispose();
    pixels?.dispose();
  });

  const forward = (hook: ReturnType<typeof composeHooks>) =>
    tf.tidy(() => {
      const feats = model.encodeImages(pixels).features;
      model.decode(model.embed(ids, feats), { hook, logits: "last" }).logits!.dataSync();
    });

  test("the seam's layer-0 scores equal q·kᵀ/√d from the goldens' q (RoPE applied here) and cached keys, masked −∞", () => {
    const g = join(dir, "golden");
    const q = golden(g, "text_l0_q_proj").data; // [1,S,H·hd] before RoPE
    const k = golden(g, "text_l0_cache_k").data; // [1,H,S,hd] after RoPE
    const { numHeads: H, headDim: hd, ropeTheta } = model.config.text;
    const S = golden(g, "text_l0_cache_k").shape[2];
    const seen: Seen[] = [];
    forward(recorder(seen));
    const l0 = seen.find((s) => s.site.layer === 0)!;
    expect(l0.shape).toEqual([1, H, S, S]);
    let worst = 0;
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < S; i++) {
        const qi = rope(
          Array.from({ length: hd }, (_, d) => q[i * H * hd + h * hd + d]),
          i,
          hd,
          ropeTheta,
        );
        for (let j = 0; j < S; j++) {
          const got = l0.data[(h * S + i) * S + j];
          if (j > i) {
            expect(got).toBe(-Infinity);
            continue;
          }
          let dot = 0;
          for (let d = 0; d < hd; d++) dot += qi[d] * k[(h * S + j) * hd + d];
          worst = Math.max(worst, Math.abs(got - dot / Math.sqrt(hd)));
        }
      }
    }
    expect(worst).toBeLessThan(1e-4);
  });

  test("amplified scores: a + α|a| on the last row's image keys in layers [start, end), every other entry untouched; P = softmax of them", () => {
    const { spans, length: S } = imageSpans(ids[0], model.config.imageTokenIndex, model.numImageTokens);
    expect(spans).toEqual([[5, 21]]); // one <image> at index 5 → 16 features
    const before: Seen[] = [];
    const after: Seen[] = [];
    const probs: { layer: number; data: Float32Array }[] = [];
    const pai = amplifyHook({ layers: [1], alpha }, ids, model.config.imageTokenIndex, model.numImageTokens);
    const seeProbs = (p: tf.Tensor4D, site: AttentionSite) => {
      if (site.module === "text") probs.push({ layer: site.layer, data: p.dataSync() as Float32Array });
      return undefined;
    };
    forward(composeHooks([recorder(before), pai, recorder(after), seeProbs]));
    const text = (xs: Seen[], l: number) => xs.find((s) => s.site.module === "text" && s.site.layer === l)!;
    // layer 0 is outside [1, 2): untouched
    expect(Array.from(text(after, 0).data)).toEqual(Array.from(text(before, 0).data));
    const a = text(before, 1).data;
    const b = text(after, 1).data;
    const H = model.config.text.numHeads;
    let edited = 0;
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < S; i++) {
        for (let j = 0; j < S; j++) {
          const at = (h * S + i) * S + j;
          if (i === S - 1 && j >= 5 && j < 21) {
            expect(b[at]).toBeCloseTo(a[at] + alpha * Math.abs(a[at]), 5);
            edited++;
          } else expect(b[at]).toBe(a[at]);
        }
      }
      // the probabilities P @ V uses are the softmax of the amplified last row
      const last = Array.from(b.subarray((h * S + S - 1) * S, (h * S + S) * S));
      const p = probs.find((x) => x.layer === 1)!.data.subarray((h * S + S - 1) * S, (h * S + S) * S);
      expect(maxAbsDiff(p, Float32Array.from(softmax(last)))).toBeLessThan(1e-6);
    }
    expect(edited).toBe(H * 16);
    expect(a.some((x, i) => Number.isFinite(x) && x !== b[i])).toBe(true);
  });

  test("--baseline pai scores = γ·(log p_mm − log p_txt) + log p_txt, −∞ where log p_mm < log 0.1 + max (direct two-model computation)", () => {
    const plan = buildPlan({ baseline: "pai", paiStartLayer: 0 }, model.config);
    expect(plan.branches.map((b) => b.name)).toEqual(["pai-amplified", "pai-text-only"]);
    expect(plan.branches[0].amplify).toEqual({ alpha: 0.2, layers: [0, 1] });
    const noimage = [ids[0].filter((t) => t !== model.config.imageTokenIndex)];
    const feed = [29871, 13, 1001];
    const src = new CausalSource(model, { plan, prompts: { main: ids, noimage }, pixels });
    const scores = [src.prefill()[0], ...feed.map((t) => src.step([t])[0])];
    src.dispose();
    const run = (s: ModelSource) => [s.prefill()[0], ...feed.map((t) => s.step([t])[0])];
    const mm = run(
      new ModelSource(model, ids, {
        pixels,
        hook: amplifyHook({ layers: [0, 1], alpha }, ids, model.config.imageTokenIndex, model.numImageTokens),
      }),
    );
    const txt = run(new ModelSource(model, noimage));
    const logSoftmax = (x: Float32Array) => {
      const m = Math.max(...x);
      const lse = m + Math.log(x.reduce((acc, v) => acc + Math.exp(v - m), 0));
      return Array.from(x, (v) => v - lse);
    };
    const plain = run(new ModelSource(model, ids, { pixels }));
    expect(maxAbsDiff(mm[0], plain[0])).toBeGreaterThan(1e-3); // the amplification changes the logits
    scores.forEach((s, k) => {
      const lm = logSoftmax(mm[k]);
      const lt = logSoftmax(txt[k]);
      const cutoff = Math.log(0.1) + Math.max(...lm);
      const want = lm.map((x, v) => (x < cutoff ? -Infinity : 1.1 * (x - lt[v]) + lt[v]));
      const kept = want.flatMap((x, v) => (x > -Infinity ? [v] : []));
      expect(kept.length).toBeGreaterThan(0);
      expect(Array.from(s, (x, v) => (x > -Infinity ? v : -1)).filter((v) => v >= 0)).toEqual(kept);
      // ours are raw logits, PAI's log-softmax: one constant per step apart
      const shift = s[kept[0]] - want[kept[0]];
      for (const v of kept) expect(Math.abs(s[v] - want[v] - shift)).toBeLessThan(2e-4);
    });
  });

  test("cached decoding equals one forward over prompt + answer, and a shared prefix changes nothing", () => {
    const amp = { layers: [0, 1], alpha: 0.5 };
    const img = model.config.imageTokenIndex;
    const n = model.numImageTokens;
    const feed = [29871, 13];
    const stepped = new ModelSource(model, ids, { pixels, hook: amplifyHook(amp, ids, img, n) });
    const rowsStepped = [stepped.prefill()[0], ...feed.map((t) => stepped.step([t])[0])];
    stepped.dispose();
    // the whole sequence at once: rows from the last prompt position on are the amplified ones
    const whole = [[...ids[0], ...feed]];
    const lastRows = tf.tidy(() => {
      const feats = model.encodeImages(pixels).features;
      const hook = amplifyHook(amp, ids, img, n); // resolved against the prompt, applied to prompt + answer
      const all = model.decode(model.embed(whole, feats), { hook, logits: "all" }).logits!; // [1,S+2,V]
      const S = all.shape[1];
      return all.slice([0, S - 3, 0], [1, 3, -1]).dataSync() as Float32Array;
    });
    const V = model.config.text.vocabSize;
    rowsStepped.forEach((r, k) => expect(maxAbsDiff(r, lastRows.subarray(k * V, (k + 1) * V)), `row ${k}`).toBeLessThan(2e-5));
    // CausalSource from a prefix built over the system prompt + image equals one without it
    const plan = buildPlan({ baseline: "pai", paiStartLayer: 0, paiAlpha: 0.5, gamma: 1 }, model.config);
    expect(plan.branches).toHaveLength(1); // γ = 1: amplification only
    const prefix = CausalSource.buildPrefix(model, plan, { main: ids[0].slice(0, 8) }, { pixels });
    const fromPrefix = new CausalSource(model, { plan, prompts: { main: ids }, prefix });
    const rowsPrefix = [fromPrefix.prefill()[0], ...feed.map((t) => fromPrefix.step([t])[0])];
    fromPrefix.dispose();
    prefix.dispose();
    rowsPrefix.forEach((r, k) => expect(maxAbsDiff(r, rowsStepped[k]), `prefix row ${k}`).toBeLessThan(2e-5));
  });
});

describe("score edits (cpu)", () => {
  beforeAll(async () => initBackend("cpu"));

  test("every row, masked keys: −∞ stays −∞ (no NaN), other batch rows and heads bit-identical", () => {
    const site: AttentionSite = { module: "text", layer: 0, numLayers: 1, causalOffset: 1 }; // Tq 3, Tk 4: row q sees j ≤ q+1
    const vals = Array.from({ length: 2 * 2 * 3 * 4 }, (_, i) => (i % 5) - 2.5);
    const mask = (i: number) => i % 4 > (Math.floor(i / 4) % 3) + 1;
    const s = tf.tensor4d(
      vals.map((v, i) => (mask(i) ? -Infinity : v)),
      [2, 2, 3, 4],
    );
    const out = editScores(s, site, { module: "text", layers: [0], heads: [1], keys: [[2, 4]], fromQuery: 0, alpha: 1 }, [1]).dataSync();
    const inp = s.dataSync();
    for (let i = 0; i < inp.length; i++) {
      const [b, h, j] = [Math.floor(i / 24), Math.floor(i / 12) % 2, i % 4];
      const hit = b === 1 && h === 1 && j >= 2 && !mask(i);
      expect(out[i]).toBe(hit ? inp[i] + Math.abs(inp[i]) : inp[i]);
    }
    expect(Array.from(out).some(Number.isNaN)).toBe(false);
    s.dispose();
  });

  test("a batch whose rows have their image at different positions: each row as if alone", async () => {
    const { parseLlavaConfig } = await import("../../src/model/config.js");
    const { tinyConfigJson, randomSource } = await import("../../src/lab/random-model.js");
    const { buildModel } = await import("../../src/model/load.js");
    const raw = tinyConfigJson({ imageSize: 28, visionLayers: 2, textLayers: 3, textHeads: 4, kvHeads: 2, seed: 5 });
    const m = buildModel(parseLlavaConfig(raw), randomSource(raw, 5));
    const img = m.config.imageTokenIndex;
    const px = tf.randomNormal([2, 3, 28, 28], 0, 1, "float32", 4) as tf.Tensor4D;
    const main = [
      [1, 7, 9, img, 30, 31, 32],
      [1, 8, img, 40, 41, 42, 43],
    ];
    const noimage = main.map((r) => r.filter((t) => t !== img));
    const plan = buildPlan({ baseline: "pai", paiStartLayer: 1, paiAlpha: 1 }, m.config);
    const seen: Float32Array[][][] = [];
    const both = new CausalSource(m, { plan, prompts: { main, noimage }, pixels: px, onStep: (_s, bl) => seen.push(bl) });
    both.prefill();
    both.step([5, 6]);
    both.dispose();
    for (const b of [0, 1]) {
      const one = tf.slice(px, [b], [1]) as tf.Tensor4D;
      const alone: Float32Array[][][] = [];
      const src = new CausalSource(m, {
        plan,
        prompts: { main: [main[b]], noimage: [noimage[b]] },
        pixels: one,
        onStep: (_s, bl) => alone.push(bl),
      });
      src.prefill();
      src.step([[5, 6][b]]);
      src.dispose();
      one.dispose();
      alone.forEach((step, k) =>
        step.forEach((branch, i) => expect(maxAbsDiff(seen[k][i][b], branch[0]), `row ${b} step ${k} branch ${i}`).toBeLessThan(2e-5)),
      );
    }
    px.dispose();
    m.dispose();
  });

  test("imageSpans: one <image> token per image, or runs of n", () => {
    expect(imageSpans([1, 9, 2, 3], 9, 4)).toEqual({ spans: [[1, 5]], length: 7 });
    expect(imageSpans([1, 9, 9, 9, 9, 3], 9, 4)).toEqual({ spans: [[1, 5]], length: 6 });
    expect(imageSpans([1, 2], 9, 4)).toEqual({ spans: [], length: 2 });
  });

  test("bad PAI options are clear errors", async () => {
    const { parseLlavaConfig } = await import("../../src/model/config.js");
    const { tinyConfigJson } = await import("../../src/lab/random-model.js");
    const cfg = parseLlavaConfig(tinyConfigJson({ textLayers: 2 }));
    expect(() => buildPlan({ baseline: "pai" }, cfg)).toThrow(/PAI layers \[2, 2\).*--pai-start-layer/);
    expect(() => buildPlan({ baseline: "pai", paiStartLayer: 1, paiEndLayer: 3 }, cfg)).toThrow(/within this model's 2 text layers/);
    expect(() => buildPlan({ baseline: "pai", paiStartLayer: 0, gamma: 0 }, cfg)).toThrow(/non-zero gamma/);
    expect(() => buildPlan({ baseline: "pai", cf: ["both"] }, cfg)).toThrow(/baseline replaces/);
  });
});
