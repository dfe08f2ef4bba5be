// The real model behind `causalmm eval`: image/prefix caching gives the same answers as recomputing
// everything per question, and the built CLI survives SIGKILL + restart with a real (tiny) model.
import { afterAll, beforeAll, expect, test } from "vitest";
import { spawn } from "node:child_process";
import { runNode } from "../helpers/run.js";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeFixtures, REPO_ROOT } from "../helpers/fixtures.js";
import { loadLlava, type Llava } from "../../src/api.js";
import { ModelAnswerer } from "../../src/eval/model-answerer.js";
import type { EvalItem } from "../../src/eval/answerer.js";

/** A llava-hf directory: the tiny-56 fixture weights plus the llava tokenizer. */
function tinyModelDir(fixtures: string): string {
  const dir = mkdtempSync(join(tmpdir(), "causalmm-m56-"));
  const src = join(fixtures, "llava-tiny-56", "model-f32");
  for (const f of readdirSync(src)) copyFileSync(join(src, f), join(dir, f));
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) copyFileSync(join(fixtures, "tokenizer", f), join(dir, f));
  return dir;
}

function popeSet(fixtures: string, perImage: number): { dir: string; questions: string } {
  const dir = mkdtempSync(join(tmpdir(), "causalmm-pope-"));
  const images = ["coffee.png", "chelsea.png", "camera.png"];
  mkdirSync(join(dir, "img"));
  for (const f of images) copyFileSync(join(fixtures, "preprocess", f), join(dir, "img", f));
  const objects = ["cup", "cat", "dog", "person", "car", "chair"];
  const lines: string[] = [];
  let id = 0;
  for (const img of images)
    for (const o of objects.slice(0, perImage))
      lines.push(JSON.stringify({ question_id: id++, image: img, text: `Is there a ${o} in the image?`, label: id % 2 ? "yes" : "no" }));
  const questions = join(dir, "q.jsonl");
  writeFileSync(questions, lines.join("\n") + "\n");
  return { dir, questions };
}

describeFixtures("model answerer", (fixtures) => {
  let llava: Llava;
  let modelDir: string;
  beforeAll(async () => {
    modelDir = tinyModelDir(fixtures);
    llava = await loadLlava(modelDir, { backend: "wasm" });
  });
  afterAll(() => llava?.dispose());

  const items = (): EvalItem[] =>
    ["cup", "cat", "dog"].map((o, i) => ({
      questionId: i,
      image: join(fixtures, "preprocess", "coffee.png"),
      question: `Is there a ${o} in the image?`,
    }));

  for (const causal of [undefined, { cf: ["both"] }, { preset: "official" as const }, { baseline: "noimage" as const }]) {
    test(`caching gives identical answers (${causal ? JSON.stringify(causal) : "plain"})`, async () => {
      const opts = { maxNewTokens: 5, causal, ...(causal?.preset ? { temperature: 1, topP: 1, seed: 55 } : {}) };
      const cached = await new ModelAnswerer(llava, opts, true).answer(items());
      const fresh = await new ModelAnswerer(llava, opts, false).answer(items());
      expect(cached.map((a) => a.text)).toEqual(fresh.map((a) => a.text));
      expect(cached.every((a) => a.text.length > 0)).toBe(true);
    });
  }

  test("the built CLI, killed with SIGKILL and restarted, ends with one answer per question", async () => {
    const cli = join(REPO_ROOT, "dist", "src", "cli", "main.js");
    if (!existsSync(cli)) throw new Error("build first: npm run build");
    const { dir, questions } = popeSet(fixtures, 6);
    const args = (out: string) => [
      cli,
      "eval",
      "pope",
      "--questions",
      questions,
      "--image-folder",
      join(dir, "img"),
      "--answers",
      out,
      "--model",
      modelDir,
      "--backend",
      "wasm",
      "--max-new-tokens",
      "3",
      "--batch",
      "2",
    ];
    const full = join(dir, "full.jsonl");
    expect((await runNode(args(full))).status).toBe(0);
    const killed = join(dir, "killed.jsonl");
    const child = spawn(process.execPath, args(killed), { stdio: "ignore" });
    const exited = new Promise((r) => child.on("exit", r));
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const n = existsSync(killed) ? readFileSync(killed, "utf8").split("\n").filter(Boolean).length : 0;
        if (n < 4) return;
        clearInterval(timer);
        child.kill("SIGKILL");
        resolve();
      }, 20);
      void exited.then(() => {
        clearInterval(timer);
        resolve();
      });
    });
    await exited;
    const partial = readFileSync(killed, "utf8").split("\n").filter(Boolean).length;
    expect(partial).toBeLessThan(18);
    const again = await runNode(args(killed));
    expect(again.status, again.stderr).toBe(0);
    expect(readFileSync(killed, "utf8")).toBe(readFileSync(full, "utf8"));
  });
});
