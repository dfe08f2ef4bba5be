// Replication of the lab comparison (issue 8): several training seeds × decoding seeds × decoding
// configs on the same held-out scenes, each run through the demo machinery (real POPE runner +
// scorer), then aggregated per config × split: mean over runs of accuracy / F1 / yes-ratio / false-yes
// rate, 95% percentile-bootstrap intervals over questions (the same resampled question indices for
// every run and config, so differences between configs stay paired), and the spread across training
// seeds reported separately (with three models a bootstrap over models would be meaningless).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Llava } from "../api.js";
import { LAB_PAI, runDemo, type DemoConfig, type DemoOptions } from "./demo.js";
import {
  compatibleRun,
  configKeys,
  modelFingerprint,
  readRunSet,
  runFile,
  writeRunFile,
  type RunFile,
  type RunKey,
  type RunRecord,
} from "./replicate-runs.js";
import { stream } from "../util/rng.js";
import { outcome, popeMetrics, FP, TN } from "../eval/pope-score.js";
import { percentileInterval } from "../eval/stats.js";
import { idKey } from "../eval/jsonl.js";

export { readRunSet, runFile, type RunRecord } from "./replicate-runs.js";

export interface ReplicateConfig extends DemoConfig {
  /** Uses the decoding seed (sampling, VCD noise, random/shuffle counterfactuals); else deterministic. */
  seeded: boolean;
  /** Colour group in the plots. */
  group: "baseline" | "cutoff" | "vision" | "text" | "both";
}

const CF_TYPES = ["uniform", "reversed", "random", "shuffle"] as const;

/** Every config of the experiment; names are ASCII (they are drawn with a bitmap font). */
export function replicateConfigs(seed: number): ReplicateConfig[] {
  const samp = { temperature: 1, topP: 1, seed };
  const rnd = (t: string) => t === "random" || t === "shuffle";
  return [
    { name: "regular sampling", opts: samp, seeded: true, group: "baseline" },
    { name: "greedy", opts: {}, seeded: false, group: "baseline" },
    { name: "VCD (noised image)", opts: { causal: { baseline: "vcd", seed } }, seeded: true, group: "baseline" },
    { name: "no-image contrast", opts: { causal: { baseline: "noimage" } }, seeded: false, group: "baseline" },
    { name: "PAI a=0.2 g=1.1 layers 0-1", opts: { causal: LAB_PAI }, seeded: false, group: "baseline" },
    { name: "PAI attention only a=0.2 g=1 layers 0-1", opts: { causal: { ...LAB_PAI, gamma: 1 } }, seeded: false, group: "baseline" },
    {
      name: "cutoff only g=0 e=0.6 (greedy)",
      opts: { causal: { cf: ["vision:uniform@sel"], gamma: 0, epsilon: 0.6 } },
      seeded: false,
      group: "cutoff",
    },
    {
      name: "cutoff only g=0 e=0.6 (sampling)",
      opts: { ...samp, causal: { cf: ["vision:uniform@sel"], gamma: 0, epsilon: 0.6 } },
      seeded: true,
      group: "cutoff",
    },
    ...CF_TYPES.map((t): ReplicateConfig => ({
      name: `CausalMM vision ${t}@sel`,
      opts: { causal: { cf: [`vision:${t}@sel`], seed } },
      seeded: rnd(t),
      group: "vision",
    })),
    ...CF_TYPES.map((t): ReplicateConfig => ({
      name: `CausalMM text ${t}@all`,
      opts: { causal: { cf: [`text:${t}@all`], seed } },
      seeded: rnd(t),
      group: "text",
    })),
    { name: "CausalMM multimodal (both)", opts: { causal: { cf: ["both"] } }, seeded: false, group: "both" },
    { name: "CausalMM official code", opts: { ...samp, causal: { preset: "official", seed } }, seeded: true, group: "both" },
  ];
}

export interface ReplicateOptions {
  models: { dir: string; trainSeed: number }[];
  decodeSeeds: number[];
  sceneSeed: number;
  perSplit: number;
  out: string;
  /** Only these config names (default all). */
  only?: string[];
  load: (dir: string) => Promise<Llava>;
  log?: (line: string) => void;
  /** Answering progress of one config (for a progress line). */
  onProgress?: DemoOptions["onProgress"];
}

/**
 * Runs every model × decoding seed × config not already on disk (OUT/runs/tT-dD.json). A run file is
 * resumed only when its settings match (else an error names it); configs it lacks are run and added.
 */
export async function runReplicate(o: ReplicateOptions): Promise<void> {
  const names = replicateConfigs(0).map((c) => c.name);
  for (const c of o.only ?? []) if (!names.includes(c)) throw new Error(`replicate: unknown --config '${c}' (valid: ${names.join("; ")})`);
  mkdirSync(join(o.out, "runs"), { recursive: true });
  const seen = new Map<number, string>();
  for (const m of o.models) {
    if (seen.has(m.trainSeed))
      throw new Error(`replicate: training seed ${m.trainSeed} given for two models (${seen.get(m.trainSeed)} and ${m.dir})`);
    seen.set(m.trainSeed, m.dir);
  }
  for (const m of o.models) {
    const model = modelFingerprint(m.dir);
    const plans = o.decodeSeeds.map((d) => planRun(o, m.trainSeed, d, model));
    if (plans.every((p) => p.todo.length === 0)) continue;
    const llava = await o.load(m.dir);
    try {
      for (const plan of plans) await doRun(o, llava, m.dir, plan);
    } finally {
      llava.dispose();
    }
  }
}

