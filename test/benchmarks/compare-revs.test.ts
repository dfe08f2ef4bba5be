// compare-revs reads the numbers back out of the benchmarks' printed tables: every numeric cell, keyed by
// table, row label (the row's text cells) and column, so the two revisions' runs line up cell by cell.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test, vi } from "vitest";
import { table } from "../../benchmarks/common.js";
import { fromSaved, tableCells } from "../../benchmarks/compare-revs.js";

describe("compare-revs tableCells", () => {
  test("numbers of two tables keyed by table, row and column; text cells label the row", () => {
    const out = [
      "model: x",
      "",
      table(
        ["backend", "attention", "prefill ms", "tok/s"],
        [
          ["wasm", "auto", 120.4, 9.5],
          ["cpu", "auto", 1234, 0.51],
        ],
      ),
      "",
      "second table",
      table(["weights", "MiB"], [["F32 (1 file)", 12.25]]),
    ].join("\n");
    const cells = tableCells("model", out);
    expect([...cells.entries()]).toEqual([
      ["model · table 1 · wasm / auto · prefill ms", 120],
      ["model · table 1 · wasm / auto · tok/s", 9.5],
      ["model · table 1 · cpu / auto · prefill ms", 1234],
      ["model · table 1 · cpu / auto · tok/s", 0.51],
      ["model · table 2 · F32 (1 file) · MiB", 12.3],
    ]);
  });
  test("rows with the same labels stay apart, in order; empty cells are not numbers", () => {
    const cells = tableCells(
      "causal",
      table(
        ["decoding", "ms", "× plain"],
        [
          ["plain", 10, ""],
          ["plain", 11, 1.1],
        ],
      ),
    );
    expect([...cells.entries()]).toEqual([
      ["causal · table 1 · plain · ms", 10],
      ["causal · table 1 · plain · ms #2", 11],
      ["causal · table 1 · plain · × plain", 1.1],
    ]);
  });
  test("a repeated column name is told apart by the column before it", () => {
    const cells = tableCells(
      "causal",
      table(["decoding", "batched ms", "× plain", "sequential ms", "× plain"], [["vision CF", 24, 1.05, 56, 2.09]]),
    );
    expect([...cells.keys()]).toEqual([
      "causal · table 1 · vision CF · batched ms",
      "causal · table 1 · vision CF · × plain",
      "causal · table 1 · vision CF · sequential ms",
      "causal · table 1 · vision CF · × plain (sequential ms)",
    ]);
  });
});

describe("compare-revs --from-saved", () => {
  test("the runs a --save left are summarized: medians per revision and B / A", () => {
    const dir = mkdtempSync(join(tmpdir(), "compare-revs-"));
    try {
      const out = (ms: number) => table(["decoding", "ms"], [["plain", ms]]);
      [10, 30, 20].forEach((ms, i) => writeFileSync(join(dir, `causal.A.${i + 1}.txt`), out(ms)));
      [15, 45, 30].forEach((ms, i) => writeFileSync(join(dir, `causal.B.${i + 1}.txt`), out(ms)));
      writeFileSync(join(dir, "revs.txt"), "A = main (0123456789ab), B = /tmp/b\n");
      const log = vi.spyOn(console, "log").mockImplementation(() => {});
      try {
        fromSaved(dir);
        const printed = log.mock.calls.map((c) => String(c[0])).join("\n");
        expect(printed).toContain("A = main (0123456789ab), B = /tmp/b; medians over 3 interleaved rounds");
        expect(printed).toMatch(/\| causal · table 1 · plain · ms +\| 20\.0 \| 30\.0 \| 1\.500 \|/);
      } finally {
        log.mockRestore();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
