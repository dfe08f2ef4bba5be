// The aggregated replicate rows (replicate-aggregate.ts) as CSV and as a markdown table per split.
import { METRICS, type AggRow, type Est } from "./replicate-aggregate.js";

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
