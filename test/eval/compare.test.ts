// `score compare`: bootstrap intervals and the exact McNemar test.
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { parseArgs } from "../../src/cli/args.js";
import { scoreCommand } from "../../src/cli/commands/score.js";
import { comparePope } from "../../src/eval/compare.js";
import type { Scored } from "../../src/eval/pope-score.js";
import { mcnemarExact, percentileInterval, quantile } from "../../src/eval/stats.js";
import { tmp, writeLines } from "./helpers.js";

describe("statistics", () => {
  it("quantiles interpolate like numpy.percentile", () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    const [lo, hi] = percentileInterval([4, 1, NaN, 3, 2]);
    expect(lo).toBeCloseTo(1.075, 12);
    expect(hi).toBeCloseTo(3.925, 12);
  });

  it("exact McNemar p-values", () => {
    expect(mcnemarExact(0, 0)).toBe(1);
    expect(mcnemarExact(5, 0)).toBeCloseTo(2 / 32, 15);
    expect(mcnemarExact(3, 3)).toBe(1);
    expect(mcnemarExact(10, 2)).toBeCloseTo((2 * (1 + 12 + 66)) / 4096, 15);
    expect(mcnemarExact(2, 10)).toBe(mcnemarExact(10, 2));
    const big = mcnemarExact(1500, 1400);
    expect(big).toBeGreaterThan(0.05);
    expect(big).toBeLessThan(1);
  });
});

/** n questions alternating yes/no; the system answers right on the indices `right` says. */
function system(n: number, right: (i: number) => boolean, split = "random"): Scored[] {
  return Array.from({ length: n }, (_, i) => {
    const label = i % 2 === 0 ? "yes" : "no";
    const ok = right(i);
    return { split, label, questionId: i, text: (label === "yes") === ok ? "Yes" : "No" } as Scored;
  });
}

describe("comparePope", () => {
  const a = system(200, () => true);
  const b = system(200, (i) => i < 150);
  const opts = { rule: "llava" as const, resamples: 500, seed: 3 };

  it("point estimates, intervals around them, paired differences, McNemar", () => {
    const [s] = comparePope(
      [
        { name: "A", pairs: a },
        { name: "B", pairs: b },
      ],
      opts,
    );
    expect(s.n).toBe(200);
    expect(s.systems[0].accuracy).toEqual({ value: 1, lo: 1, hi: 1 });
    const accB = s.systems[1].accuracy;
    expect(accB.value).toBe(0.75);
    expect(accB.lo).toBeLessThan(0.75);
    expect(accB.hi).toBeGreaterThan(0.75);
    expect(accB.hi - accB.lo).toBeGreaterThan(0.06); // ≈ 2·1.96·sqrt(.75·.25/200) = 0.12
    expect(accB.hi - accB.lo).toBeLessThan(0.2);
    const d = s.pairs[0];
    expect(d.dAccuracy.value).toBe(-0.25);
    expect(d.dAccuracy.hi).toBeLessThan(0);
    expect(d.mcnemar).toMatchObject({ b: 50, c: 0 });
    expect(d.mcnemar.p / (2 * 0.5 ** 50)).toBeCloseTo(1, 12);
  });

  it("seeded: same seed same numbers, another seed other numbers", () => {
    const run = (seed: number) =>
      comparePope(
        [
          { name: "A", pairs: a },
          { name: "B", pairs: b },
        ],
        { ...opts, seed },
      );
    expect(run(3)).toEqual(run(3));
    expect(run(4)[0].systems[1].accuracy).not.toEqual(run(3)[0].systems[1].accuracy);
  });

  it("a file against itself differs by exactly zero", () => {
    const [s] = comparePope(
      [
        { name: "B", pairs: b },
        { name: "B2", pairs: b },
      ],
      opts,
    );
    expect(s.pairs[0].dAccuracy).toEqual({ value: 0, lo: 0, hi: 0 });
    expect(s.pairs[0].dF1).toEqual({ value: 0, lo: 0, hi: 0 });
    expect(s.pairs[0].mcnemar.p).toBe(1);
  });

  it("files on different questions are refused", () => {
    expect(() =>
      comparePope(
        [
          { name: "A", pairs: a },
          { name: "C", pairs: a.slice(1) },
        ],
        opts,
      ),
    ).toThrow(/C does not answer the same random questions/);
  });

  it("CLI: compare answer files against a label file", async () => {
    const dir = tmp();
    const labels = join(dir, "coco_pope_popular.json");
    writeLines(
      labels,
      a.map((p) => ({ question_id: p.questionId, image: `i${Number(p.questionId) >> 2}.jpg`, text: `q${p.questionId}`, label: p.label })),
    );
    const fa = join(dir, "a.jsonl");
    const fb = join(dir, "b.jsonl");
    writeLines(
      fa,
      a.map((p) => ({ question_id: p.questionId, text: p.text })),
    );
    writeLines(
      fb,
      b.map((p) => ({ question_id: p.questionId, text: p.text })),
    );
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((s) => {
      out.push(String(s));
      return true;
    });
    try {
      await scoreCommand.run(parseArgs(["compare", fa, fb, "--labels", labels, "--rule", "llava", "--resamples", "200"], scoreCommand));
      await scoreCommand.run(parseArgs(["compare", fa, fb, "--labels", labels, "--json"], scoreCommand));
    } finally {
      spy.mockRestore();
    }
    const [text, json] = [out[0], JSON.parse(out[1])];
    expect(text).toMatch(/split popular \(n = 200\)/);
    expect(text).toMatch(/b\.jsonl − a\.jsonl\s+-0\.2500 \[/);
    expect(json).toMatchObject({ rule: "vcd", resamples: 1000, seed: 0 });
    expect(json.splits[0].pairs[0].mcnemar).toMatchObject({ b: 50, c: 0 });
  });
});
