// POPE scoring, rule by rule, on hand-made answers whose expected readings are worked out here.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { parseArgs } from "../../src/cli/args.js";
import { scoreCommand } from "../../src/cli/commands/score.js";
import { answersById, readAnswers } from "../../src/eval/answers-file.js";
import { bareQuestion, loadPopeQuestions } from "../../src/eval/pope-data.js";
import { llavaSaysNo, operaSaysNo, pairAnswers, popeMetrics, scorePope, vcdPredictsYes } from "../../src/eval/pope-score.js";
import { tmp, writeLines } from "./helpers.js";

// [label, answer, llava, opera, vcd] — outcome under each rule, derived by hand from the scripts:
//   llava: first sentence, drop ",", words; no iff a word is No / not / no (case-sensitive).
//   opera: drop all "." and ",", words; no iff a word is No/not/no/NO or ends in "n't".
//   vcd: lowercase; label yes → right iff "yes" ⊂ answer; label no → right iff "no" ⊂ answer.
const ROWS: [string, string, string, string, string][] = [
  ["yes", "Yes", "TP", "TP", "TP"],
  ["no", "Yes", "FP", "FP", "FP"],
  ["yes", "No", "FN", "FN", "FN"],
  ["no", "No", "TN", "TN", "TN"],
  ["yes", "NO", "TP", "FN", "FN"], // "NO" is not in LLaVA's word list
  ["no", "NO", "FP", "TN", "TN"],
  ["yes", "Yes, there is no dog.", "FN", "FN", "TP"], // VCD sees "yes"
  ["no", "Yes, there is no dog.", "TN", "TN", "TN"], // ... and also "no": right both ways
  ["yes", "There isn't a dog.", "TP", "FN", "FN"], // only OPERA knows n't
  ["no", "There isn't a dog.", "FP", "TN", "FP"], // no "no" substring for VCD
  ["yes", "Not sure", "TP", "TP", "FN"], // capital "Not" is no negation for LLaVA/OPERA
  ["no", "Not sure", "FP", "FP", "TN"], // "not" contains "no" for VCD
  ["no", "yes.", "FP", "FP", "FP"],
  ["no", "I don't know", "FP", "TN", "TN"], // "know" contains "no"
];

function counts(col: 2 | 3 | 4) {
  const c = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (const r of ROWS) c[r[col].toLowerCase() as keyof typeof c]++;
  return c;
}

describe("POPE answer readings", () => {
  it("LLaVA eval_pope.py: first sentence, exact words", () => {
    expect(llavaSaysNo("No")).toBe(true);
    expect(llavaSaysNo("No.")).toBe(true);
    expect(llavaSaysNo("no, there is not")).toBe(true);
    expect(llavaSaysNo("Yes. There is no cat")).toBe(false); // only the first sentence counts
    expect(llavaSaysNo("No.\nYes")).toBe(true);
    expect(llavaSaysNo("NO")).toBe(false);
    expect(llavaSaysNo("Nope")).toBe(false);
    expect(llavaSaysNo("No\nthere is none")).toBe(false); // words split on spaces only
  });

  it("OPERA recorder: all sentences, NO and n't", () => {
    expect(operaSaysNo("Yes. There is no cat")).toBe(true);
    expect(operaSaysNo("NO")).toBe(true);
    expect(operaSaysNo("It doesn't.")).toBe(true);
    expect(operaSaysNo("No\nYes")).toBe(false);
  });

  it("VCD eval_pope.py reads relative to the label", () => {
    expect(vcdPredictsYes("Yes, there is no dog.", "yes")).toBe(true);
    expect(vcdPredictsYes("Yes, there is no dog.", "no")).toBe(false);
    expect(vcdPredictsYes("  YES ", "yes")).toBe(true);
    expect(vcdPredictsYes("There is a dog", "no")).toBe(true);
  });
});

describe("POPE metrics", () => {
  it("match eval_pope.py on a published confusion matrix (LLaVA issue #626, random split)", () => {
    const m = popeMetrics([1183, 31, 1379, 317]);
    expect(m.accuracy).toBeCloseTo(0.8804123711340206, 14);
    expect(m.precision).toBeCloseTo(0.9744645799011532, 14);
    expect(m.recall).toBeCloseTo(0.7886666666666666, 14);
    expect(m.f1).toBeCloseTo(0.8717759764185703, 14);
    expect(m.yesRatio).toBeCloseTo(1214 / 2910, 14);
  });

  it("0/0 metrics are NaN (the scripts would raise)", () => {
    const m = popeMetrics([0, 0, 5, 5]);
    expect(m.precision).toBeNaN();
    expect(m.f1).toBeNaN();
    expect(m.accuracy).toBe(0.5);
  });
});

