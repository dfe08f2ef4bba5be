// The runner: resume after a crash, partial-line repair, chunks + merge, settings checks, batching.
import { readFileSync, writeFileSync, existsSync, truncateSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import type { EvalItem } from "../../src/eval/answerer.js";
import { chunkRange, getChunk, imageBatches } from "../../src/eval/chunks.js";
import { mergeChunks } from "../../src/eval/merge.js";
import { loadPopeQuestions } from "../../src/eval/pope-data.js";
import { runEval, type RunOptions } from "../../src/eval/runner.js";
import { settingsPath } from "../../src/eval/settings.js";
import { FakeAnswerer, fakeText, popeFixture } from "./helpers.js";

function setup(nImages = 5, perImage = 6) {
  const f = popeFixture(nImages, perImage);
  const items = loadPopeQuestions(f.questions, { imageFolder: f.images, checkImages: true });
  const opts = (answersFile: string, answerer = new FakeAnswerer(), extra: Partial<RunOptions> = {}): RunOptions => ({
    benchmark: "pope",
    items,
    source: f.questions,
    answerer,
    answersFile,
    ...extra,
  });
  return { f, items, opts };
}

const read = (p: string) => readFileSync(p, "utf8");
const ids = (p: string) =>
  read(p)
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l).question_id);

