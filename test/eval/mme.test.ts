// MME: the benchmark layout, the eval_tool files, the calculation.py rule, and `causalmm eval mme` with
// an answerer passed to makeEvalCommand.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { parseArgs } from "../../src/cli/args.js";
import { makeEvalCommand } from "../../src/cli/commands/eval.js";
import { testAnswererFactory, type AnswererSpec } from "../../src/cli/eval-answerer.js";
import { scoreCommand } from "../../src/cli/commands/score.js";
import type { EvalItem } from "../../src/eval/answerer.js";
import { loadMmeQuestions, readMmeResults } from "../../src/eval/mme-data.js";
import { loadLlavaMmeQuestions } from "../../src/eval/mme-llava.js";
import { mmeParsePred, scoreMme, scoreMmeTask } from "../../src/eval/mme-score.js";
import { tmp } from "./helpers.js";

// subtask → image → [question, gt, model answer] × 2, with the expected reading worked out:
const LAYOUT: Record<string, { split: boolean; images: Record<string, [string, string, string][]> }> = {
  existence: {
    split: false,
    images: {
      "1.jpg": [
        ["Is there a dog? Please answer yes or no.", "Yes", "Yes"],
        ["Is there a cat? Please answer yes or no.", "No", "No, there is none"],
      ], // 2 right
      "2.png": [
        ["Is there a car? Please answer yes or no.", "Yes", "There is a car"],
        ["Is there a bus? Please answer yes or no.", "No", "yes"],
      ], // other, wrong
    },
  },
  artwork: {
    split: true,
    images: {
      "10002.jpg": [
        ["Is this by Monet? Please answer yes or no.", "Yes", "YES."],
        ["Is this by Dali? Please answer yes or no.", "No", " no"],
      ], // 2 right
      "10003.jpg": [
        ["Is this by Goya? Please answer yes or no.", "Yes", "Nope, yes"],
        ["Is this by Klee? Please answer yes or no.", "No", "no"],
      ], // wrong, right
    },
  },
  code_reasoning: {
    split: false,
    images: {
      "0001.png": [
        ["Does it print 3? Please answer yes or no.", "Yes", "yesno"],
        ["Does it print 4? Please answer yes or no.", "No", "I think no"],
      ],
    }, // right, other
  },
};
// existence: acc 2/4, acc+ 1/2 → 100; artwork: acc 3/4, acc+ 1/2 → 125; code_reasoning: acc 1/2, acc+ 0 → 50.

function mmeFixture(): string {
  const root = join(tmp(), "MME_Benchmark_release_version");
  for (const [sub, { split, images }] of Object.entries(LAYOUT)) {
    const imgDir = split ? join(root, sub, "images") : join(root, sub);
    const qaDir = split ? join(root, sub, "questions_answers_YN") : join(root, sub);
    mkdirSync(imgDir, { recursive: true });
    mkdirSync(qaDir, { recursive: true });
    for (const [img, qs] of Object.entries(images)) {
      writeFileSync(join(imgDir, img), "fake image");
      writeFileSync(join(qaDir, img.replace(/\.\w+$/, ".txt")), qs.map(([q, a]) => `${q}\t${a}\n`).join(""));
    }
  }
  mkdirSync(join(root, "eval_tool"));
  writeFileSync(join(root, "eval_tool", "readme.txt"), "not a subtask");
  return root;
}

const PRED = new Map(
  Object.values(LAYOUT).flatMap((s) =>
    Object.values(s.images)
      .flat()
      .map(([q, , p]) => [q, p] as const),
  ),
);

async function capture(f: () => Promise<unknown>): Promise<string> {
  const out: string[] = [];
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((s) => {
    out.push(String(s));
    return true;
  });
  try {
    await f();
  } finally {
    spy.mockRestore();
  }
  return out.join("");
}

describe("MME pred parsing (calculation.py parse_pred_ans)", () => {
  it("exact yes/no, else the first four characters", () => {
    expect(["yes", "No", "Yes, it is", "YES.", " no", "no, yes", "Nope", "yesno"].map(mmeParsePred)).toEqual([
      "yes",
      "no",
      "yes",
      "yes",
      "no",
      "no",
      "no",
      "yes",
    ]);
    expect(["", "There is", "I think yes", "n", "maybe no"].map(mmeParsePred)).toEqual(["other", "other", "other", "other", "other"]);
  });

  it("counts code points like Python's pred_ans[:4], not UTF-16 units", () => {
    // "😀 no": code points 😀, space, n, o → "no" in the prefix (Python: "no"); UTF-16 units cut "o" off.
    expect(mmeParsePred("😀 no")).toBe("no");
    expect(mmeParsePred("𝒜 yes")).toBe("other"); // 𝒜 + " ye": "yes" does not fit in four code points
    expect(mmeParsePred("😀yes, it is")).toBe("yes");
    expect(mmeParsePred("😀😀no")).toBe("no");
    expect(mmeParsePred("😀😀😀no")).toBe("other");
    expect(mmeParsePred("é no")).toBe("no"); // a BMP letter counts one either way
  });
});

