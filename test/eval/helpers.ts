// Shared pieces for the eval tests: temp folders, a deterministic fake answerer, tiny POPE/MME fixtures.
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Answer, Answerer, EvalItem } from "../../src/eval/answerer.js";

export function tmp(prefix = "causalmm-eval-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Free-form answers, including ones the POPE rules read differently. */
export const FAKE_TEXTS = ["Yes", "No", "Yes, there is a dog.", "No, there isn't.", "There isn't a dog.", "Not sure"];

/** The fake's answer: a pure function of the question, so any run order gives the same text. */
export function fakeText(it: EvalItem): string {
  const h = createHash("sha256").update(`${it.questionId}|${it.question}`).digest();
  return FAKE_TEXTS[h[0] % FAKE_TEXTS.length];
}

export class FakeAnswerer implements Answerer {
  readonly modelId = "fake-model";
  readonly calls: EvalItem[][] = [];
  answered = 0;
  /** Throw once this many answers have been given (simulates a crash mid-run). */
  failAfter: number | null = null;

  constructor(readonly settings: Record<string, unknown> = { decoding: "fake", seed: 7 }) {}

  async answer(items: EvalItem[]): Promise<Answer[]> {
    this.calls.push(items);
    const out: Answer[] = [];
    for (const it of items) {
      if (this.failAfter !== null && this.answered >= this.failAfter) throw new Error("fake answerer crashed");
      out.push({ text: fakeText(it), prompt: it.question, meta: { n: String(it.questionId).length } });
      this.answered++;
    }
    // A crash inside a batch loses the whole batch, as a model crash would.
    return out;
  }
}

export interface PopeFixture {
  dir: string;
  questions: string;
  images: string;
  items: { question_id: number; image: string; text: string; label: string }[];
}

/** `coco_pope_random.json` (JSON lines, VCD form) with `nImages` images × `perImage` questions. */
export function popeFixture(nImages = 5, perImage = 6, dir = tmp()): PopeFixture {
  const images = join(dir, "val2014");
  mkdirSync(images, { recursive: true });
  const items: PopeFixture["items"] = [];
  const objects = ["dog", "cat", "car", "person", "chair", "cup", "bus", "kite"];
  for (let i = 0; i < nImages; i++) {
    const image = `COCO_val2014_${String(i).padStart(12, "0")}.jpg`;
    writeFileSync(join(images, image), `fake jpeg ${i}`);
    for (let j = 0; j < perImage; j++) {
      items.push({
        question_id: items.length + 1,
        image,
        text: `Is there a ${objects[(i + j) % objects.length]} in the image?`,
        label: j % 2 === 0 ? "yes" : "no",
      });
    }
  }
  const questions = join(dir, "coco_pope_random.json");
  writeFileSync(questions, items.map((q) => JSON.stringify(q) + "\n").join(""));
  return { dir, questions, images, items };
}

export function writeLines(path: string, records: unknown[]): void {
  writeFileSync(path, records.map((r) => JSON.stringify(r) + "\n").join(""));
}
