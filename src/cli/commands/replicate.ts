// `causalmm replicate`: issue 8's experiment. Several lab models (training seeds) × decoding seeds ×
// decoding configs on the same held-out scenes through the demo machinery; aggregates per config × split
// (run means, question-bootstrap 95% CIs, per-model spread, paired Δ vs greedy / regular sampling) into
// JSON, CSV, a markdown table per split and bar charts with CI whiskers (PNG).
import { writeFileSync } from "node:fs";
import { makeDirs } from "../../util/files.js";
import { join, resolve } from "node:path";
import type { ParsedArgs } from "../args.js";
import { defineCommand, listOpt, numOpt, str } from "../args.js";
import { loadLlava } from "../../api.js";
import { replicateConfigs, runReplicate } from "../../lab/replicate.js";
import { readRunSet } from "../../lab/replicate-runs.js";
import { aggregate, type AggRow, type MetricName } from "../../lab/replicate-aggregate.js";
import { aggregateCsv, aggregateMarkdown } from "../../lab/replicate-tables.js";
import { Canvas, type Rgb } from "../../introspect/draw.js";
import { PROGRESS_OPTIONS, ProgressBar, progressFlags } from "../progress.js";

/** `DIR@SEED` (training seed after the last @) or `DIR` (seed = position in the list). */
function models(specs: string[]): { dir: string; trainSeed: number }[] {
  return specs.map((s, i) => {
    const at = s.lastIndexOf("@");
    if (at > 0 && /^-?\d+$/.test(s.slice(at + 1))) return { dir: resolve(s.slice(0, at)), trainSeed: Number(s.slice(at + 1)) };
    return { dir: resolve(s), trainSeed: i };
  });
}

const ints = (s: string) =>
  s
    .split(",")
    .filter((x) => x.trim() !== "")
    .map((x) => {
      const n = Number(x);
      if (!Number.isInteger(n)) throw new Error(`replicate: not an integer seed: '${x}'`);
      return n;
    });

const GROUP_COLOURS: Record<string, Rgb> = {
  baseline: [150, 150, 150],
  cutoff: [230, 150, 40],
  vision: [60, 110, 200],
  text: [60, 160, 90],
  both: [150, 80, 170],
};

const TITLES: Record<MetricName, string> = {
  accuracy: "accuracy",
  f1: "F1",
  yesRatio: "yes-ratio",
  falseYes: "false-yes rate FP/(FP+TN) (lower = fewer hallucinations)",
};

/** Horizontal bars (run mean) with 95% CI whiskers, one panel per split; red line = greedy. */
export async function barChart(rows: readonly AggRow[], metric: MetricName, note: string): Promise<Buffer> {
  const splits = [...new Set(rows.map((r) => r.split))];
  const configs = [...new Set(rows.map((r) => r.config))];
  const groupOf = new Map(replicateConfigs(0).map((c) => [c.name, c.group]));
  const labelW = 290,
    panelW = 250,
    gap = 36,
    rowH = 22,
    top = 64,
    left = 10;
  const W = left + labelW + splits.length * (panelW + gap) + 10;
  const H = top + configs.length * rowH + 60;
  const cv = new Canvas(W, H);
  await cv.text(left, 6, `Synthetic POPE, ${TITLES[metric]}: mean over runs, 95% CI (question bootstrap)`);
  await cv.text(left, 26, note);
  for (const [ci, c] of configs.entries()) await cv.text(left, top + ci * rowH + 2, c, labelW - 8);
  for (const [si, split] of splits.entries()) {
    const x0 = left + labelW + si * (panelW + gap);
    const X = (v: number) => x0 + Math.round(Math.max(0, Math.min(1, v)) * panelW);
    await cv.text(x0, top - 20, split);
    for (let t = 0; t <= 4; t++) {
      cv.fill(X(t / 4), top - 2, 1, configs.length * rowH + 4, t === 0 ? [0, 0, 0] : [220, 220, 220]);
      await cv.text(X(t / 4) - (t === 0 ? 0 : 14), top + configs.length * rowH + 6, (t / 4).toFixed(2).replace(/^0/, t === 0 ? "0" : ""));
    }
    const greedy = rows.find((r) => r.split === split && r.config === "greedy");
    for (const [ci, c] of configs.entries()) {
      const r = rows.find((q) => q.split === split && q.config === c);
      if (!r) continue;
      const e = r.metrics[metric];
      const y = top + ci * rowH;
      if (Number.isFinite(e.mean)) cv.fill(X(0), y + 4, X(e.mean) - X(0), rowH - 8, GROUP_COLOURS[groupOf.get(c) ?? "baseline"]);
      if (Number.isFinite(e.lo) && Number.isFinite(e.hi)) {
        const ym = y + Math.floor(rowH / 2);
        cv.fill(X(e.lo), ym, Math.max(1, X(e.hi) - X(e.lo) + 1), 2, [0, 0, 0]);
        cv.fill(X(e.lo), ym - 4, 2, 10, [0, 0, 0]);
        cv.fill(X(e.hi) - 1, ym - 4, 2, 10, [0, 0, 0]);
      }
    }
    if (greedy && Number.isFinite(greedy.metrics[metric].mean)) {
      for (let y = top; y < top + configs.length * rowH; y += 6) cv.fill(X(greedy.metrics[metric].mean), y, 1, 3, [220, 30, 30]);
    }
  }
  await cv.text(left, H - 26, "grey: baselines, orange: cutoff only, blue: CausalMM vision, green: text, purple: both; red dashes: greedy");
  return cv.png();
}

