// The built CLI, killed with SIGKILL mid-run and restarted, ends with exactly one answer per question,
// identical to an uninterrupted run. Uses the CAUSALMM_TEST_ANSWERER hook with a slow fake model.
import { spawn } from "node:child_process";
import { builtCli, type BuiltCli } from "../helpers/built-cli.js";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { runNode } from "../helpers/run.js";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { popeFixture, tmp } from "./helpers.js";

const FAKE_MODULE = `
import { createHash } from "node:crypto";
const TEXTS = ["Yes", "No", "Yes, there is a dog.", "There isn't a dog."];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export default async function createAnswerer(args) {
  const delay = Number(process.env.FAKE_DELAY_MS ?? 0);
  return {
    modelId: "fake-child",
    settings: { decoding: "fake-child", batchOption: args.opts.batch },
    async answer(items) {
      const out = [];
      for (const it of items) {
        await sleep(delay);
        const h = createHash("sha256").update(String(it.questionId) + "|" + it.question).digest();
        out.push({ text: TEXTS[h[0] % TEXTS.length], prompt: it.question });
      }
      return out;
    },
  };
}
`;

let built: BuiltCli | null = null;
let cli = "";
const dir = tmp("causalmm-kill-");
const hook = join(dir, "fake-answerer.mjs");
writeFileSync(hook, FAKE_MODULE);
const f = popeFixture(6, 5, dir); // 30 questions

const evalArgs = (answers: string) => [
  cli,
  "eval",
  "pope",
  "--questions",
  f.questions,
  "--image-folder",
  f.images,
  "--answers",
  answers,
  "--batch",
  "1",
];
const env = (delay: number) => ({ ...process.env, CAUSALMM_TEST_ANSWERER: hook, FAKE_DELAY_MS: String(delay) });
const lineCount = (p: string) => (existsSync(p) ? readFileSync(p, "utf8").split("\n").length - 1 : 0);

async function runToEnd(answers: string): Promise<string> {
  const r = await runNode(evalArgs(answers), { env: env(0) });
  if (r.status !== 0) throw new Error(`eval failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Start a slow run and SIGKILL it once `atLeast` answers are on disk. */
async function startAndKill(answers: string, atLeast: number): Promise<void> {
  const child = spawn(process.execPath, evalArgs(answers), { env: env(50), stdio: "ignore" });
  const exited = new Promise<NodeJS.Signals | null>((res) => child.on("exit", (_code, sig) => res(sig)));
  const deadline = Date.now() + 60_000;
  while (lineCount(answers) < atLeast && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  child.kill("SIGKILL");
  expect(await exited).toBe("SIGKILL");
}

describe("causalmm eval (child process)", () => {
  beforeAll(async () => {
    built = await builtCli("eval");
    cli = built.main;
  }, 120_000);
  afterAll(() => {
    built?.cleanup();
  });

  it("SIGKILL mid-run, restart: exactly one answer per question, same as an uninterrupted run", async () => {
    const clean = join(dir, "clean.jsonl");
    await runToEnd(clean);
    const answers = join(dir, "killed.jsonl");
    await startAndKill(answers, 5);
    const afterFirst = lineCount(answers);
    expect(afterFirst).toBeGreaterThanOrEqual(5);
    expect(afterFirst).toBeLessThan(25);
    await startAndKill(answers, Math.min(afterFirst + 4, 28)); // resumes, then is killed again
    const r = await runNode(evalArgs(answers), { env: env(0) });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/eval pope: chunk 0\/1, 30 questions, \d+ already answered, \d+ answered in/);
    const got = readFileSync(answers, "utf8");
    const ids = got
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).question_id);
    expect(ids).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(got).toBe(readFileSync(clean, "utf8"));
    expect(existsSync(`${answers}.lock`)).toBe(false);
  });

  it("scores the answers through the CLI", async () => {
    const clean = join(dir, "clean.jsonl");
    const out = (await runNode([cli, "score", "pope", "--answers", clean, "--questions", f.questions, "--json"])).stdout;
    const report = JSON.parse(out);
    expect(report.splits[0].split).toBe("random");
    expect(report.splits[0].rules.llava.n).toBe(30);
  });
});
