// The README's main job, run as a fresh user would: `npx causalmm demo` on the embedded lab model.
import { expect, test } from "vitest";
import { run, runNode } from "../helpers/run.js";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/fixtures.js";
import { EMBEDDED_MODEL_DIR } from "../../src/paths.js";
import { demoTable, type DemoRow } from "../../src/lab/demo.js";

const CLI = join(REPO_ROOT, "dist", "src", "cli", "main.js");

test("npx causalmm demo writes the table, answers, heatmaps and the explorer", async () => {
  expect(existsSync(join(EMBEDDED_MODEL_DIR, "config.json")), "the embedded model ships in weights/llava-lab").toBe(true);
  const out = mkdtempSync(join(tmpdir(), "demo-"));
  const r = await run("npx", ["causalmm", "demo", "--out", out, "--questions", "12"], { cwd: REPO_ROOT, timeout: 600_000 });
  expect(r.status, r.stderr).toBe(0);
  for (const name of [
    "greedy",
    "regular sampling",
    "VCD (noised image)",
    "PAI (α 0.2, γ 1.1, layers 0-1)",
    "CausalMM vision",
    "CausalMM language",
    "CausalMM multimodal",
    "CausalMM official code",
  ]) {
    expect(r.stdout).toContain(`| ${name}`);
  }
  expect(r.stdout).toMatch(/random acc \/ F1 \/ yes.*popular.*adversarial/);
  const rows = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as { split: string; metrics: { n: number } }[];
  expect(rows.length).toBe(10 * 3);
  expect(rows.every((x) => x.metrics.n === 12)).toBe(true);
  expect(readdirSync(join(out, "answers")).filter((f) => f.endsWith(".jsonl"))).toHaveLength(10);
  // Every answers file rescored with `causalmm score pope` against the question file the demo wrote
  // gives the demo's table back, cell for cell.
  expect(r.stdout).toContain(`rescore: causalmm score pope --answers ${join(out, "answers")}/`);
  const demoRows = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as DemoRow[];
  const rescored: DemoRow[] = [];
  for (const answers of [...new Set(demoRows.map((x) => x.answers))]) {
    const s = await runNode(
      [CLI, "score", "pope", "--answers", join(out, answers), "--questions", join(out, "questions.jsonl"), "--json"],
      { cwd: REPO_ROOT },
    );
    expect(s.status, s.stderr).toBe(0);
    const config = demoRows.find((x) => x.answers === answers)!.config;
    for (const sp of JSON.parse(s.stdout).splits as { split: string; rules: { vcd: DemoRow["metrics"] } }[])
      rescored.push({ config, split: sp.split, metrics: sp.rules.vcd, answers });
  }
  expect(rescored).toEqual(demoRows);
  const table = r.stdout
    .split("\n")
    .filter((l) => l.startsWith("|"))
    .join("\n");
  expect(demoTable(rescored)).toBe(table);
  if (r.stdout.includes("hallucinated example")) {
    expect(readFileSync(join(out, "explorer.html"), "utf8")).toMatch(/<html/i);
    expect(readdirSync(join(out, "example")).some((f) => f.endsWith(".png"))).toBe(true);
  }
}, 600_000);

// Issue 13: Node 20's recursive mkdir spins forever under /proc; the demo's output folders are made one
// component at a time and the error names the folder and what it was for (child process, 30 s timeout).
test("causalmm demo --out /proc/nope/x: exits 1 quickly with a clear error naming the path", async () => {
  const r = await runNode([CLI, "demo", "--out", "/proc/nope/x"], { cwd: REPO_ROOT, timeout: 30_000 });
  expect(r.signal).toBeNull();
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/cannot create directory \/proc\/nope for the demo's answers files \(ENOENT/);
}, 40_000);
