// Progress off a terminal: plain lines (count, rate, ETA) every N items or S seconds, never `\r` bars;
// on a terminal, the bar. Unit tests on a fake stream and clock, then eval and sweep as a batch job sees them.
import { join } from "node:path";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, expect, it, vi } from "vitest";
import { formatDuration, ProgressBar, type ProgressStream } from "../../src/cli/progress.js";
import { parseArgs } from "../../src/cli/args.js";
import { makeEvalCommand } from "../../src/cli/commands/eval.js";
import { FakeAnswerer, popeFixture } from "../eval/helpers.js";
import { runNode } from "../helpers/run.js";
import { REPO_ROOT } from "../helpers/fixtures.js";

function fakeStream(isTTY: boolean): ProgressStream & { out: string[] } {
  const out: string[] = [];
  return { isTTY, out, write: (s: string) => out.push(s) };
}

describe("ProgressBar off a terminal", () => {
  it("a plain line every N items with count, percentage, rate and ETA", () => {
    let t = 0;
    const s = fakeStream(false);
    const bar = new ProgressBar("eval pope", { stream: s, plain: true, everyItems: 10, everySeconds: 1e9, unit: "answers", now: () => t });
    for (let i = 0; i <= 40; i++) {
      t = i * 500; // 2 answers per second
      bar.update(i, 40, "ignored off a terminal");
    }
    expect(s.out).toEqual([
      "eval pope: 10/40 answers (25%), 2.00/s, eta 15s\n",
      "eval pope: 20/40 answers (50%), 2.00/s, eta 10s\n",
      "eval pope: 30/40 answers (75%), 2.00/s, eta 5s\n",
      "eval pope: 40/40 answers (100%), 2.00/s, eta 0s\n",
    ]);
  });

  it("or every S seconds; a resumed run's rate counts only this session's items", () => {
    let t = 0;
    const s = fakeStream(false);
    const bar = new ProgressBar("eval pope", { stream: s, plain: true, everySeconds: 60, now: () => t });
    bar.update(500, 1000); // already answered: no line, the baseline of the rate
    for (let i = 1; i <= 30; i++) {
      t = i * 10_000; // one answer every 10 s
      bar.update(500 + i, 1000);
    }
    expect(s.out).toHaveLength(5); // at 60, 120, 180, 240, 300 s
    expect(s.out[0]).toBe("eval pope: 506/1000 (51%), 0.10/s, eta 1h22m\n");
    expect(s.out.join("")).not.toContain("\r");
  });

  it("without plain: silent off a terminal; on a terminal: the bar", () => {
    const quiet = fakeStream(false);
    new ProgressBar("x", { stream: quiet }).update(5, 10);
    expect(quiet.out).toEqual([]);
    const tty = fakeStream(true);
    const bar = new ProgressBar("x", { stream: tty, plain: true });
    bar.update(0, 10);
    bar.update(10, 10);
    expect(tty.out.every((l) => l.startsWith("\r"))).toBe(true);
  });

  it("durations", () => {
    expect([12, 245, 3720, Infinity].map(formatDuration)).toEqual(["12s", "4m05s", "1h02m", "?"]);
  });
});

describe("eval and sweep in a batch job (stderr not a terminal)", () => {
  it("eval pope prints progress lines (--progress-every)", async () => {
    const f = popeFixture(3, 4);
    const evalCommand = makeEvalCommand({ create: async () => new FakeAnswerer(), options: [] });
    const err: string[] = [];
    const tty = Object.getOwnPropertyDescriptor(process.stderr, "isTTY");
    Object.defineProperty(process.stderr, "isTTY", { value: false, configurable: true });
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((s) => {
      err.push(String(s));
      return true;
    });
    try {
      const argv = [
        "pope",
        "--questions",
        f.questions,
        "--image-folder",
        f.images,
        "--answers",
        join(f.dir, "a.jsonl"),
        "--batch",
        "1",
        "--progress-every",
        "4",
      ];
      await evalCommand.run(parseArgs(argv, evalCommand));
    } finally {
      spy.mockRestore();
      if (tty) Object.defineProperty(process.stderr, "isTTY", tty);
      else delete (process.stderr as { isTTY?: boolean }).isTTY;
    }
    const lines = err
      .join("")
      .split("\n")
      .filter((l) => l.startsWith("eval pope: ") && l.includes("/s, eta"));
    expect(lines.map((l) => l.replace(/, [\d.]+\/s, eta .*$/, ""))).toEqual([
      "eval pope: 4/12 answers (33%)",
      "eval pope: 8/12 answers (67%)",
      "eval pope: 12/12 answers (100%)",
    ]);
    expect(err.join("")).not.toContain("\r");
  });

  it("sweep writes no \\r bars into a log, and a progress line", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "sweep-log-")), "s");
    const image = join(REPO_ROOT, "test", "vision", "data", "cmyk-adobe.jpg");
    const r = await runNode(
      [
        join(REPO_ROOT, "dist", "src", "cli", "main.js"),
        "sweep",
        "--image",
        image,
        "--modules",
        "text",
        "--types",
        "uniform",
        "--bootstrap",
        "10",
        "--out",
        out,
        "Is there a cat?",
      ],
      { cwd: REPO_ROOT, timeout: 120_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toContain("\r");
    expect(r.stderr).toMatch(/^sweep: 1\/1 questions \(100%\), [\d.]+\/s, eta 0s$/m);
  }, 120_000);
});
