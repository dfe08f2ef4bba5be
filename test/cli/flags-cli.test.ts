// The built CLI on the embedded lab model: `--preset official` settings files (item 1), an answers file
// from before `sources` existed still resumes, and out-of-range numbers fail before any work (item 7).
import { beforeAll, expect, test } from "vitest";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runNode } from "../helpers/run.js";
import { describeFixtures, REPO_ROOT } from "../helpers/fixtures.js";

const MAIN = join(REPO_ROOT, "dist", "src", "cli", "main.js");
const cli = (...args: string[]) => runNode([MAIN, ...args, "--backend", "wasm"], { timeout: 120_000 });

describeFixtures("flags through the built CLI", (fixtures) => {
  const dir = mkdtempSync(join(tmpdir(), "causalmm-flags-"));
  const photo = join(fixtures, "preprocess", "coffee.png");
  const questions = join(dir, "q.jsonl");
  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`build first: ${MAIN} missing`);
    mkdirSync(join(dir, "img"));
    copyFileSync(photo, join(dir, "img", "coffee.png"));
    writeFileSync(
      questions,
      ["cup", "cat"]
        .map((o, i) =>
          JSON.stringify({ question_id: i, image: "coffee.png", text: `Is there a ${o} in the image?`, label: i ? "no" : "yes" }),
        )
        .join("\n") + "\n",
    );
  });

  test("ask --json --preset official reports T = 1, top-p 1, seed 55 and where each value came from", async () => {
    const r = await cli("ask", "--json", "--preset", "official", "--max-new-tokens", "2", "--image", photo, "Is there a cup?");
    expect(r.stderr).toBe("");
    const s = JSON.parse(r.stdout).settings;
    expect(s).toMatchObject({ temperature: 1, topP: 1, seed: 55 });
    expect(s.sources).toMatchObject({
      temperature: "preset",
      "top-p": "preset",
      seed: "preset",
      epsilon: "preset",
      "max-new-tokens": "flag",
      preset: "flag",
    });
  });

  test("eval pope --preset official writes the preset's sampling to the settings file; old files still resume", async () => {
    const answers = join(dir, "official.jsonl");
    const base = [
      "eval",
      "pope",
      "--questions",
      questions,
      "--image-folder",
      join(dir, "img"),
      "--answers",
      answers,
      "--max-new-tokens",
      "2",
      "--preset",
      "official",
    ];
    const first = await cli(...base, "--limit", "1");
    expect(first.status, first.stderr).toBe(0);
    const settingsFile = `${answers}.settings.json`;
    const s = JSON.parse(readFileSync(settingsFile, "utf8"));
    expect(s.answerer).toMatchObject({ temperature: 1, topP: 1, seed: 55 });
    expect(s.answerer.sources).toMatchObject({ temperature: "preset", seed: "preset", preset: "flag" });
    // a settings file written before `sources` existed: same values, so the run resumes
    delete s.answerer.sources;
    delete s.limit;
    writeFileSync(settingsFile, JSON.stringify(s));
    const resumed = await cli(...base);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/1 already answered, 1 answered/);
    // the same values given as flags instead of by the preset: the same run
    const flags = await cli(...base, "--temperature", "1", "--top-p", "1", "--seed", "55");
    expect(flags.status, flags.stderr).toBe(0);
  });

  test("--epsilon 2 on the cutoff path is an error naming the flag, not an empty answer with exit 0", async () => {
    const r = await cli("ask", "--cf", "vision:uniform@sel", "--epsilon", "2", "--image", photo, "Is there a cup?");
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/--epsilon must be a number in \(0, 1\] \(got '2'\)/);
  });
});
