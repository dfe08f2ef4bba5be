// The numbers of a causal-effect sweep: distances between the factual and the counterfactual
// next-token distribution at the answer position, and bootstrap confidence intervals over questions.
// Everything in float64 in JS, so results do not depend on the backend beyond the logits themselves.
import { stream } from "../util/rng.js";
import { argmax } from "../util/argmax.js";
import type { Tokenizer } from "../text/tokenizer.js";

/** log-softmax of one logits row, in float64. */
export function logSoftmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] - lse;
  return out;
}

/** KL(p ‖ q) = Σ p (log p − log q) from log-probabilities; terms with p = 0 contribute 0. */
export function klDivergence(logp: Float64Array, logq: Float64Array): number {
  let kl = 0;
  for (let i = 0; i < logp.length; i++) {
    const p = Math.exp(logp[i]);
    if (p > 0) kl += p * (logp[i] - logq[i]);
  }
  return Math.max(0, kl);
}

function logSumExp(xs: number[]): number {
  const m = Math.max(...xs);
  return m === -Infinity ? -Infinity : m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
}

export interface YesNoIds {
  yes: number[];
  no: number[];
}

/**
 * Token ids that start a "Yes" / "No" answer: with and without SentencePiece's word marker ("▁Yes"
 * is what follows "ASSISTANT:" in LLaVA's prompts; "Yes" appears after a newline), upper and lower
 * case. The log-odds use the total probability of each set.
 */
export function yesNoIds(tok: Tokenizer, vocabSize: number): YesNoIds {
  const ids = (words: string[]) => [
    ...new Set(
      words
        .flatMap((w) => [w, `▁${w}`])
        .map((t) => tok.tokenToId(t))
        .filter((id): id is number => id !== undefined && id < vocabSize),
    ),
  ];
  const out = { yes: ids(["Yes", "yes", "YES"]), no: ids(["No", "no", "NO"]) };
  if (!out.yes.length || !out.no.length) throw new Error("the tokenizer has no single-token Yes/No: cannot measure yes/no log-odds");
  return out;
}

/** log P(yes set) − log P(no set). */
export function yesNoLogOdds(logp: Float64Array, ids: YesNoIds): number {
  return logSumExp(ids.yes.map((i) => logp[i])) - logSumExp(ids.no.map((i) => logp[i]));
}

export interface RowEffect {
  kl: number;
  dLogOdds: number;
  argmaxFlip: number;
  yesNoFlip: number;
}

export const METRICS: readonly (keyof RowEffect)[] = ["kl", "dLogOdds", "argmaxFlip", "yesNoFlip"];

/** Effect of one counterfactual row against the factual row. */
export function rowEffect(factual: Float64Array, cf: Float64Array, ids: YesNoIds): RowEffect {
  const lf = yesNoLogOdds(factual, ids);
  const lc = yesNoLogOdds(cf, ids);
  return {
    kl: klDivergence(factual, cf),
    dLogOdds: lc - lf,
    argmaxFlip: argmax(factual) === argmax(cf) ? 0 : 1,
    yesNoFlip: lf > 0 === lc > 0 ? 0 : 1,
  };
}

/** Mean over draws (flip rates become fractions of draws). */
export function meanEffect(effects: RowEffect[]): RowEffect {
  const m = (k: keyof RowEffect) => effects.reduce((s, e) => s + e[k], 0) / effects.length;
  return { kl: m("kl"), dLogOdds: m("dLogOdds"), argmaxFlip: m("argmaxFlip"), yesNoFlip: m("yesNoFlip") };
}

export interface Interval {
  mean: number;
  lo: number;
  hi: number;
}

/**
 * Bootstrap resamples of question indices, drawn once from `seed` and shared by every cell (so the
 * intervals of two cells are paired), `B` resamples of size n.
 */
export function bootstrapIndices(n: number, B: number, seed: number): Int32Array[] {
  return Array.from({ length: B }, (_, b) => {
    const rng = stream(seed, "bootstrap", b);
    return Int32Array.from({ length: n }, () => rng.int(n));
  });
}

/** Mean and the percentile interval (level, e.g. 0.95) of the mean over resamples. */
export function bootstrapCI(values: number[], resamples: Int32Array[], level = 0.95): Interval {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / Math.max(1, n);
  if (n < 2 || resamples.length === 0) return { mean, lo: mean, hi: mean };
  const means = resamples.map((idx) => idx.reduce((s, i) => s + values[i], 0) / n).sort((a, b) => a - b);
  const q = (p: number) => means[Math.min(means.length - 1, Math.max(0, Math.round(p * (means.length - 1))))];
  return { mean, lo: q((1 - level) / 2), hi: q(1 - (1 - level) / 2) };
}
