// Plain-text tables for the score reports (JSON output is the report objects themselves).
import type { SplitComparison } from "./compare.js";
import type { MmeReport } from "./mme-score.js";
import { POPE_RULES, type PopeReport } from "./pope-score.js";

/** A number with fixed decimals; NaN (a 0/0 metric) prints as "nan" like Python. */
export function fmt(x: number, digits = 4): string {
  return Number.isFinite(x) ? x.toFixed(digits) : "nan";
}

export function table(header: string[], rows: string[][]): string {
  const width = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i])))
      .join("  ")
      .trimEnd();
  return [line(header), line(width.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

export function formatPope(r: PopeReport): string {
  const header = ["split", "rule", "n", "accuracy", "precision", "recall", "f1", "yes-ratio", "TP", "FP", "TN", "FN"];
  const rows: string[][] = [];
  for (const s of r.splits) {
    for (const rule of POPE_RULES) {
      const m = s.rules[rule];
      rows.push([
        s.split,
        rule,
        String(m.n),
        fmt(m.accuracy),
        fmt(m.precision),
        fmt(m.recall),
        fmt(m.f1),
        fmt(m.yesRatio),
        String(m.tp),
        String(m.fp),
        String(m.tn),
        String(m.fn),
      ]);
    }
  }
  if (r.mean) {
    for (const rule of POPE_RULES) {
      const m = r.mean[rule];
      rows.push(["mean", rule, String(m.n), fmt(m.accuracy), fmt(m.precision), fmt(m.recall), fmt(m.f1), fmt(m.yesRatio), "", "", "", ""]);
    }
  }
  const note = r.missing ? `\n(${r.missing} unanswered question(s) left out)` : "";
  return table(header, rows) + note;
}

export function formatMme(r: MmeReport): string {
  const header = ["subtask", "questions", "acc", "acc+", "score", "other"];
  const rows = r.tasks.map((t) => [
    t.subtask,
    String(t.questions),
    fmt(t.acc * 100, 2),
    fmt(t.accPlus * 100, 2),
    fmt(t.score, 2),
    String(t.other),
  ]);
  const total = (name: string, t: MmeReport["perception"]) =>
    `${name}: ${fmt(t.score, 2)}${t.missing.length ? `  (missing: ${t.missing.join(", ")})` : ""}`;
  return [
    table(header, rows),
    "",
    total("Perception", r.perception),
    total("Cognition", r.cognition),
    total("Hallucination (existence+count+position+color)", r.hallucination),
  ].join("\n");
}

const ci = (e: { value: number; lo: number; hi: number }) => `${fmt(e.value)} [${fmt(e.lo)}, ${fmt(e.hi)}]`;
const signed = (e: { value: number; lo: number; hi: number }) => `${e.value >= 0 ? "+" : ""}${fmt(e.value)} [${fmt(e.lo)}, ${fmt(e.hi)}]`;

export function formatComparison(list: SplitComparison[], level = 0.95): string {
  const pct = `${Math.round(level * 100)}% CI`;
  const parts: string[] = [];
  for (const s of list) {
    parts.push(`split ${s.split} (n = ${s.n})`);
    parts.push(
      table(
        ["file", `accuracy [${pct}]`, `f1 [${pct}]`, `yes-ratio [${pct}]`],
        s.systems.map((x) => [x.name, ci(x.accuracy), ci(x.f1), ci(x.yesRatio)]),
      ),
    );
    if (s.pairs.length) {
      const rows = s.pairs.map((p) => [
        `${p.name} − ${p.baseline}`,
        signed(p.dAccuracy),
        signed(p.dF1),
        `${p.mcnemar.b}/${p.mcnemar.c}`,
        p.mcnemar.p.toPrecision(3),
      ]);
      parts.push("", table(["difference", `Δaccuracy [${pct}]`, `ΔF1 [${pct}]`, "b/c", "McNemar p"], rows));
    }
    parts.push("");
  }
  return parts.join("\n").trimEnd();
}