interface RunPlan {
  file: string;
  key: RunKey;
  configs: ReplicateConfig[];
  existing: RunFile | null;
  todo: ReplicateConfig[];
}

/** What one (training seed, decoding seed) run still needs; throws when its file was made otherwise. */
function planRun(o: ReplicateOptions, trainSeed: number, decodeSeed: number, model: string): RunPlan {
  const file = runFile(o.out, trainSeed, decodeSeed);
  const key: RunKey = { trainSeed, decodeSeed, sceneSeed: o.sceneSeed, perSplit: o.perSplit, model };
  const configs = replicateConfigs(decodeSeed).filter((c) => !o.only || o.only.includes(c.name));
  const existing = compatibleRun(file, key, configKeys(configs));
  return { file, key, configs, existing, todo: configs.filter((c) => !existing?.configs[c.name]) };
}

async function doRun(o: ReplicateOptions, llava: Llava, dir: string, p: RunPlan): Promise<void> {
  if (p.todo.length === 0) return;
  const { trainSeed: t, decodeSeed: d } = p.key;
  // Deterministic configs are copied from the first decoding seed's run when it has them.
  const firstSeed = o.decodeSeeds[0];
  const firstFile = runFile(o.out, t, firstSeed);
  const firstConfigs = configKeys(replicateConfigs(firstSeed));
  const prior = d === firstSeed ? null : compatibleRun(firstFile, { ...p.key, decodeSeed: firstSeed }, firstConfigs);
  const reuse = p.todo.filter((c) => !c.seeded && prior?.configs[c.name] !== undefined);
  const run = p.todo.filter((c) => !reuse.includes(c));
  const t0 = performance.now();
  o.log?.(
    `training seed ${t} (${dir}), decoding seed ${d}: ${run.length} configs (${reuse.length} deterministic ones reused` +
      `${p.existing ? `, ${Object.keys(p.existing.configs).length} already in ${p.file}` : ""})`,
  );
  const res = await runDemo(llava, {
    out: join(o.out, "work", `t${t}-d${d}`),
    perSplit: o.perSplit,
    seed: o.sceneSeed,
    configs: run,
    log: o.log,
    onProgress: o.onProgress,
  });
  const records: RunRecord[] = [...(p.existing?.records ?? [])];
  for (const c of reuse)
    for (const r of prior!.records.filter((r) => r.config === c.name)) records.push({ ...r, decodeSeed: d, reused: true });
  for (const c of run) {
    const answers = res.answers.get(c.name)!;
    for (const split of [...new Set(res.items.map((it) => it.category ?? "all"))]) {
      const items = res.items.filter((it) => (it.category ?? "all") === split);
      const ids = items.map((it) => idKey(it.questionId));
      const codes = items.map((it, i) => outcome("vcd", answers.get(ids[i]) ?? "", it.label as "yes" | "no"));
      records.push({ trainSeed: t, decodeSeed: d, config: c.name, split, ids, codes, reused: false });
    }
  }
  const configs = { ...p.existing?.configs, ...configKeys(p.todo) };
  writeRunFile(p.file, { key: p.key, modelDir: dir, configs, records });
  o.log?.(`  done in ${((performance.now() - t0) / 1000).toFixed(0)} s -> ${p.file}`);
}

