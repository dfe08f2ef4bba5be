// The lab CHAIR split end to end, as a user runs it: `lab make` writes the held-out scenes' objects and
// the lab vocabulary, `eval chair` captions the test images with the embedded model (plain and PAI),
// `score chair` scores them, and the scores equal a direct count over the captions and the scenes.
import { expect, test } from "vitest";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runNode } from "../helpers/run.js";
import { REPO_ROOT } from "../helpers/fixtures.js";
import { CLASSES } from "../../src/lab/world.js";

const CLI = join(REPO_ROOT, "dist", "src", "cli", "main.js");
const cli = async (args: string[]) => {
  const r = await runNode([CLI, ...args, "--backend", "wasm"]);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
};
const lines = (file: string) =>
  readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

/** Lab class mentioned by a word (singular or -s/-es plural), else null. */
function labClass(word: string): string | null {
  for (const w of [word, word.replace(/es$/, ""), word.replace(/s$/, "")]) if ((CLASSES as readonly string[]).includes(w)) return w;
  return null;
}

test("lab CHAIR split: eval chair + score chair on held-out scenes equal a direct count", async () => {
  const dir = mkdtempSync(join(tmpdir(), "lab-chair-"));
  await cli(["lab", "make", "--out", dir, "--seed", "2026", "--train", "20", "--test", "10"]);
  const truthFile = join(dir, "chair", "lab_chair_objects.jsonl");
  const synonyms = join(dir, "chair", "lab_synonyms.txt");
  const scenes = lines(join(dir, "scenes_test.jsonl")) as { id: string; classes: string[] }[];
  const truth = lines(truthFile) as { image_id: string; objects: string[] }[];
  expect(truth).toEqual(scenes.map((s) => ({ image_id: s.id, objects: s.classes })));
  for (const [name, extra] of [
    ["greedy", []],
    ["pai", ["--baseline", "pai", "--pai-start-layer", "0"]],
  ] as const) {
    const answers = join(dir, `${name}.jsonl`);
    await cli([
      "eval",
      "chair",
      "--image-folder",
      join(dir, "images"),
      "--annotations",
      truthFile,
      "--synonyms",
      synonyms,
      "--chair-prompt",
      "Describe the image briefly.",
      "--answers",
      answers,
      "--max-new-tokens",
      "40",
      ...extra,
    ]);
    const caps = lines(answers) as { question_id: string; prompt: string; text: string }[];
    expect(caps.map((c) => c.question_id)).toEqual(scenes.map((s) => s.id)); // test images only, not train_*
    expect(caps.every((c) => c.prompt === "Describe the image briefly.")).toBe(true);
    const report = JSON.parse(
      await cli(["score", "chair", "--answers", answers, "--annotations", truthFile, "--synonyms", synonyms, "--json"]),
    );
    // the direct count: class words in each caption against that scene's classes
    let withHall = 0,
      mentions = 0,
      hall = 0,
      found = 0,
      gt = 0,
      tokens = 0;
    for (const c of caps) {
      const objs = new Set(scenes.find((s) => s.id === c.question_id)!.classes);
      const said = c.text
        .toLowerCase()
        .split(/[^a-z]+/)
        .map(labClass)
        .filter((x): x is string => x !== null);
      const wrong = said.filter((w) => !objs.has(w)).length;
      mentions += said.length;
      hall += wrong;
      withHall += wrong > 0 ? 1 : 0;
      found += [...objs].filter((o) => said.includes(o)).length;
      gt += objs.size;
      tokens += c.text.trim().split(/\s+/).length; // lab captions space their punctuation
    }
    expect(mentions, name).toBeGreaterThan(0);
    expect(report.captions).toBe(10);
    expect(report.mentions).toBe(mentions);
    expect(report.hallucinated).toBe(hall);
    expect(report.CHAIRs).toBeCloseTo(withHall / 10, 12);
    expect(report.CHAIRi).toBeCloseTo(hall / mentions, 12);
    expect(report.Recall).toBeCloseTo(found / gt, 12);
    expect(report.Len).toBeCloseTo(tokens / 10, 12);
  }
}, 300_000);