describe("MME layout", () => {
  it("loads both layouts, skips folders without images, pairs two questions per image", () => {
    const items = loadMmeQuestions(mmeFixture());
    expect(items.length).toBe(10);
    expect([...new Set(items.map((it) => it.category))]).toEqual(["artwork", "code_reasoning", "existence"]);
    expect(items[0]).toMatchObject({
      questionId: "artwork/10002.jpg#1",
      imageFile: "artwork/images/10002.jpg",
      label: "yes",
      question: "Is this by Monet? Please answer yes or no.",
    });
    expect(items[9]).toMatchObject({ questionId: "existence/2.png#2", imageFile: "existence/2.png", label: "no" });
  });

  it("bad question files name file and line", () => {
    const root = mmeFixture();
    const qa = join(root, "existence", "1.txt");
    writeFileSync(qa, "Is there a dog?\tYes\nIs there a cat?\tNo\textra\n");
    expect(() => loadMmeQuestions(root)).toThrow(/existence\/1.txt:2: expected "question<TAB>answer", got 3 field/);
    writeFileSync(qa, "Is there a dog?\tMaybe\n");
    expect(() => loadMmeQuestions(root)).toThrow(/existence\/1.txt:1: answer must be Yes or No/);
    writeFileSync(qa, "Is there a dog?\tYes\n");
    expect(() => loadMmeQuestions(root)).toThrow(/existence\/1.txt: 1 question\(s\); MME asks exactly two/);
    writeFileSync(qa, "Is there a dog?\tYes\n<image>\\nIs there a cat?\tNo\n");
    expect(() => loadMmeQuestions(root)).toThrow(/existence\/1.txt:2: question "existence\/1.jpg#2" contains "<image>"/);
    writeFileSync(qa, "Is there a dog?\tYes\nIs there a cat?\tNo\n");
    writeFileSync(join(root, "existence", "9.txt"), "a\tYes\nb\tNo\n");
    expect(() => loadMmeQuestions(root, { subtasks: ["existence"] })).toThrow(/existence\/9.txt: no image 9\.\* in/);
    expect(() => loadMmeQuestions(root, { subtasks: ["artwork", "nope"] })).toThrow(/no MME subtask "nope"/);
  });
});

