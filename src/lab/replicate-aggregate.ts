// Aggregation of `causalmm replicate` runs per config × split: mean over runs of accuracy / F1 /
// yes-ratio / false-yes rate, 95% percentile-bootstrap intervals over questions (the same resampled
// question indices for every run and config, so differences between configs stay paired), and the spread
// across training seeds reported separately (with three models a bootstrap over models would be meaningless).
import type { RunRecord } from "./replicate-runs.js";
import { stream } from "../util/rng.js";
import { popeMetrics, FP, TN } from "../eval/pope-score.js";
import { percentileInterval } from "../eval/stats.js";

export const METRICS = ["accuracy", "f1", "yesRatio", "falseYes"] as const;
export type MetricName = (typeof METRICS)[number];

/** Accuracy, F1, yes-ratio and the false-yes rate FP/(FP+TN) (hallucinated "yes" to an absent object). */
export function metricsOfCounts(c: number[]): Record<MetricName, number> {
  const m = popeMetrics(c);
  return { accuracy: m.accuracy, f1: m.f1, yesRatio: m.yesRatio, falseYes: c[FP] / (c[FP] + c[TN]) };
}

export interface Est {
  mean: number;
  lo: number;
  hi: number;
}

export interface AggRow {
  config: string;
  split: string;
  runs: number;
  trainSeeds: number[];
  decodeSeeds: number[];
  questions: number;
  /** Deterministic config (every decoding seed copied from the first). */
  deterministic: boolean;
  metrics: Record<MetricName, Est>;
  /** Mean over that training seed's runs, per training seed (the between-model spread). */
  byTrainSeed: Record<string, Record<MetricName, number>>;
  /** Paired differences (this − reference) of the run-mean metric, per reference config present. */
  delta: Record<string, { accuracy: Est; falseYes: Est }>;
}

export interface AggregateOptions {
  resamples: number;
  seed: number;
  level?: number;
  references?: string[];
}

const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
const runKey = (r: RunRecord) => `${r.trainSeed}/${r.decodeSeed}`;

/** Per config × split: run-mean metrics with question-bootstrap intervals, per-model means, paired Δ. */
export function aggregate(records: readonly RunRecord[], o: AggregateOptions): AggRow[] {
  const splits = [...new Set(records.map((r) => r.split))];
  const configs = [...new Set(records.map((r) => r.config))];
  return splits.flatMap((split) => aggregateSplit(splitGroups(records, configs, split), split, o));
}

/** Each config's runs on one split, in (training seed, decoding seed) order; all must answer the same questions. */
function splitGroups(records: readonly RunRecord[], configs: string[], split: string): Map<string, RunRecord[]> {
  const groups = new Map<string, RunRecord[]>();
  for (const c of configs) {
    const g = records
      .filter((r) => r.config === c && r.split === split)
      .sort((a, b) => a.trainSeed - b.trainSeed || a.decodeSeed - b.decodeSeed);
    if (g.length) groups.set(c, g);
  }
  const all = [...groups.values()].flat();
  const ids = all[0].ids;
  for (const r of all) {
    if (r.ids.length !== ids.length || r.ids.some((x, i) => x !== ids[i]))
      throw new Error(`replicate: run ${runKey(r)} ${r.config} does not answer the same ${split} questions`);
  }
  return groups;
}

/** The mean over runs of each metric, on all questions (idx null) or on the resampled question indices. */
function runMean(g: RunRecord[], idx: Int32Array | null): Metrics {
  const per = g.map((r) => {
    const c = [0, 0, 0, 0];
    if (idx) for (let j = 0; j < idx.length; j++) c[r.codes[idx[j]]]++;
    else for (const x of r.codes) c[x]++;
    return metricsOfCounts(c);
  });
  return Object.fromEntries(METRICS.map((k) => [k, mean(per.map((p) => p[k]))])) as Metrics;
}

type Metrics = Record<MetricName, number>;

/** Per config: the run-mean metrics on all questions, and on each of `resamples` question resamples shared by every config (paired Δ). */
interface Draws {
  point: Map<string, Metrics>;
  boot: Map<string, Metrics[]>;
}

function bootstrap(groups: Map<string, RunRecord[]>, split: string, o: AggregateOptions): Draws {
  const n = [...groups.values()][0][0].ids.length;
  const point = new Map([...groups].map(([c, g]) => [c, runMean(g, null)]));
  const boot = new Map([...groups.keys()].map((c) => [c, [] as Metrics[]]));
  const rng = stream(o.seed, "replicate-bootstrap", split);
  const idx = new Int32Array(n);
  for (let b = 0; b < o.resamples; b++) {
    for (let j = 0; j < n; j++) idx[j] = rng.int(n);
    for (const [c, g] of groups) boot.get(c)!.push(runMean(g, idx));
  }
  return { point, boot };
}

type Estimates = Pick<AggRow, "metrics" | "byTrainSeed" | "delta">;
const column = (samples: Metrics[], k: MetricName) => samples.map((s) => s[k]);

function estimate(value: number, samples: number[], level: number): Est {
  const [lo, hi] = percentileInterval(samples, level);
  return { mean: value, lo, hi };
}

/** One split's rows, one per config. */
function aggregateSplit(groups: Map<string, RunRecord[]>, split: string, o: AggregateOptions): AggRow[] {
  const draws = bootstrap(groups, split, o);
  return [...groups].map(([c, g]) => ({
    config: c,
    split,
    runs: g.length,
    trainSeeds: [...new Set(g.map((r) => r.trainSeed))],
    decodeSeeds: [...new Set(g.map((r) => r.decodeSeed))],
    questions: g[0].ids.length,
    deterministic: g.some((r) => r.reused),
    ...configEstimates(c, groups, draws, o),
  }));
}

/** A config's metrics with intervals, its mean per training seed, and its paired Δ against each reference run on the same seeds. */
function configEstimates(c: string, groups: Map<string, RunRecord[]>, draws: Draws, o: AggregateOptions): Estimates {
  const level = o.level ?? 0.95;
  const g = groups.get(c)!;
  const p = draws.point.get(c)!;
  const bs = draws.boot.get(c)!;
  const interval = (k: MetricName) => estimate(p[k], column(bs, k), level);
  const metrics = Object.fromEntries(METRICS.map((k) => [k, interval(k)])) as Record<MetricName, Est>;
  const seedRuns = (t: number) => g.filter((r) => r.trainSeed === t);
  const byTrainSeed = Object.fromEntries([...new Set(g.map((r) => r.trainSeed))].map((t) => [String(t), runMean(seedRuns(t), null)]));
  const delta: AggRow["delta"] = {};
  for (const ref of o.references ?? ["greedy", "regular sampling"]) {
    const rg = groups.get(ref);
    if (!rg || ref === c || rg.map(runKey).join() !== g.map(runKey).join()) continue;
    const rp = draws.point.get(ref)!;
    const rb = draws.boot.get(ref)!;
    const d = (k: "accuracy" | "falseYes") => {
      const diffs = bs.map((s, i) => s[k] - rb[i][k]);
      return estimate(p[k] - rp[k], diffs, level);
    };
    delta[ref] = { accuracy: d("accuracy"), falseYes: d("falseYes") };
  }
  return { metrics, byTrainSeed, delta };
}
