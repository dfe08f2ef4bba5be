// `causalmm score compare`: several answer files on the same POPE questions, side by side.
//   - Per file and split: accuracy, F1 and yes-ratio with 95% percentile bootstrap intervals
//     (questions resampled with replacement within the split; seeded, so reruns print the same numbers).
//   - Against the first file: the paired bootstrap interval of Δaccuracy and ΔF1 (every resample uses the
//     same questions for all files, so the per-question pairing is kept), and the exact McNemar test on
//     per-question correctness for accuracy.
import { stream, type Rng } from "../util/rng.js";
import { bySplit, countOutcomes, outcome, popeMetrics, TN, TP, type PopeRule, type Scored } from "./pope-score.js";
import { mcnemarExact, percentileInterval } from "./stats.js";
import { EvalFileError, idKey } from "./jsonl.js";

export interface Estimate {
  value: number;
  lo: number;
  hi: number;
}

export interface SystemStats {
  name: string;
  accuracy: Estimate;
  f1: Estimate;
  yesRatio: Estimate;
}

export interface PairStats {
  name: string;
  baseline: string;
  dAccuracy: Estimate;
  dF1: Estimate;
  /** Discordant counts: b = baseline right and this wrong, c = this right and baseline wrong. */
  mcnemar: { b: number; c: number; p: number };
}

export interface SplitComparison {
  split: string;
  n: number;
  systems: SystemStats[];
  pairs: PairStats[];
}

export interface CompareOptions {
  rule: PopeRule;
  resamples: number;
  seed: number;
  level?: number;
}

export function comparePope(systems: { name: string; pairs: readonly Scored[] }[], o: CompareOptions): SplitComparison[] {
  if (systems.length === 0) throw new EvalFileError("compare: no answer files");
  const splits = systems.map((s) => bySplit(s.pairs));
  const out: SplitComparison[] = [];
  for (const [split, base] of splits[0]) {
    const lists = splits.map((m, i) => alignedList(m.get(split), base, systems[i].name, split));
    const codes = lists.map((l) => Int8Array.from(l.map((p) => outcome(o.rule, p.text, p.label))));
    out.push(
      compareSplit(
        split,
        systems.map((s) => s.name),
        codes,
        o,
      ),
    );
  }
  return out;
}

/** The same questions in the same order for every file, or an error saying which differ. */
function alignedList(list: Scored[] | undefined, base: Scored[], name: string, split: string): Scored[] {
  if (!list || list.length !== base.length || list.some((p, i) => idKey(p.questionId) !== idKey(base[i].questionId))) {
    throw new EvalFileError(`compare: ${name} does not answer the same ${split} questions as the first file`);
  }
  return list;
}

const metricsOf = (c: number[]) => {
  const m = popeMetrics(c);
  return [m.accuracy, m.f1, m.yesRatio];
};

function compareSplit(split: string, names: string[], codes: Int8Array[], o: CompareOptions): SplitComparison {
  const n = codes[0].length;
  const point = codes.map((c) => metricsOf(countOutcomes(c)));
  const boot = bootstrap(codes, o.resamples, stream(o.seed, "pope-bootstrap", split));
  const level = o.level ?? 0.95;
  const est = (value: number, samples: number[]): Estimate => {
    const [lo, hi] = percentileInterval(samples, level);
    return { value, lo, hi };
  };
  const systems = names.map((name, s) => ({
    name,
    accuracy: est(
      point[s][0],
      boot.map((r) => r[s][0]),
    ),
    f1: est(
      point[s][1],
      boot.map((r) => r[s][1]),
    ),
    yesRatio: est(
      point[s][2],
      boot.map((r) => r[s][2]),
    ),
  }));
  const pairs = names.slice(1).map((name, i) => {
    const s = i + 1;
    return {
      name,
      baseline: names[0],
      dAccuracy: est(
        point[s][0] - point[0][0],
        boot.map((r) => r[s][0] - r[0][0]),
      ),
      dF1: est(
        point[s][1] - point[0][1],
        boot.map((r) => r[s][1] - r[0][1]),
      ),
      mcnemar: discordance(codes[0], codes[s]),
    };
  });
  return { split, n, systems, pairs };
}

/** Per resample, per system: [accuracy, F1, yes-ratio] on the same resampled questions. */
function bootstrap(codes: Int8Array[], resamples: number, rng: Rng): number[][][] {
  const n = codes[0].length;
  const out: number[][][] = [];
  if (n === 0) return out;
  const counts = codes.map(() => [0, 0, 0, 0]);
  for (let r = 0; r < resamples; r++) {
    for (const c of counts) c.fill(0);
    for (let j = 0; j < n; j++) {
      const idx = rng.int(n);
      for (let s = 0; s < codes.length; s++) counts[s][codes[s][idx]]++;
    }
    out.push(counts.map(metricsOf));
  }
  return out;
}

function discordance(base: Int8Array, other: Int8Array): PairStats["mcnemar"] {
  let b = 0;
  let c = 0;
  for (let i = 0; i < base.length; i++) {
    const r0 = base[i] === TP || base[i] === TN;
    const r1 = other[i] === TP || other[i] === TN;
    if (r0 && !r1) b++;
    else if (r1 && !r0) c++;
  }
  return { b, c, p: mcnemarExact(b, c) };
}
