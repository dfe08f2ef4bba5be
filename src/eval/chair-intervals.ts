// Bootstrap intervals for CHAIR: captions are resampled with replacement (seeded, so reruns print the same
// interval), and each resample recomputes the corpus-level ratios exactly as the point estimate does:
//   CHAIR_s = Σ [caption has a hallucination] / n,  CHAIR_i = Σ hallucinated / Σ mentions,
//   Recall  = Σ covered ground-truth classes / Σ ground-truth classes.
// A resample whose denominator is 0 (no mentions at all) is left out of that ratio's interval.
import { stream } from "../util/rng.js";
import type { ChairSentence } from "./chair-score.js";
import { percentileInterval } from "./stats.js";

export interface ChairIntervals {
  level: number;
  resamples: number;
  seed: number;
  unit: "caption";
  CHAIRs: [number, number];
  CHAIRi: [number, number] | null;
  Recall: [number, number] | null;
}

export interface ChairIntervalOptions {
  resamples?: number;
  seed?: number;
  level?: number;
}

/** Per caption: [has a hallucination, hallucinated mentions, mentions, covered gt classes, gt classes]. */
function captionCounts(s: ChairSentence): number[] {
  const gt = new Set(s.mscoco_gt_words);
  const covered = new Set(s.mscoco_generated_words.filter((w) => gt.has(w)));
  const hall = s.mscoco_hallucinated_words.length;
  return [hall > 0 ? 1 : 0, hall, s.mscoco_generated_words.length, covered.size, gt.size];
}

export function chairIntervals(sentences: readonly ChairSentence[], o: ChairIntervalOptions = {}): ChairIntervals {
  const resamples = o.resamples ?? 1000;
  const seed = o.seed ?? 0;
  const level = o.level ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new Error(`CHAIR intervals: resamples must be a positive integer (got ${resamples})`);
  }
  const n = sentences.length;
  if (n === 0) throw new Error("CHAIR intervals: no captions");
  const counts = sentences.map(captionCounts);
  const rng = stream(seed, "chair-bootstrap");
  const s: number[] = [],
    i: number[] = [],
    r: number[] = [];
  const sum = [0, 0, 0, 0, 0];
  for (let b = 0; b < resamples; b++) {
    sum.fill(0);
    for (let j = 0; j < n; j++) {
      const c = counts[rng.int(n)];
      for (let k = 0; k < 5; k++) sum[k] += c[k];
    }
    s.push(sum[0] / n);
    i.push(sum[2] ? sum[1] / sum[2] : NaN);
    r.push(sum[4] ? sum[3] / sum[4] : NaN);
  }
  const interval = (v: number[]) => (v.some(Number.isFinite) ? percentileInterval(v, level) : null);
  return { level, resamples, seed, unit: "caption", CHAIRs: percentileInterval(s, level), CHAIRi: interval(i), Recall: interval(r) };
}

const pct = (x: number) => (100 * x).toFixed(1);
const range = (v: [number, number] | null) => (v === null ? "n/a" : `[${pct(v[0])}, ${pct(v[1])}]`);

/** One line per ratio, to print under formatChair's table. */
export function formatChairIntervals(c: ChairIntervals): string {
  return [
    `${Math.round(100 * c.level)} % bootstrap intervals (${c.resamples} caption resamples, seed ${c.seed}):`,
    `  CHAIRs ${range(c.CHAIRs)}   CHAIRi ${range(c.CHAIRi)}   Recall ${range(c.Recall)}`,
  ].join("\n");
}