const REFS = ["greedy", "regular sampling", "cutoff only g=0 e=0.6 (sampling)"] as const;

/** Δaccuracy / Δfalse-yes (points, 95% CI) of the sampling-based cutoff and official configs vs their references. */
function cutoffTable(rows: readonly AggRow[]): string {
  const f = (e: { mean: number; lo: number; hi: number }) =>
    `${(100 * e.mean).toFixed(1)} [${(100 * e.lo).toFixed(1)}, ${(100 * e.hi).toFixed(1)}]`;
  const pairs: [string, string][] = [
    ["cutoff only g=0 e=0.6 (sampling)", REFS[1]],
    ["CausalMM official code", REFS[1]],
    ["CausalMM official code", REFS[2]],
    ["cutoff only g=0 e=0.6 (greedy)", REFS[0]],
  ];
  const lines = ["| comparison | split | Δacc (points) | Δfalse-yes (points) |", "| --- | --- | --- | --- |"];
  for (const [c, ref] of pairs) {
    for (const r of rows.filter((q) => q.config === c && q.delta[ref]))
      lines.push(`| ${c} − ${ref} | ${r.split} | ${f(r.delta[ref].accuracy)} | ${f(r.delta[ref].falseYes)} |`);
  }
  return lines.join("\n");
}

