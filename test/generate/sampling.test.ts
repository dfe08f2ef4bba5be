// Sampling: seeds, temperature, top-k, top-p, and processors, on sources with known scores.
import { describe, expect, test } from "vitest";
import { generate } from "../../src/generate/generate.js";
import { makeSelector, sampleToken, softmaxWithTemperature } from "../../src/generate/sampling.js";
import { minNewTokens, repetitionPenalty, suppressTokens, type ProcessorState } from "../../src/generate/processors.js";
import { argmax } from "../../src/util/argmax.js";
import { seededRng } from "../../src/util/rng.js";
import { FixedSource } from "./fake-sources.js";

const V = 500;

function tokensOf(opts: Parameters<typeof generate>[1], batch = 1): number[][] {
  return generate(new FixedSource(V, batch), { maxNewTokens: 40, ...opts }).tokens;
}

/** Draw frequencies of `n` samples from fixed probabilities. */
function frequencies(probs: number[], opts: { temperature?: number; topK?: number; topP?: number }, n = 20000): number[] {
  const scores = Float32Array.from(probs, Math.log);
  const rng = seededRng(99);
  const counts = probs.map(() => 0);
  for (let i = 0; i < n; i++) counts[sampleToken(scores, { temperature: 1, ...opts }, rng)]++;
  return counts.map((c) => c / n);
}

describe("seeds", () => {
  test("the same seed gives the same tokens", () => {
    const a = tokensOf({ temperature: 1, seed: 42 });
    expect(tokensOf({ temperature: 1, seed: 42 })).toEqual(a);
    expect(new Set(a[0]).size).toBeGreaterThan(5); // really sampling, not stuck on the argmax
  });

  test("different seeds give different tokens", () => {
    expect(tokensOf({ temperature: 1, seed: 1 })).not.toEqual(tokensOf({ temperature: 1, seed: 2 }));
  });

  test("sampling without a seed picks one and reports it, so the run can be replayed", () => {
    const res = generate(new FixedSource(V), { maxNewTokens: 20, temperature: 1 });
    expect(Number.isSafeInteger(res.seed)).toBe(true);
    expect(tokensOf({ temperature: 1, seed: res.seed, maxNewTokens: 20 })).toEqual(res.tokens);
  });

  test("each row has its own stream: row 0 of a batch equals a single-row run", () => {
    const batch = tokensOf({ temperature: 1, seed: 3 }, 3);
    expect(batch[0]).toEqual(tokensOf({ temperature: 1, seed: 3 })[0]);
    expect(batch[1]).not.toEqual(batch[0]);
  });
});

describe("greedy limits", () => {
  const greedy = () => argmax(new FixedSource(V).scores);

  test("temperature 0 (or unset) is greedy and reports no seed", () => {
    for (const opts of [{}, { temperature: 0 }, { temperature: 0, topK: 5, topP: 0.5, seed: 9 }]) {
      const res = generate(new FixedSource(V), { maxNewTokens: 5, ...opts });
      expect(res.tokens[0]).toEqual(Array(5).fill(greedy()));
      expect(res.seed).toBeUndefined();
    }
  });

  test("temperature → 0 converges to greedy without NaN", () => {
    for (const t of [1e-3, 1e-8, 1e-300, Number.MIN_VALUE])
      expect(tokensOf({ temperature: t, seed: 1 })[0]).toEqual(Array(40).fill(greedy()));
    const p = softmaxWithTemperature(new FixedSource(V).scores, 1e-300)!;
    expect(p.every((x) => Number.isFinite(x))).toBe(true);
    expect(p[greedy()]).toBe(1);
  });

  test("top-k 1 equals greedy at any temperature", () => {
    for (const t of [0.5, 1, 5]) expect(tokensOf({ temperature: t, topK: 1, seed: 4 })[0]).toEqual(Array(40).fill(greedy()));
  });

  test("a tiny top-p keeps only the most likely token", () => {
    expect(tokensOf({ temperature: 1, topP: 1e-6, seed: 4 })[0]).toEqual(Array(40).fill(greedy()));
  });
});

