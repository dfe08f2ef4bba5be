// Issue 13 item 12: answers paths that used to hang or lose data. Under /proc, Node 20's recursive mkdir
// spun at 100 % CPU forever; /dev/full as the answers file was read as a file forever; ENOSPC named no file
// and left a partial line. The hangs run in a child process with a timeout.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as fs from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { runNode } from "../helpers/run.js";
import { REPO_ROOT } from "../helpers/fixtures.js";
import { loadPopeQuestions } from "../../src/eval/pope-data.js";
import { runEval } from "../../src/eval/runner.js";
import { FakeAnswerer, popeFixture, tmp } from "./helpers.js";

// An injected writer: `writeSync` of answer lines fails with ENOSPC once `budget` answer lines went out,
// after writing half of the line (what a full disk does to a write).
const disk = vi.hoisted(() => ({ budget: Infinity }));
vi.mock("node:fs", async (orig) => {
  const real = await orig<typeof import("node:fs")>();
  const write = real.writeSync as (fd: number, buf: Buffer, off?: number, len?: number) => number;
  const writeSync = (fd: number, buf: Buffer, off = 0, len = buf.length - off): number => {
    if (!Buffer.isBuffer(buf) || !buf.includes('"question_id"')) return write(fd, buf, off, len);
    if (disk.budget > 0) {
      disk.budget--;
      return write(fd, buf, off, len);
    }
    if (off === 0) return write(fd, buf, 0, Math.ceil(len / 2));
    throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", errno: -28, syscall: "write" });
  };
  return { ...real, default: { ...real, writeSync }, writeSync };
});

const MAIN = join(REPO_ROOT, "dist", "src", "cli", "main.js");
const FAKE = `export default async function createAnswerer() {
  return { modelId: "fake", settings: {}, async answer(items) { return items.map((it) => ({ text: "Yes", prompt: it.question })); } };
}\n`;

describe("answers paths that hung (child process, 30 s timeout)", () => {
  const f = popeFixture(1, 2, tmp("causalmm-paths-"));
  const hook = join(f.dir, "fake.mjs");
  beforeAll(() => {
    if (!existsSync(MAIN)) throw new Error(`build first: ${MAIN} missing`);
    writeFileSync(hook, FAKE);
  });
  const evalTo = (answers: string) =>
    runNode([MAIN, "eval", "pope", "--questions", f.questions, "--image-folder", f.images, "--answers", answers], {
      env: { ...process.env, CAUSALMM_TEST_ANSWERER: hook },
      timeout: 30_000,
    });

  it("--answers /proc/nope/x.jsonl: a clear error naming the directory, no spinning", async () => {
    const r = await evalTo("/proc/nope/x.jsonl");
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cannot create directory \/proc\/nope for the answers file \/proc\/nope\/x\.jsonl \(ENOENT/);
  }, 40_000);

  it("--answers /dev/full: refused as a character device, nothing created beside it", async () => {
    const r = await evalTo("/dev/full");
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\/dev\/full: a character device, not a regular file; an answers file must be a regular file/);
    expect(existsSync("/dev/full.lock") || existsSync("/dev/full.settings.json")).toBe(false);
  }, 40_000);
});

describe("a full disk while appending answers", () => {
  it("names the file, cuts it back to the last complete line, and a rerun resumes to a complete file", async () => {
    const f = popeFixture(2, 3);
    const items = loadPopeQuestions(f.questions, { imageFolder: f.images, checkImages: true });
    const answers = join(tmp(), "answers.jsonl");
    const opts = { benchmark: "pope", items, source: f.questions, answersFile: answers, batch: 2 };
    disk.budget = 3;
    try {
      await expect(runEval({ ...opts, answerer: new FakeAnswerer() })).rejects.toThrow(
        new RegExp(
          `^${answers.replace(/[.]/g, "\\.")}: write failed: no space left on device \\(ENOSPC\\); the file was cut back to its last complete line`,
        ),
      );
    } finally {
      disk.budget = Infinity;
    }
    const text = readFileSync(answers, "utf8");
    expect(text.endsWith("\n")).toBe(true);
    expect(
      text
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l).question_id),
    ).toEqual([1, 2, 3]);
    const s = await runEval({ ...opts, answerer: new FakeAnswerer() });
    expect(s).toMatchObject({ skipped: 3, answered: 3, repairedBytes: 0 });
    expect(fs.readFileSync(answers, "utf8").trim().split("\n")).toHaveLength(6);
  });
});
