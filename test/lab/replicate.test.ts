// Aggregation of the replication experiment on hand-made runs (no model): run means, paired
// question-bootstrap intervals, per-training-seed means, Δ vs a reference, CSV and markdown output.
import { describe, expect, it } from "vitest";
import { replicateConfigs } from "../../src/lab/replicate.js";
import type { RunRecord } from "../../src/lab/replicate-runs.js";
import { aggregate, metricsOfCounts } from "../../src/lab/replicate-aggregate.js";
import { aggregateCsv, aggregateMarkdown } from "../../src/lab/replicate-tables.js";
import { FN, FP, TN, TP } from "../../src/eval/pope-score.js";

const ids = ["q0", "q1", "q2", "q3"];
const rec = (config: string, trainSeed: number, decodeSeed: number, codes: number[], reused = false): RunRecord => ({
  trainSeed,
  decodeSeed,
  config,
  split: "adversarial",
  ids,
  codes,
  reused,
});

// labels: q0, q1 yes; q2, q3 no
const greedyCodes = [TP, TP, FP, TN]; // acc 0.75, false-yes 0.5
const runs: RunRecord[] = [
  rec("greedy", 0, 0, greedyCodes),
  rec("greedy", 0, 1, greedyCodes, true),
  rec("greedy", 1, 0, greedyCodes),
  rec("greedy", 1, 1, greedyCodes, true),
  rec("cmm", 0, 0, [TP, TP, TN, TN]),
  rec("cmm", 0, 1, [TP, FN, TN, TN]), // acc 1, 0.75
  rec("cmm", 1, 0, [TP, TP, FP, FP]),
  rec("cmm", 1, 1, [TP, TP, FP, TN]), // acc 0.5, 0.75
];

describe("replicate aggregation", () => {
  it("false-yes rate is FP / (FP + TN)", () => {
    expect(metricsOfCounts([1, 1, 2, 0]).falseYes).toBeCloseTo(1 / 3);
    expect(metricsOfCounts([1, 1, 2, 0]).accuracy).toBeCloseTo(0.75);
  });

  it("run means, per-model means, intervals and paired differences", () => {
    const rows = aggregate(runs, { resamples: 500, seed: 1, references: ["greedy"] });
    const g = rows.find((r) => r.config === "greedy")!;
    const c = rows.find((r) => r.config === "cmm")!;
    expect(g.runs).toBe(4);
    expect(g.deterministic).toBe(true);
    expect(c.deterministic).toBe(false);
    expect(g.metrics.accuracy.mean).toBeCloseTo(0.75);
    expect(g.metrics.falseYes.mean).toBeCloseTo(0.5);
    expect(c.metrics.accuracy.mean).toBeCloseTo(0.75);
    expect(c.byTrainSeed["0"].accuracy).toBeCloseTo(0.875);
    expect(c.byTrainSeed["1"].accuracy).toBeCloseTo(0.625);
    expect(c.metrics.falseYes.mean).toBeCloseTo((0 + 0 + 1 + 0.5) / 4);
    for (const r of rows) for (const e of Object.values(r.metrics)) if (Number.isFinite(e.mean)) expect(e.lo).toBeLessThanOrEqual(e.hi);
    expect(c.metrics.accuracy.lo).toBeLessThan(0.75);
    expect(c.metrics.accuracy.hi).toBeGreaterThan(0.75);
    expect(c.delta.greedy.accuracy.mean).toBeCloseTo(0);
    expect(c.delta.greedy.falseYes.mean).toBeCloseTo(-0.125);
    expect(g.delta.greedy).toBeUndefined();
    // same seed, same numbers
    expect(aggregate(runs, { resamples: 500, seed: 1, references: ["greedy"] })).toEqual(rows);
  });

  it("a config compared with an identical copy has a zero-width difference interval", () => {
    const copy = runs.filter((r) => r.config === "greedy").map((r) => ({ ...r, config: "copy" }));
    const rows = aggregate([...runs, ...copy], { resamples: 200, seed: 2, references: ["greedy"] });
    const d = rows.find((r) => r.config === "copy")!.delta.greedy.accuracy;
    expect([d.mean, d.lo, d.hi]).toEqual([0, 0, 0]);
  });

  it("rejects runs on different questions", () => {
    const bad = [...runs, { ...rec("cmm", 2, 0, [TP, TP, TN, TN]), ids: ["q0", "q1", "q2", "qX"] }];
    expect(() => aggregate(bad, { resamples: 10, seed: 0 })).toThrow(/same adversarial questions/);
  });

  it("CSV and markdown have one line per config", () => {
    const rows = aggregate(runs, { resamples: 50, seed: 0 });
    const csv = aggregateCsv(rows).trim().split("\n");
    expect(csv).toHaveLength(3);
    expect(csv[0]).toContain("accuracy_lo");
    expect(csv[0]).toContain("accuracy_train1");
    const md = aggregateMarkdown(rows, "adversarial").split("\n");
    expect(md).toHaveLength(4);
    expect(md[2]).toContain("greedy *");
  });

  it("configs: every counterfactual type for vision@sel and text@all, the cutoff-only controls, seeded flags", () => {
    const cs = replicateConfigs(3);
    const names = cs.map((c) => c.name);
    for (const t of ["uniform", "reversed", "random", "shuffle"]) {
      expect(names).toContain(`CausalMM vision ${t}@sel`);
      expect(names).toContain(`CausalMM text ${t}@all`);
    }
    const cut = cs.find((c) => c.name.startsWith("cutoff only") && !c.seeded)!;
    expect(cut.opts.causal).toMatchObject({ gamma: 0, epsilon: 0.6 });
    expect(cs.find((c) => c.name === "greedy")!.seeded).toBe(false);
    expect(cs.find((c) => c.name === "regular sampling")!.opts.seed).toBe(3);
    expect(cs.find((c) => c.name.startsWith("PAI"))!.opts.causal).toMatchObject({
      baseline: "pai",
      paiStartLayer: 0,
      paiAlpha: 0.2,
      gamma: 1.1,
    });
    expect(new Set(names).size).toBe(names.length);
  });
});