describe("scoring a hand-made answers file", () => {
  const dir = tmp();
  const questions = join(dir, "coco_pope_adversarial.json");
  const answers = join(dir, "answers.jsonl");
  writeLines(
    questions,
    ROWS.map((r, i) => ({ question_id: i + 1, image: `img${i >> 1}.jpg`, text: `q${i}`, label: r[0] })),
  );
  writeLines(
    answers,
    ROWS.map((r, i) => ({ question_id: i + 1, prompt: `q${i}`, text: r[1], model_id: "m", image: `img${i >> 1}.jpg`, metadata: {} })),
  );

  const report = () => {
    const items = loadPopeQuestions(questions, { requireLabels: true });
    return scorePope(pairAnswers(items, answersById(readAnswers(answers))).pairs);
  };

  it("counts per rule", () => {
    const r = report();
    expect(r.splits.map((s) => s.split)).toEqual(["adversarial"]);
    const { vcd, llava, opera } = r.splits[0].rules;
    for (const [m, col] of [
      [llava, 2],
      [opera, 3],
      [vcd, 4],
    ] as const) {
      expect({ tp: m.tp, fp: m.fp, tn: m.tn, fn: m.fn }).toEqual(counts(col));
    }
    // Worked out: llava TP 4 FP 6 TN 2 FN 2; opera TP 2 FP 3 TN 5 FN 4; vcd TP 2 FP 3 TN 5 FN 4.
    expect(llava.accuracy).toBeCloseTo(6 / 14, 12);
    expect(llava.f1).toBeCloseTo(0.5, 12);
    expect(llava.yesRatio).toBeCloseTo(10 / 14, 12);
    expect(opera.f1).toBeCloseTo((2 * 0.4 * (1 / 3)) / (0.4 + 1 / 3), 12);
    expect(vcd.yesRatio).toBeCloseTo(5 / 14, 12);
  });

  it("CLI prints the same numbers as JSON", async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((s) => {
      lines.push(String(s));
      return true;
    });
    try {
      await scoreCommand.run(parseArgs(["pope", "--answers", answers, "--questions", questions, "--json"], scoreCommand));
    } finally {
      spy.mockRestore();
    }
    const json = JSON.parse(lines.join(""));
    expect(json.splits[0].rules.llava.tp).toBe(4);
    expect(json.splits[0].rules.opera.tn).toBe(5);
  });

  it("missing or foreign answers are errors unless --allow-missing", () => {
    const part = join(dir, "part.jsonl");
    writeFileSync(part, JSON.stringify({ question_id: 1, text: "Yes" }) + "\n");
    const items = loadPopeQuestions(questions, { requireLabels: true });
    expect(() => pairAnswers(items, answersById(readAnswers(part)))).toThrow(/no answer for question_id 2/);
    expect(pairAnswers(items, answersById(readAnswers(part)), true).missing).toBe(13);
    writeFileSync(part, JSON.stringify({ question_id: 99, text: "Yes" }) + "\n");
    expect(() => pairAnswers(items, answersById(readAnswers(part)), true)).toThrow(
      /part.jsonl:1: question_id 99 is not in the question file/,
    );
  });
});