describe("warpers", () => {
  const probs = [0.5, 0.3, 0.15, 0.05];

  test("plain sampling follows the probabilities", () => {
    frequencies(probs, {}).forEach((f, i) => expect(Math.abs(f - probs[i])).toBeLessThan(0.015));
  });

  test("temperature reshapes them: softmax(log p / T)", () => {
    const z = probs.map((p) => p ** (1 / 2));
    const want = z.map((x) => x / z.reduce((a, b) => a + b));
    frequencies(probs, { temperature: 2 }).forEach((f, i) => expect(Math.abs(f - want[i])).toBeLessThan(0.015));
  });

  test("top-k keeps the k most likely, renormalised", () => {
    const f = frequencies(probs, { topK: 2 });
    expect(f[2] + f[3]).toBe(0);
    expect(Math.abs(f[0] - 0.5 / 0.8)).toBeLessThan(0.015);
  });

  test("top-p keeps the smallest set reaching the mass", () => {
    expect(frequencies(probs, { topP: 0.5 }, 2000)).toEqual([1, 0, 0, 0]);
    const f = frequencies(probs, { topP: 0.7 }, 5000);
    expect(f[2] + f[3]).toBe(0);
    expect(f[1]).toBeGreaterThan(0);
    expect(frequencies(probs, { topP: 0.81 }, 5000)[2]).toBeGreaterThan(0);
  });

  test("top-p works on the top-k survivors renormalised (HF: top-k warper, then top-p)", () => {
    // After top-k 2: [0.625, 0.375]; 0.625 alone reaches 0.6 (0.5 would not, without renormalising).
    expect(frequencies(probs, { topK: 2, topP: 0.6 }, 2000)).toEqual([1, 0, 0, 0]);
    expect(frequencies(probs, { topK: 2, topP: 0.7 }, 2000)[1]).toBeGreaterThan(0);
  });

  test("−∞ scores (e.g. cut by CausalMM's plausibility check) are never drawn", () => {
    const scores = Float32Array.from([0, -Infinity, 0.5, -Infinity]);
    const rng = seededRng(1);
    for (let i = 0; i < 2000; i++) expect([0, 2]).toContain(sampleToken(scores, { temperature: 3 }, rng));
  });

  test("invalid options are rejected with the option's name", () => {
    expect(() => makeSelector({ temperature: -1 })).toThrow(/temperature/);
    expect(() => makeSelector({ temperature: 1, topP: 0 })).toThrow(/topP/);
    expect(() => makeSelector({ temperature: 1, topK: 1.5 })).toThrow(/topK/);
    expect(() => generate(new FixedSource(V), { maxNewTokens: -1 })).toThrow(/maxNewTokens/);
  });
});

describe("logits processors", () => {
  test("run in order before selection and see step, tokens and row", () => {
    const seen: ProcessorState[] = [];
    const order: string[] = [];
    const res = generate(new FixedSource(V, 2), {
      maxNewTokens: 3,
      processors: [
        (l, s) => {
          order.push("a");
          seen.push({ ...s, tokens: [...s.tokens] });
          return l;
        },
        (l, s) => {
          order.push("b");
          const out = new Float32Array(l.length);
          out[10 + s.row + s.step] = 1; // forces the choice: proves it runs before selection
          return out;
        },
      ],
    });
    expect(res.tokens).toEqual([
      [10, 11, 12],
      [11, 12, 13],
    ]);
    expect(order.slice(0, 4)).toEqual(["a", "b", "a", "b"]);
    expect(seen.map((s) => [s.step, s.row, s.tokens])).toEqual([
      [0, 0, []],
      [0, 1, []],
      [1, 0, [10]],
      [1, 1, [11]],
      [2, 0, [10, 11]],
      [2, 1, [11, 12]],
    ]);
  });

  test("repetition penalty divides positive and multiplies negative scores of seen tokens", () => {
    const l = Float32Array.from([2, -2, 1]);
    expect(Array.from(repetitionPenalty(2)(l, { step: 2, tokens: [0, 1, 1], row: 0 }))).toEqual([1, -4, 1]);
  });

  test("repetition penalty stops greedy from repeating one token", () => {
    const plain = generate(new FixedSource(V), { maxNewTokens: 6 }).tokens[0];
    const penalised = generate(new FixedSource(V), { maxNewTokens: 6, processors: [repetitionPenalty(100)] }).tokens[0];
    expect(new Set(plain).size).toBe(1);
    expect(new Set(penalised).size).toBeGreaterThan(1);
  });

  test("suppressTokens and minNewTokens ban ids", () => {
    const best = argmax(new FixedSource(V).scores);
    expect(generate(new FixedSource(V), { maxNewTokens: 2, processors: [suppressTokens([best])] }).tokens[0]).not.toContain(best);
    const res = generate(new FixedSource(V), { maxNewTokens: 5, eosTokenIds: [best], processors: [minNewTokens(3, [best])] });
    expect(res.tokens[0].length).toBe(4);
    expect(res.tokens[0][3]).toBe(best);
    expect(res.finishReasons).toEqual(["eos"]);
  });
});