async function run(args: ParsedArgs): Promise<void> {
  const out = resolve(str(args, "out") ?? "replicate-out");
  const log = (s: string) => process.stderr.write(s + "\n");
  const ms = models(listOpt(args, "model"));
  const decodeSeeds = ints(str(args, "decode-seeds") ?? "0,1,2");
  const sceneSeed = numOpt(args, "scene-seed") ?? 2026;
  const perSplit = numOpt(args, "questions") ?? 100;
  const only = listOpt(args, "config");
  makeDirs(out, "the replicate output");
  if (ms.length) {
    const bars = new Map<string, ProgressBar>();
    const onProgress = (config: string, p: { done: number; total: number; rate: number }) => {
      if (!bars.has(config)) bars.set(config, new ProgressBar(`replicate ${config}`, { ...progressFlags(args), unit: "answers" }));
      bars.get(config)!.update(p.done, p.total, `${p.rate.toFixed(2)} q/s`);
      if (p.done === p.total) {
        bars.get(config)!.done();
        bars.delete(config); // the next run's config gets a fresh clock
      }
    };
    await runReplicate({
      models: ms,
      decodeSeeds,
      sceneSeed,
      perSplit,
      out,
      only: only.length ? only : undefined,
      log,
      onProgress,
      load: (dir) => loadLlava(dir, { backend: str(args, "backend") }),
    });
  }
  if (args.opts["aggregate"] === false) return;
  const set = readRunSet(out);
  const records = set.records;
  if (records.length === 0) throw new Error(`replicate: no runs in ${join(out, "runs")} (give --model DIR@SEED)`);
  const resamples = numOpt(args, "resamples") ?? 2000;
  const rows = aggregate(records, { resamples, seed: numOpt(args, "bootstrap-seed") ?? 0, references: [...REFS] });
  const trainSeeds = [...new Set(records.map((r) => r.trainSeed))].sort((a, b) => a - b);
  const dSeeds = [...new Set(records.map((r) => r.decodeSeed))].sort((a, b) => a - b);
  const meta = {
    sceneSeed: set.sceneSeed,
    perSplit: set.perSplit,
    trainSeeds,
    decodeSeeds: dSeeds,
    resamples,
    ci:
      "95% percentile bootstrap over questions; " +
      "each resample uses the same question indices in every run and config (paired); the statistic is the mean over runs",
  };
  writeFileSync(join(out, "replication.json"), JSON.stringify({ meta, rows }, null, 2) + "\n");
  writeFileSync(join(out, "replication.csv"), aggregateCsv(rows));
  const splits = [...new Set(rows.map((r) => r.split))];
  const md =
    splits.map((s) => `### ${s}\n\n${aggregateMarkdown(rows, s)}\n`).join("\n") +
    `\n### the cutoff's share (sampling-based configs)\n\n${cutoffTable(rows)}\n`;
  writeFileSync(join(out, "tables.md"), md);
  process.stdout.write(md + "\n");
  const img = resolve(str(args, "img-dir") ?? out);
  const prefix = str(args, "prefix") ?? "replication";
  makeDirs(img, "the replicate charts");
  const note =
    `training seeds ${trainSeeds.join(",")} x decoding seeds ${dSeeds.join(",")}; ` +
    `${rows[0]?.questions ?? 0} questions per split; scene seed ${set.sceneSeed}`;
  for (const m of ["accuracy", "falseYes", "yesRatio", "f1"] as MetricName[]) {
    const file = join(img, `${prefix}-${m.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())}.png`);
    writeFileSync(file, await barChart(rows, m, note));
    log(`wrote ${file}`);
  }
  log(`wrote ${join(out, "replication.json")}, ${join(out, "replication.csv")}, ${join(out, "tables.md")}`);
}

export const replicateCommand = defineCommand({
  name: "replicate",
  summary: "issue 8: lab models (training seeds) x decoding seeds x configs on held-out scenes; CIs, CSV, plots",
  usage:
    "causalmm replicate --model DIR@SEED [--model DIR@SEED ...] [--decode-seeds 0,1,2] [--questions N] [--scene-seed S] --out DIR [--img-dir DIR]",
  options: [
    {
      name: "model",
      type: "list",
      help: "model directory, optionally @TRAINING_SEED (default seed: position); none = only aggregate OUT/runs",
    },
    {
      name: "decode-seeds",
      type: "string",
      help: "comma-separated decoding seeds (sampling, VCD noise, random/shuffle)",
      default: "0,1,2",
    },
    { name: "questions", type: "number", help: "questions per POPE split", default: 100 },
    { name: "scene-seed", type: "number", help: "seed of the held-out scenes (fixed across runs)", default: 2026 },
    { name: "config", type: "list", help: "only this config name (default: all)" },
    {
      name: "out",
      type: "string",
      help: "output directory (runs/ made with the same settings are reused: rerunning resumes; other settings are refused)",
      default: "replicate-out",
    },
    { name: "aggregate", type: "boolean", help: "aggregate and plot after running (--aggregate=false: only run)", default: true },
    { name: "resamples", type: "number", help: "bootstrap resamples", default: 2000 },
    { name: "bootstrap-seed", type: "number", help: "seed of the bootstrap", default: 0 },
    { name: "img-dir", type: "string", help: "where the PNG plots go (default: OUT)" },
    { name: "prefix", type: "string", help: "file-name prefix of the plots", default: "replication" },
    ...PROGRESS_OPTIONS,
  ],
  run,
});
