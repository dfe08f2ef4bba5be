// A sweep's results as files: JSON (settings, yes/no ids, per-question numbers, per-cell means with
// bootstrap intervals), CSV (one row per cell) and a heatmap PNG (layer groups × types, one panel per
// module). Nothing time-dependent goes into the JSON, so equal seeds give byte-identical files.
import { writeFileSync } from "node:fs";
import type { Cell, QuestionResult, SweepSettings } from "./sweep.js";
import { bootstrapCI, bootstrapIndices, METRICS, type Interval, type RowEffect, type YesNoIds } from "./sweep-stats.js";
import { renderMatrices, type MatrixPanel } from "./heatmap.js";

export interface CellSummary extends Cell {
  label: string;
  n: number;
  metrics: Record<keyof RowEffect, Interval>;
}

export interface SweepReport {
  format: "causalmm-sweep/1";
  settings: SweepSettings & { bootstrap: number; level: number; model: string };
  yesNo: YesNoIds & { yesTokens: string[]; noTokens: string[] };
  questions: QuestionResult[];
  cells: CellSummary[];
}

export function layersLabel(layers: number[]): string {
  if (layers.length === 0) return "none";
  const contiguous = layers.every((l, i) => i === 0 || l === layers[i - 1] + 1);
  return layers.length === 1 ? String(layers[0]) : contiguous ? `${layers[0]}-${layers[layers.length - 1]}` : layers.join(",");
}

export function summarize(cells: Cell[], results: QuestionResult[], bootstrap: number, seed: number, level = 0.95): CellSummary[] {
  const resamples = bootstrapIndices(results.length, bootstrap, seed);
  return cells.map((c, k) => {
    const metrics = Object.fromEntries(
      METRICS.map((m) => [
        m,
        bootstrapCI(
          results.map((r) => r.effects[k][m]),
          resamples,
          level,
        ),
      ]),
    ) as Record<keyof RowEffect, Interval>;
    return { ...c, label: layersLabel(c.layers), n: results.length, metrics };
  });
}

export function toCsv(cells: CellSummary[]): string {
  const head = ["module", "type", "layers", "n", ...METRICS.flatMap((m) => [`${m}_mean`, `${m}_lo`, `${m}_hi`])];
  const rows = cells.map((c) =>
    [c.module, c.type, `"${c.label}"`, c.n, ...METRICS.flatMap((m) => [c.metrics[m].mean, c.metrics[m].lo, c.metrics[m].hi])].join(","),
  );
  return [head.join(","), ...rows].join("\n") + "\n";
}

export type SweepMetric = keyof RowEffect;

/** One panel per module: rows = layer groups, columns = counterfactual types, colour = metric mean. */
export async function sweepPng(report: SweepReport, metric: SweepMetric = "kl"): Promise<Buffer> {
  const modules = [...new Set(report.cells.map((c) => c.module))];
  const types = [...new Set(report.cells.map((c) => c.type))];
  const panels: MatrixPanel[] = modules.map((m) => {
    const cells = report.cells.filter((c) => c.module === m);
    const labels = [...new Set(cells.map((c) => c.label))];
    return {
      title: `${m} attention`,
      rowLabels: labels.map((l) => (l === "none" ? l : `L${l}`)),
      colLabels: types,
      values: labels.map((l) => types.map((t) => cells.find((c) => c.label === l && c.type === t)?.metrics[metric].mean ?? NaN)),
    };
  });
  const what: Record<SweepMetric, string> = {
    kl: "KL(factual || counterfactual) of the next-token distribution",
    dLogOdds: "change in yes/no log-odds (counterfactual - factual)",
    argmaxFlip: "rate at which the top token changes",
    yesNoFlip: "rate at which the yes/no decision flips",
  };
  const caption = [
    `${what[metric]}, mean over ${report.questions.length} question(s); rows: intervened layer(s), columns: counterfactual type.`,
  ];
  return renderMatrices(panels, {
    caption,
    cellWidth: 84,
    cellHeight: panels.some((p) => p.rowLabels.length > 16) ? 16 : 22,
    numbers: panels.every((p) => p.rowLabels.length <= 16),
  });
}

export async function writeSweep(prefix: string, report: SweepReport, metric: SweepMetric = "kl"): Promise<string[]> {
  const files = [`${prefix}.json`, `${prefix}.csv`, `${prefix}.png`];
  writeFileSync(files[0], JSON.stringify(report, null, 1) + "\n");
  writeFileSync(files[1], toCsv(report.cells));
  writeFileSync(files[2], await sweepPng(report, metric));
  return files;
}