describe("chunking and batching", () => {
  it("LLaVA get_chunk: ceil-sized contiguous chunks; trailing indices may be empty", () => {
    const xs = Array.from({ length: 10 }, (_, i) => i);
    expect([0, 1, 2, 3].map((k) => getChunk(xs, 4, k))).toEqual([[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]);
    expect([0, 1, 2, 3].map((k) => chunkRange(9, 4, k))).toEqual([
      [0, 3],
      [3, 6],
      [6, 9],
      [9, 9],
    ]);
    expect(() => chunkRange(9, 4, 4)).toThrow(/chunk-idx must be in 0..3/);
  });

  it("groups by image in first-appearance order, capped at the batch size", () => {
    const it = (id: number, image: string) => ({ questionId: id, image, question: "q" }) as EvalItem;
    const list = [it(1, "a"), it(2, "b"), it(3, "a"), it(4, "a"), it(5, "b"), it(6, "c")];
    expect(imageBatches(list, 2).map((b) => b.map((x) => x.questionId))).toEqual([[1, 3], [4], [2, 5], [6]]);
  });
});

describe("runEval", () => {
  it("writes one official-form line per question, in order, with settings beside it", async () => {
    const { f, items, opts } = setup();
    const answers = join(f.dir, "out", "answers.jsonl");
    const fake = new FakeAnswerer();
    const s = await runEval(opts(answers, fake, { batch: 4 }));
    expect(s).toMatchObject({ chunkSize: 30, skipped: 0, answered: 30, repairedBytes: 0, reordered: false });
    const lines = read(answers)
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(Object.keys(lines[0])).toEqual(["question_id", "prompt", "text", "model_id", "image", "metadata"]);
    expect(lines.map((l) => l.question_id)).toEqual(items.map((it) => it.questionId));
    expect(lines[0]).toMatchObject({
      question_id: 1,
      prompt: items[0].question,
      text: fakeText(items[0]),
      model_id: "fake-model",
      image: f.items[0].image,
    });
    // 6 questions per image, batch 4 → 4 + 2 per image, every call on one image.
    expect(fake.calls.map((c) => c.length)).toEqual(Array(5).fill([4, 2]).flat());
    for (const c of fake.calls) expect(new Set(c.map((x) => x.image)).size).toBe(1);
    const settings = JSON.parse(read(settingsPath(answers)));
    expect(settings).toMatchObject({
      benchmark: "pope",
      modelId: "fake-model",
      answerer: { decoding: "fake", seed: 7 },
      numChunks: 1,
      chunkIdx: 0,
    });
    expect(settings.questions).toMatchObject({ file: "coco_pope_random.json", count: 30 });
    expect(typeof settings.packageVersion).toBe("string");
  });

  it("an interrupted run, restarted, ends identical to an uninterrupted one", async () => {
    const { f, opts } = setup();
    const clean = join(f.dir, "clean.jsonl");
    await runEval(opts(clean));
    const answers = join(f.dir, "resumed.jsonl");
    const crashing = new FakeAnswerer();
    crashing.failAfter = 13;
    await expect(runEval(opts(answers, crashing, { batch: 4 }))).rejects.toThrow(/crashed/);
    expect(ids(answers).length).toBe(12); // whole batches only: 4+2+4+2
    const second = new FakeAnswerer();
    const s = await runEval(opts(answers, second, { batch: 4 }));
    expect(s).toMatchObject({ skipped: 12, answered: 18 });
    expect(second.calls.flat().map((x) => x.questionId)).toEqual(Array.from({ length: 18 }, (_, i) => i + 13));
    expect(read(answers)).toBe(read(clean));
    expect(read(settingsPath(answers))).toBe(read(settingsPath(clean)));
    // A third run has nothing to do.
    expect(await runEval(opts(answers))).toMatchObject({ skipped: 30, answered: 0 });
    expect(read(answers)).toBe(read(clean));
  });

  it("a partial last line (killed mid-write) is dropped and redone, never duplicated", async () => {
    const { f, opts } = setup();
    const clean = join(f.dir, "clean.jsonl");
    await runEval(opts(clean));
    const answers = join(f.dir, "a.jsonl");
    const crashing = new FakeAnswerer();
    crashing.failAfter = 10;
    await expect(runEval(opts(answers, crashing, { batch: 1 }))).rejects.toThrow();
    const full = read(answers);
    truncateSync(answers, Buffer.byteLength(full) - 17); // cut into line 10
    const s = await runEval(opts(answers));
    expect(s.repairedBytes).toBe(Buffer.byteLength(full.trim().split("\n")[9]) + 1 - 17);
    expect(s).toMatchObject({ skipped: 9, answered: 21 });
    expect(read(answers)).toBe(read(clean));
  });

  it("chunks 0..N−1 merged equal the single run, byte for byte (settings too)", async () => {
    for (const [nImages, n] of [
      [5, 4],
      [3, 4],
      [1, 7],
    ] as const) {
      const { f, items, opts } = setup(nImages, 3);
      const single = join(f.dir, "single.jsonl");
      await runEval(opts(single));
      const parts = [];
      for (let k = n - 1; k >= 0; k--) {
        const p = join(f.dir, `chunk${k}.jsonl`);
        await runEval(opts(p, new FakeAnswerer(), { numChunks: n, chunkIdx: k }));
        parts.push(p);
      }
      const merged = join(f.dir, "merged.jsonl");
      expect(mergeChunks({ benchmark: "pope", items, parts, out: merged }).count).toBe(items.length);
      expect(read(merged)).toBe(read(single));
      expect(read(settingsPath(merged))).toBe(read(settingsPath(single)));
    }
  });

  it("merge refuses missing, incomplete, foreign or duplicate chunks", async () => {
    const { f, items, opts } = setup(4, 3);
    const p = (k: number) => join(f.dir, `c${k}.jsonl`);
    for (const k of [0, 1]) await runEval(opts(p(k), new FakeAnswerer(), { numChunks: 3, chunkIdx: k }));
    const out = join(f.dir, "m.jsonl");
    expect(() => mergeChunks({ benchmark: "pope", items, parts: [p(0), p(1)], out })).toThrow(/chunk 2 of 3 is missing/);
    const crashing = new FakeAnswerer();
    crashing.failAfter = 1;
    await expect(runEval(opts(p(2), crashing, { numChunks: 3, chunkIdx: 2, batch: 1 }))).rejects.toThrow();
    expect(() => mergeChunks({ benchmark: "pope", items, parts: [p(0), p(1), p(2)], out })).toThrow(
      /c2.jsonl \(chunk 2 of 3\): 3 question\(s\) unanswered/,
    );
    expect(() => mergeChunks({ benchmark: "pope", items, parts: [p(0), p(1), p(1)], out })).toThrow(/are both chunk 1/);
    await runEval(opts(p(2), new FakeAnswerer({ decoding: "other" }), { numChunks: 3, chunkIdx: 2, overwrite: true }));
    expect(() => mergeChunks({ benchmark: "pope", items, parts: [p(0), p(1), p(2)], out })).toThrow(
      /other settings .*answerer.decoding: "fake" → "other"/,
    );
    expect(() => mergeChunks({ benchmark: "pope", items: items.slice(1), parts: [p(0)], out })).toThrow(/other questions/);
    expect(existsSync(out)).toBe(false);
  });

  it("restarting with other settings is refused, naming the keys, and nothing is lost", async () => {
    const { f, opts } = setup();
    const answers = join(f.dir, "a.jsonl");
    const crashing = new FakeAnswerer();
    crashing.failAfter = 7;
    await expect(runEval(opts(answers, crashing))).rejects.toThrow();
    const before = read(answers);
    const other = new FakeAnswerer({ decoding: "fake", seed: 8, gamma: 0.5 });
    await expect(runEval(opts(answers, other))).rejects.toThrow(
      /different settings \(answerer\.gamma: \(absent\) → 0\.5; answerer\.seed: 7 → 8\)/,
    );
    await expect(runEval(opts(answers, new FakeAnswerer(), { numChunks: 2, chunkIdx: 1 }))).rejects.toThrow(
      /chunkIdx: 0 → 1; numChunks: 1 → 2/,
    );
    await expect(runEval(opts(answers, new FakeAnswerer(), { limit: 10 }))).rejects.toThrow(/limit: \(absent\) → 10/);
    expect(read(answers)).toBe(before);
    expect(other.calls.length).toBe(0);
    // --overwrite discards and starts over.
    expect(await runEval(opts(answers, other, { overwrite: true }))).toMatchObject({ skipped: 0, answered: 30 });
  });

  it("refuses answers without settings, broken lines, duplicates and foreign ids", async () => {
    const { f, opts } = setup(2, 2);
    const answers = join(f.dir, "a.jsonl");
    writeFileSync(answers, JSON.stringify({ question_id: 1, text: "Yes" }) + "\n");
    await expect(runEval(opts(answers))).rejects.toThrow(/has answers but no a.jsonl.settings.json/);
    await runEval(opts(answers, new FakeAnswerer(), { overwrite: true }));
    const good = read(answers);
    for (const [text, msg] of [
      [good + "{oops}\n", /a.jsonl:5: broken JSON line/],
      [good + good.split("\n")[0] + "\n", /a.jsonl:5: duplicate answer for question_id 1 \(first at .*a.jsonl:1\)/],
      [good + JSON.stringify({ question_id: 77, text: "No" }) + "\n", /a.jsonl:5: question_id 77 is not in chunk 0 of 1/],
    ] as const) {
      writeFileSync(answers, text);
      await expect(runEval(opts(answers))).rejects.toThrow(msg);
      expect(read(answers)).toBe(text);
    }
  });

  it("a file that revisits images is answered image by image and stored in question order", async () => {
    const { f, items, opts } = setup(3, 2);
    const shuffled = [0, 2, 4, 1, 3, 5].map((i) => items[i]); // a b c a b c
    const fake = new FakeAnswerer();
    const answers = join(f.dir, "a.jsonl");
    const s = await runEval({ ...opts(answers, fake), items: shuffled });
    expect(fake.calls.map((c) => c.map((x) => x.questionId))).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    expect(s.reordered).toBe(true);
    expect(ids(answers)).toEqual([1, 3, 5, 2, 4, 6]);
  });

  it("a live lock refuses a second writer; a stale one is taken over", async () => {
    const { f, opts } = setup(1, 2);
    const answers = join(f.dir, "a.jsonl");
    writeFileSync(`${answers}.lock`, String(process.pid));
    await expect(runEval(opts(answers))).rejects.toThrow(new RegExp(`another run \\(pid ${process.pid}\\)`));
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid!;
    writeFileSync(`${answers}.lock`, String(dead));
    expect(await runEval(opts(answers))).toMatchObject({ answered: 2 });
    expect(existsSync(`${answers}.lock`)).toBe(false);
    expect(statSync(answers).size).toBeGreaterThan(0);
  });
});
