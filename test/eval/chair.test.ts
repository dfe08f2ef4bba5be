// CHAIR scorer on hand-made annotations; every expected number is derived by hand in the comments.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { COCO_VOCAB } from "../../src/eval/chair-vocab.js";
import { ChairExtractor, tokenize } from "../../src/eval/chair-words.js";
import { loadChairTruth, scoreChair, readChairCaptions } from "../../src/eval/chair-score.js";
import { chairImageId } from "../../src/eval/chair-data.js";
import { tmp } from "./helpers.js";

const ex = new ChairExtractor(COCO_VOCAB);

describe("CHAIR words (chair.py's caption_to_words)", () => {
  it("lemmatises plurals, merges two-word phrases, maps synonyms to classes", () => {
    // "baby cat" → cat (animal qualifier), "dogs" → dog, "man" → person
    expect(ex.extract("Two dogs and a man near a baby cat.").classes).toEqual(["dog", "person", "cat"]);
    expect(ex.extract("A hot dog and wine glasses.").classes).toEqual(["hot dog", "wine glass"]);
    // toilet seat is the toilet, not a chair; "motor bike" never matches (leading space in the list)
    expect(ex.extract("The seat of the toilet.").classes).toEqual(["toilet"]);
    expect(ex.extract("A motor bike.").classes).toEqual([]);
    expect(ex.extract("Children with knives.").classes).toEqual(["person", "knife"]);
  });
  it("tokenises like word_tokenize on the common cases", () => {
    expect(tokenize("a dog's bowl, isn't it...")).toEqual(["a", "dog", "'s", "bowl", ",", "is", "n't", "it", "..."]);
  });
  it("reads COCO image ids from file names", () => {
    expect(chairImageId("COCO_val2014_000000397133.jpg")).toBe(397133);
    expect(chairImageId("test_000001.png")).toBe("test_000001");
  });
});

describe("CHAIR scores", () => {
  it("matches a hand computation on the simple and COCO annotation forms", () => {
    const d = tmp();
    writeFileSync(join(d, "ann.jsonl"), '{"image_id": 1, "objects": ["dog", "person"]}\n{"image_id": 2, "caption": "A cat on a couch."}\n');
    writeFileSync(
      join(d, "inst.json"),
      JSON.stringify({ categories: [{ id: 62, name: "chair" }], annotations: [{ image_id: 3, category_id: 62 }] }),
    );
    writeFileSync(
      join(d, "ans.jsonl"),
      [
        { question_id: 1, text: "Two dogs and a man near a baby cat." },
        { question_id: 2, text: "A kitten sitting on a sofa next to a dining table." },
        { question_id: 3, text: "A chair." },
      ]
        .map((r) => JSON.stringify(r))
        .join("\n") + "\n",
    );
    const truth = loadChairTruth([join(d, "ann.jsonl"), join(d, "inst.json")], ex);
    const r = scoreChair(readChairCaptions(join(d, "ans.jsonl")), truth, ex);
    // 1: dog ✓ person ✓ cat ✗ (9 tokens); 2: cat ✓ couch ✓ dining table ✗ ("dining table" is not a
    // chair.py double word: 12 tokens); 3: chair ✓ (3 tokens)
    expect(r.mentions).toBe(7);
    expect(r.hallucinated).toBe(2);
    expect(r.CHAIRs).toBeCloseTo(2 / 3, 12);
    expect(r.CHAIRi).toBeCloseTo(2 / 7, 12);
    expect(r.Recall).toBeCloseTo(5 / 5, 12);
    expect(r.Len).toBeCloseTo(24 / 3, 12);
  });
  it("refuses a caption of an image without ground truth", () => {
    const d = tmp();
    writeFileSync(join(d, "ann.jsonl"), '{"image_id": "1", "objects": ["dog"]}\n');
    writeFileSync(join(d, "ans.jsonl"), '{"question_id": 1, "text": "A dog."}\n');
    expect(() => scoreChair(readChairCaptions(join(d, "ans.jsonl")), loadChairTruth([join(d, "ann.jsonl")], ex), ex)).toThrow(
      /no ground-truth.*other type/,
    );
  });
});
