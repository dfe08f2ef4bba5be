// Question files: both POPE forms load; bad files fail with the file and line, before any answers
// file is touched.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseArgs } from "../../src/cli/args.js";
import { makeEvalCommand } from "../../src/cli/commands/eval.js";
import { loadPopeQuestions, splitFromFileName } from "../../src/eval/pope-data.js";
import { runEval } from "../../src/eval/runner.js";
import { FakeAnswerer, popeFixture, tmp } from "./helpers.js";

describe("POPE question files", () => {
  it("JSON lines and JSON array forms give the same items", () => {
    const f = popeFixture(2, 3);
    const asArray = join(f.dir, "coco_pope_popular.json");
    writeFileSync(asArray, JSON.stringify(f.items, null, 1));
    const a = loadPopeQuestions(f.questions, { imageFolder: f.images, checkImages: true });
    const b = loadPopeQuestions(asArray, { imageFolder: f.images, checkImages: true });
    expect(a.length).toBe(6);
    expect(b.map((x) => ({ ...x, category: "" }))).toEqual(a.map((x) => ({ ...x, category: "" })));
    expect(a[0]).toMatchObject({ questionId: 1, imageFile: f.items[0].image, question: f.items[0].text, label: "yes", category: "random" });
    expect(a[0].image).toBe(join(f.images, f.items[0].image));
    expect(b[0].category).toBe("popular");
  });

  it("split names from file names", () => {
    expect(splitFromFileName("/x/coco_pope_adversarial.json")).toBe("adversarial");
    expect(splitFromFileName("aokvqa_pope_seem_random.jsonl")).toBe("seem_random");
    expect(splitFromFileName("my_questions.jsonl")).toBe("my_questions");
  });

  const bad = (lines: string[]) => {
    const f = popeFixture(2, 2);
    writeFileSync(f.questions, lines.join("\n") + "\n");
    return f;
  };
  const ok = (id: number, image = "COCO_val2014_000000000000.jpg") =>
    JSON.stringify({ question_id: id, image, text: "Is there a dog?", label: "yes" });

  it("broken JSON line names file and line", () => {
    const f = bad([ok(1), '{"question_id": 2, "image": "x.jpg", "text": "Is', ok(3)]);
    expect(() => loadPopeQuestions(f.questions)).toThrow(/coco_pope_random.json:2: broken JSON line/);
  });

  it("missing field, bad label, non-object", () => {
    let f = bad([ok(1), JSON.stringify({ question_id: 2, image: "a.jpg", label: "no" })]);
    expect(() => loadPopeQuestions(f.questions)).toThrow(/coco_pope_random.json:2: missing field "text"/);
    f = bad([JSON.stringify({ image: "a.jpg", text: "t" })]);
    expect(() => loadPopeQuestions(f.questions)).toThrow(/:1: missing field "question_id"/);
    f = bad([ok(1), JSON.stringify({ question_id: 2, image: "a.jpg", text: "t", label: "maybe" })]);
    expect(() => loadPopeQuestions(f.questions)).toThrow(/:2: "label" must be "yes" or "no", got "maybe"/);
    f = bad(["[1, 2]"]);
    expect(() => loadPopeQuestions(f.questions)).toThrow(/element 0: expected a JSON object/);
  });

  it('a question_id that is neither an integer nor a string says what it is, not "missing field"', () => {
    for (const [id, why] of [
      [1.5, "a number that is not a safe integer"],
      [true, "a boolean"],
      [null, "a null"],
      [[1], "a list"],
      ["", "an empty string"],
    ] as const) {
      const f = bad([ok(1), JSON.stringify({ question_id: id, image: "a.jpg", text: "t", label: "no" })]);
      const msg = new RegExp(
        `coco_pope_random.json:2: "question_id" must be a non-empty string or an integer, ` +
          `got ${JSON.stringify(JSON.stringify(id)).slice(1, -1).replace(/[[\]]/g, "\\$&")} \\(${why}\\)`,
      );
      expect(() => loadPopeQuestions(f.questions), String(id)).toThrow(msg);
    }
  });

  it("a question containing <image> names the file, line and question id", () => {
    const f = bad([ok(1), JSON.stringify({ question_id: 7, image: "a.jpg", text: "<image>\nIs there a dog?", label: "no" })]);
    expect(() => loadPopeQuestions(f.questions)).toThrow(
      /coco_pope_random.json:2: question 7 contains "<image>"; the prompt template adds the image itself/,
    );
  });

  it("duplicate question_id names both lines", () => {
    const f = bad([ok(1), ok(2), "", ok(1)]);
    expect(() => loadPopeQuestions(f.questions)).toThrow(
      /coco_pope_random.json:4: duplicate question_id 1 \(first at .*coco_pope_random.json:1\)/,
    );
  });

  it("missing image names the line and counts the others", () => {
    const f = bad([ok(1), ok(2, "gone.jpg"), ok(3, "gone2.jpg")]);
    expect(() => loadPopeQuestions(f.questions, { imageFolder: f.images, checkImages: true })).toThrow(
      /coco_pope_random.json:2: image file not found: .*gone.jpg \(2 questions have missing images\)/,
    );
    expect(loadPopeQuestions(f.questions, { imageFolder: f.images }).length).toBe(3); // scoring needs no images
  });

  it("a missing file is a clear error", () => {
    const dir = tmp();
    expect(() => loadPopeQuestions(join(dir, "nope.json"))).toThrow(/nope.json: file not found/);
  });

  it("a bad question file on resume fails before the answers file or the model is touched", async () => {
    const f = popeFixture(2, 3);
    const answers = join(f.dir, "answers.jsonl");
    const items = loadPopeQuestions(f.questions, { imageFolder: f.images, checkImages: true });
    const fake = new FakeAnswerer();
    fake.failAfter = 4;
    await expect(runEval({ benchmark: "pope", items, source: f.questions, answerer: fake, answersFile: answers })).rejects.toThrow(
      /crashed/,
    );
    writeFileSync(answers, readFileSync(answers, "utf8") + '{"question_id": 5, "te'); // and a partial line
    const before = readFileSync(answers);
    let built = 0;
    const evalRun = (argv: string[]) => {
      const create = async () => {
        built++;
        return new FakeAnswerer();
      };
      const cmd = makeEvalCommand({ create, options: [] });
      return cmd.run(parseArgs(argv, cmd));
    };
    const original = readFileSync(f.questions, "utf8").split("\n");
    const cases: [string[], RegExp][] = [
      [[original[0], "{oops", ...original.slice(2)], /coco_pope_random.json:2: broken JSON line/],
      [[original[0], original[1], original[0], ...original.slice(3)], /coco_pope_random.json:3: duplicate question_id 1/],
    ];
    for (const [lines, msg] of cases) {
      writeFileSync(f.questions, lines.join("\n"));
      await expect(evalRun(["pope", "--questions", f.questions, "--image-folder", f.images, "--answers", answers])).rejects.toThrow(msg);
    }
    writeFileSync(f.questions, original.join("\n"));
    rmSync(join(f.images, f.items[3].image));
    await expect(evalRun(["pope", "--questions", f.questions, "--image-folder", f.images, "--answers", answers])).rejects.toThrow(
      /:4: image file not found/,
    );
    expect(readFileSync(answers)).toEqual(before);
    expect(built).toBe(0);
  });
});