describe("MME scoring", () => {
  const row = (img: string, gt: string, pred: string) => ({ img, question: "q", gt, pred, where: "w" });

  it("acc, acc+ and score per subtask", () => {
    const s = scoreMmeTask("count", [
      row("a", "Yes", "yes"),
      row("a", "No", "no"),
      row("b", "Yes", "no"),
      row("b", "No", "no"),
      row("c", "Yes", "?"),
      row("c", "No", "yes"),
    ]);
    expect(s).toMatchObject({ questions: 6, images: 3, other: 1, tp: 1, fn: 1, tn: 2, fp: 1 });
    expect(s.acc).toBeCloseTo(3 / 6, 12);
    expect(s.accPlus).toBeCloseTo(1 / 3, 12);
    expect(s.score).toBeCloseTo(50 + 100 / 3, 10);
    expect(() => scoreMmeTask("count", [row("a", "Yes", "yes")])).toThrow(/two questions per image/);
    expect(() => scoreMmeTask("count", [row("a", "Yes", "yes"), row("b", "No", "no")])).toThrow(/must be consecutive/);
    expect(() => scoreMmeTask("count", [row("a", "maybe", "yes"), row("a", "No", "no")])).toThrow(/ground truth must be yes or no/);
  });

  it("the test hook: none set is the real model, a module without a factory is a clear error", async () => {
    await expect(testAnswererFactory({})).resolves.toBeUndefined();
    const mod = join(tmp(), "no-factory.mjs");
    writeFileSync(mod, "export const answer = 1;\n");
    await expect(testAnswererFactory({ CAUSALMM_TEST_ANSWERER: mod })).rejects.toThrow(/no-factory.mjs: module exports no factory/);
  });

  it("eval mme → eval_tool files → score, with a registered answerer and its options", async () => {
    const root = mmeFixture();
    const answers = join(root, "..", "answers", "mme.jsonl");
    const seen: number[] = [];
    const evalCommand = makeEvalCommand({
      create: async (args) => {
        seen.push(Number(args.opts.gamma));
        return {
          modelId: "table",
          settings: { gamma: args.opts.gamma },
          answer: async (items: EvalItem[]) => items.map((it) => ({ text: PRED.get(it.question)!, prompt: it.question })),
        };
      },
      options: [{ name: "gamma", type: "number", help: "test option" }],
    });
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      await evalCommand.run(parseArgs(["mme", "--mme-root", root, "--answers", answers, "--gamma", "0.5"], evalCommand));
    } finally {
      err.mockRestore();
    }
    expect(seen).toEqual([0.5]);
    const resultsDir = join(root, "..", "answers", "mme.mme");
    expect(readFileSync(join(resultsDir, "artwork.txt"), "utf8").split("\n")[0]).toBe(
      "10002.jpg\tIs this by Monet? Please answer yes or no.\tYes\tYES.",
    );
    const report = scoreMme(readMmeResults(resultsDir));
    expect(report.tasks.map((t) => [t.subtask, t.score])).toEqual([
      ["artwork", 125],
      ["code_reasoning", 50],
      ["existence", 100],
    ]);
    expect(report.perception.score).toBe(225);
    expect(report.perception.missing.length).toBe(8);
    expect(report.cognition.score).toBe(50);
    expect(report.hallucination).toEqual({ score: 100, missing: ["count", "position", "color"] });
    const viaAnswers = JSON.parse(
      await capture(() => scoreCommand.run(parseArgs(["mme", "--answers", answers, "--mme-root", root, "--json"], scoreCommand))),
    );
    expect(viaAnswers).toEqual(JSON.parse(JSON.stringify(report)));
    const text = await capture(() => scoreCommand.run(parseArgs(["mme", "--results-dir", resultsDir], scoreCommand)));
    expect(text).toMatch(/Perception: 225\.00 {2}\(missing: count, position/);
  });

  it("LLaVA's llava_mme.jsonl with LLaVA's flag names: asks LLaVA's text, scores as the MME folder", async () => {
    const root = mmeFixture();
    const qfile = join(root, "..", "llava_mme.jsonl");
    const llavaText = (q: string) => q.replace(" Please answer yes or no.", "\nAnswer the question using a single word or phrase.");
    // as in LLaVA's file: question_id "<subtask>/<image file>" shared by the image's two questions
    const lines = Object.entries(LAYOUT).flatMap(([sub, { split, images }]) =>
      Object.entries(images).flatMap(([img, qs]) =>
        qs.map(([q]) => ({
          question_id: `${sub}/${img}`,
          image: split ? `${sub}/images/${img}` : `${sub}/${img}`,
          text: llavaText(q),
          category: sub,
        })),
      ),
    );
    writeFileSync(qfile, lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
    const items = loadLlavaMmeQuestions(qfile, root);
    expect(items.length).toBe(10);
    expect(items[0]).toMatchObject({
      questionId: "existence/1.jpg#1",
      label: "yes",
      question: "Is there a dog?\nAnswer the question using a single word or phrase.",
    });
    const asked: string[] = [];
    const table: AnswererSpec = {
      create: async () => ({
        modelId: "table",
        settings: {},
        answer: async (batch: EvalItem[]) =>
          batch.map((it) => {
            asked.push(it.question);
            return { text: PRED.get(it.meta!.mmeQuestion as string)!, prompt: it.question };
          }),
      }),
      options: [],
    };
    const evalCommand = makeEvalCommand(table);
    const answers = join(root, "..", "llava-answers", "mme.jsonl");
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      await evalCommand.run(parseArgs(["mme", "--question-file", qfile, "--image-folder", root, "--answers-file", answers], evalCommand));
    } finally {
      err.mockRestore();
    }
    expect(asked.every((q) => q.endsWith("\nAnswer the question using a single word or phrase."))).toBe(true);
    const resultsDir = join(root, "..", "llava-answers", "mme.mme");
    expect(readFileSync(join(resultsDir, "artwork.txt"), "utf8").split("\n")[0]).toBe(
      "10002.jpg\tIs this by Monet? Please answer yes or no.\tYes\tYES.",
    );
    expect(scoreMme(readMmeResults(resultsDir)).tasks.map((t) => [t.subtask, t.score])).toEqual([
      ["artwork", 125],
      ["code_reasoning", 50],
      ["existence", 100],
    ]);
    // a question the MME folder does not have names the line
    writeFileSync(
      qfile,
      JSON.stringify({ question_id: "existence/1.jpg", image: "existence/1.jpg", text: "Is there a yak?", category: "existence" }) + "\n",
    );
    expect(() => loadLlavaMmeQuestions(qfile, root)).toThrow(
      /llava_mme.jsonl:1: no MME question "Is there a yak\?" for image 1.jpg of subtask "existence"/,
    );
    writeFileSync(
      qfile,
      JSON.stringify({
        question_id: "existence/1.jpg",
        image: "existence/1.jpg",
        text: "<image>\nIs there a dog?",
        category: "existence",
      }) + "\n",
    );
    expect(() => loadLlavaMmeQuestions(qfile, root)).toThrow(/llava_mme.jsonl:1: question "existence\/1.jpg" contains "<image>"/);
  });

  it("result files with the wrong number of fields name the line", () => {
    const dir = tmp();
    writeFileSync(join(dir, "color.txt"), "a.jpg\tq\tYes\tyes\na.jpg\tq\tNo\n");
    expect(() => readMmeResults(dir)).toThrow(/color.txt:2: expected "img<TAB>question<TAB>gt<TAB>pred", got 3 field/);
  });
});