describe("LLaVA form: llava_pope_test.jsonl + coco/coco_pope_<category>.json", () => {
  const dir = tmp();
  const qs = [
    { question_id: 100, image: "a.jpg", text: "Is there a dog in the image?", category: "random" },
    { question_id: 101, image: "a.jpg", text: "Is there a cat in the image?", category: "popular" },
    { question_id: 102, image: "b.jpg", text: "Is there a car in the image?", category: "random" },
  ];
  const file = join(dir, "llava_pope_test.jsonl");
  writeLines(file, qs);
  writeLines(join(dir, "coco_pope_random.json"), [
    { question_id: 1, image: "a.jpg", text: "Is there a dog in the image?", label: "yes" },
    { question_id: 2, image: "b.jpg", text: "Is there a car in the image?", label: "no" },
  ]);
  writeLines(join(dir, "coco_pope_popular.json"), [{ question_id: 1, image: "a.jpg", text: "Is there a cat in the image?", label: "no" }]);

  it("pairs labels by position within the category; splits come from category", () => {
    const items = loadPopeQuestions(file, { labelsDir: dir, requireLabels: true });
    expect(items.map((it) => [it.questionId, it.category, it.label])).toEqual([
      [100, "random", "yes"],
      [101, "popular", "no"],
      [102, "random", "no"],
    ]);
    const answers = join(dir, "a.jsonl");
    writeLines(answers, [
      { question_id: 100, text: "Yes" },
      { question_id: 101, text: "Yes" },
      { question_id: 102, text: "No" },
    ]);
    const r = scorePope(pairAnswers(items, answersById(readAnswers(answers))).pairs);
    expect(r.splits.map((s) => [s.split, s.rules.llava.accuracy])).toEqual([
      ["random", 1],
      ["popular", 0],
    ]);
    expect(r.mean!.llava.accuracy).toBe(0.5);
  });

  it("out-of-step label files and missing labels are clear errors", () => {
    expect(() => loadPopeQuestions(file, { requireLabels: true })).toThrow(/llava_pope_test.jsonl:1: no "label".*--labels-dir/);
    writeLines(join(dir, "coco_pope_popular.json"), [
      { question_id: 1, image: "a.jpg", text: "Is there a bus in the image?", label: "no" },
    ]);
    expect(() => loadPopeQuestions(file, { labelsDir: dir })).toThrow(
      /coco_pope_popular.json:1: text .* does not match .*llava_pope_test.jsonl:2/,
    );
    writeLines(join(dir, "coco_pope_popular.json"), []);
    expect(() => loadPopeQuestions(file, { labelsDir: dir })).toThrow(
      /0 labels but the question file has 1 questions of category "popular"/,
    );
  });
});

describe("LLaVA's real llava_pope_test.jsonl: its own ids, texts with the answer-format suffix", () => {
  const dir = tmp();
  const suffix = "\nAnswer the question using a single word or phrase.";
  const file = join(dir, "llava_pope_test.jsonl");
  const pope = [
    { question_id: 1, image: "COCO_val2014_000000310196.jpg", text: "Is there a snowboard in the image?", label: "yes" },
    { question_id: 2, image: "COCO_val2014_000000310196.jpg", text: "Is there a dog in the image?", label: "no" },
  ];
  writeLines(
    file,
    pope.map((q, i) => ({ question_id: 20000001 + i, image: q.image, text: q.text + suffix, category: "popular" })),
  );
  writeLines(join(dir, "coco_pope_popular.json"), pope);

  it("pairs by position and compares texts without LLaVA's suffix", () => {
    const items = loadPopeQuestions(file, { labelsDir: dir, requireLabels: true });
    expect(items.map((it) => [it.questionId, it.label])).toEqual([
      [20000001, "yes"],
      [20000002, "no"],
    ]);
    expect(bareQuestion("Is there a dog?" + suffix)).toBe("Is there a dog?");
    expect(bareQuestion("Is there a dog? Please answer this question with one word.")).toBe("Is there a dog?");
  });

  it("pairs by question id when both files use the same ids, whatever the order", () => {
    const f2 = join(dir, "same-ids", "llava_pope_test.jsonl");
    mkdirSync(join(dir, "same-ids"));
    writeLines(
      f2,
      [...pope].reverse().map((q) => ({ question_id: q.question_id, image: q.image, text: q.text + suffix, category: "popular" })),
    );
    writeLines(join(dir, "same-ids", "coco_pope_popular.json"), pope);
    expect(loadPopeQuestions(f2, { labelsDir: join(dir, "same-ids") }).map((it) => [it.questionId, it.label])).toEqual([
      [2, "no"],
      [1, "yes"],
    ]);
  });

  it("a real mismatch names both lines", () => {
    const f3 = join(dir, "bad", "llava_pope_test.jsonl");
    mkdirSync(join(dir, "bad"));
    writeLines(
      f3,
      pope.map((q, i) => ({ question_id: 20000001 + i, image: i ? "other.jpg" : q.image, text: q.text + suffix, category: "popular" })),
    );
    writeLines(join(dir, "bad", "coco_pope_popular.json"), pope);
    expect(() => loadPopeQuestions(f3, { labelsDir: join(dir, "bad") })).toThrow(
      /coco_pope_popular.json:2: image "COCO_val2014_000000310196.jpg" does not match .*llava_pope_test.jsonl:2: "other.jpg"/,
    );
  });
});
