// Token selection from one row of scores: greedy argmax, or sampling with temperature, top-k and
// top-p from a seeded pure-JS generator (src/util/rng.ts), so a seed gives the same draws on every
// backend and machine. Only the logits themselves can differ between backends (see docs/generation.md).
import { stream as rngStream, type Rng } from "../util/rng.js";
import { argmax } from "../util/argmax.js";

export interface SamplingOptions {
  /** 0 or undefined = greedy. > 0 = sample from softmax(logits / temperature). */
  temperature?: number;
  /** Keep only tokens whose probability is at least the k-th largest (0/undefined = off). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability sums to ≥ topP (1/undefined = off). */
  topP?: number;
  /** Seed of the sampling generator; rows draw from their own streams (seed, "sample", row). */
  seed?: number;
}

/** Picks the next token of `row` from its (already processed) scores. */
export type Selector = (scores: Float32Array, row: number) => number;

export function isSampling(opts: SamplingOptions): boolean {
  return opts.temperature !== undefined && opts.temperature > 0;
}

export function checkSamplingOptions(opts: SamplingOptions): void {
  const { temperature: t, topK: k, topP: p, seed } = opts;
  if (t !== undefined && !(t >= 0 && Number.isFinite(t))) throw new Error(`temperature must be a finite number ≥ 0, got ${t}`);
  if (k !== undefined && !(Number.isInteger(k) && k >= 0)) throw new Error(`topK must be an integer ≥ 0, got ${k}`);
  if (p !== undefined && !(p > 0 && p <= 1)) throw new Error(`topP must be in (0, 1], got ${p}`);
  if (seed !== undefined && !Number.isSafeInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
}

/** A random seed for when sampling is asked for without one (reported back so it can be replayed). */
export function randomSeed(): number {
  return Math.floor(Math.random() * 0x7fffffff);
}

/**
 * A selector for the options. Greedy ignores topK/topP (like HF with do_sample=False). Sampling keeps
 * one generator per row so a row's draws do not depend on how many other rows there are or when
 * they finish.
 */
export function makeSelector(opts: SamplingOptions): Selector {
  checkSamplingOptions(opts);
  if (!isSampling(opts)) return (scores) => argmax(scores);
  const seed = opts.seed ?? randomSeed();
  const rngs = new Map<number, Rng>();
  return (scores, row) => {
    let rng = rngs.get(row);
    if (!rng) rngs.set(row, (rng = rngStream(seed, "sample", row)));
    return sampleToken(scores, opts, rng);
  };
}

/** Temperature → top-k → top-p → one draw (HF's warper order; top-p sees the top-k survivors renormalised). */
export function sampleToken(scores: Float32Array, opts: SamplingOptions, rng: Rng): number {
  const probs = softmaxWithTemperature(scores, opts.temperature ?? 1);
  if (!probs) return argmax(scores); // every score −∞ or NaN: nothing to sample from
  return drawAbove(probs, keepThreshold(probs, opts.topK ?? 0, opts.topP ?? 1), rng);
}

/**
 * softmax((x − max) / T) in float64. Subtracting the max first keeps T → 0 well defined: the best
 * token(s) get exp(0) = 1 and the rest underflow to 0, which is the greedy limit (no NaN from ∞/∞).
 * Returns null when no score is finite.
 */
export function softmaxWithTemperature(scores: Float32Array, temperature: number): Float64Array | null {
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) if (scores[i] > max) max = scores[i];
  if (!Number.isFinite(max)) return null;
  const out = new Float64Array(scores.length);
  let sum = 0;
  for (let i = 0; i < scores.length; i++) {
    const z = (scores[i] - max) / temperature;
    const e = z === 0 ? 1 : Math.exp(z); // z may be −∞ (masked token or tiny T): exp gives 0
    out[i] = Number.isNaN(e) ? 0 : e;
    sum += out[i];
  }
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/**
 * The smallest probability a token may have and still be drawn. Top-k: the k-th largest (ties kept,
 * as in HF). Top-p: walking the top-k survivors from the most likely, renormalised, the one at which
 * the running sum first reaches topP (ties kept). One native ascending sort, read from the end.
 */
function keepThreshold(probs: Float64Array, topK: number, topP: number): number {
  const useK = topK > 0 && topK < probs.length;
  if (!useK && topP >= 1) return 0;
  const asc = Float64Array.from(probs).sort();
  const n = asc.length;
  const kCut = useK ? asc[n - topK] : 0;
  if (topP >= 1) return kCut;
  let mass = 0;
  for (let i = n - 1; i >= 0 && asc[i] >= kCut; i--) mass += asc[i];
  let acc = 0;
  for (let i = n - 1; i >= 0 && asc[i] >= kCut; i--) {
    acc += asc[i] / mass;
    if (acc >= topP) return asc[i];
  }
  return kCut;
}

/** One draw among tokens with probability ≥ cut, proportional to their probabilities. */
function drawAbove(probs: Float64Array, cut: number, rng: Rng): number {
  let total = 0;
  let last = -1;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i] > 0 && probs[i] >= cut) {
      total += probs[i];
      last = i;
    }
  }
  const r = rng.uniform() * total;
  let acc = 0;
  for (let i = 0; i <= last; i++) {
    if (!(probs[i] > 0 && probs[i] >= cut)) continue;
    acc += probs[i];
    if (r < acc) return i;
  }
  return last; // r rounded onto the very end of the range
}