/** Every run record under OUT/runs (checked: one scene seed, one question count, one model per training seed). */
export function readRuns(out: string): RunRecord[] {
  return readRunSet(out).records;
}

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
  const level = o.level ?? 0.95;
  const refs = o.references ?? ["greedy", "regular sampling"];
  const splits = [...new Set(records.map((r) => r.split))];
  const configs = [...new Set(records.map((r) => r.config))];
  const out: AggRow[] = [];
  for (const split of splits) {
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
    const n = ids.length;
    const runMean = (g: RunRecord[], idx: Int32Array | null): Record<MetricName, number> => {
      const per = g.map((r) => {
        const c = [0, 0, 0, 0];
        if (idx) for (let j = 0; j < idx.length; j++) c[r.codes[idx[j]]]++;
        else for (const x of r.codes) c[x]++;
        return metricsOfCounts(c);
      });
      return Object.fromEntries(METRICS.map((k) => [k, mean(per.map((p) => p[k]))])) as Record<MetricName, number>;
    };
    const point = new Map([...groups].map(([c, g]) => [c, runMean(g, null)]));
    const boot = new Map([...groups.keys()].map((c) => [c, [] as Record<MetricName, number>[]]));
    const rng = stream(o.seed, "replicate-bootstrap", split);
    const idx = new Int32Array(n);
    for (let b = 0; b < o.resamples; b++) {
      for (let j = 0; j < n; j++) idx[j] = rng.int(n);
      for (const [c, g] of groups) boot.get(c)!.push(runMean(g, idx));
    }
    const est = (value: number, samples: number[]): Est => {
      const [lo, hi] = percentileInterval(samples, level);
      return { mean: value, lo, hi };
    };
    for (const [c, g] of groups) {
      const p = point.get(c)!;
      const bs = boot.get(c)!;
      const metrics = Object.fromEntries(
        METRICS.map((k) => [
          k,
          est(
            p[k],
            bs.map((s) => s[k]),
          ),
        ]),
      ) as Record<MetricName, Est>;
      const trainSeeds = [...new Set(g.map((r) => r.trainSeed))];
      const byTrainSeed = Object.fromEntries(
        trainSeeds.map((t) => [
          String(t),
          runMean(
            g.filter((r) => r.trainSeed === t),
            null,
          ),
        ]),
      );
      const delta: AggRow["delta"] = {};
      for (const ref of refs) {
        const rg = groups.get(ref);
        if (!rg || ref === c || rg.map(runKey).join() !== g.map(runKey).join()) continue;
        const rp = point.get(ref)!;
        const rb = boot.get(ref)!;
        const d = (k: "accuracy" | "falseYes") =>
          est(
            p[k] - rp[k],
            bs.map((s, i) => s[k] - rb[i][k]),
          );
        delta[ref] = { accuracy: d("accuracy"), falseYes: d("falseYes") };
      }
      out.push({
        config: c,
        split,
        runs: g.length,
        trainSeeds,
        decodeSeeds: [...new Set(g.map((r) => r.decodeSeed))],
        questions: n,
        deterministic: g.some((r) => r.reused),
        metrics,
        byTrainSeed,
        delta,
      });
    }
  }
  return out;
}

const pct = (x: number) => (100 * x).toFixed(1);
const ci = (e: Est) => `${pct(e.mean)} [${pct(e.lo)}, ${pct(e.hi)}]`;

/** CSV: one line per config × split (metrics in %, CIs, per-training-seed accuracy, Δ vs references). */
export function aggregateCsv(rows: readonly AggRow[], refs = [...new Set(rows.flatMap((r) => Object.keys(r.delta)))]): string {
  const seeds = [...new Set(rows.flatMap((r) => r.trainSeeds))].sort((a, b) => a - b);
  const head = [
    "config",
    "split",
    "runs",
    "questions",
    "deterministic",
    ...METRICS.flatMap((k) => [k, `${k}_lo`, `${k}_hi`]),
    ...seeds.map((s) => `accuracy_train${s}`),
    ...refs.flatMap((r) => [`dacc_vs_${r}`, "lo", "hi", `dfalseyes_vs_${r}`, "lo", "hi"].map((h) => h.replace(/ /g, "_"))),
  ];
  const f = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "" : (100 * x).toFixed(2));
  const lines = rows.map((r) =>
    [
      JSON.stringify(r.config),
      r.split,
      r.runs,
      r.questions,
      r.deterministic,
      ...METRICS.flatMap((k) => [f(r.metrics[k].mean), f(r.metrics[k].lo), f(r.metrics[k].hi)]),
      ...seeds.map((s) => f(r.byTrainSeed[String(s)]?.accuracy)),
      ...refs.flatMap((ref) => {
        const d = r.delta[ref];
        return d ? [d.accuracy, d.falseYes].flatMap((e) => [f(e.mean), f(e.lo), f(e.hi)]) : ["", "", "", "", "", ""];
      }),
    ].join(","),
  );
  return [head.join(","), ...lines].join("\n") + "\n";
}

/** Markdown table for one split: metrics with CIs, per-model accuracy, Δ accuracy / Δ false-yes vs greedy. */
export function aggregateMarkdown(rows: readonly AggRow[], split: string, ref = "greedy"): string {
  const sel = rows.filter((r) => r.split === split);
  const seeds = [...new Set(sel.flatMap((r) => r.trainSeeds))].sort((a, b) => a - b);
  const head = [
    "decoding",
    "runs",
    "accuracy %",
    "F1 %",
    "yes-ratio %",
    "false-yes %",
    `acc by model (${seeds.map((s) => `t${s}`).join("/")})`,
    `Δacc vs ${ref}`,
    `Δfalse-yes vs ${ref}`,
  ];
  const body = sel.map((r) => [
    r.config + (r.deterministic ? " *" : ""),
    String(r.runs),
    ci(r.metrics.accuracy),
    ci(r.metrics.f1),
    ci(r.metrics.yesRatio),
    ci(r.metrics.falseYes),
    seeds.map((s) => (r.byTrainSeed[String(s)] ? pct(r.byTrainSeed[String(s)].accuracy) : "–")).join(" / "),
    r.delta[ref] ? ci(r.delta[ref].accuracy) : "–",
    r.delta[ref] ? ci(r.delta[ref].falseYes) : "–",
  ]);
  const line = (c: string[]) => `| ${c.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...body.map(line)].join("\n");
}
