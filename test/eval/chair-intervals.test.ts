// CHAIR bootstrap intervals: expectations derived by hand from the resampling distribution in the comments.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { chairIntervals } from "../../src/eval/chair-intervals.js";
import type { ChairSentence } from "../../src/eval/chair-score.js";
import { runNode } from "../helpers/run.js";
import { REPO_ROOT } from "../helpers/fixtures.js";
import { tmp } from "./helpers.js";

/** A caption with these generated classes against this ground truth (only the fields the intervals read). */
function sentence(generated: string[], gt: string[]): ChairSentence {
  const hall = generated.filter((g) => !gt.includes(g)).map((g): [string, string] => [g, g]);
  return {
    image_id: 0,
    caption: "",
    mscoco_hallucinated_words: hall,
    mscoco_gt_words: gt,
    mscoco_generated_words: generated,
    hallucination_idxs: [],
    words: [],
    metrics: { CHAIRs: 0, CHAIRi: 0, Recall: 0, Len: 0 },
  };
}

describe("CHAIR bootstrap intervals", () => {
  it("collapse to the point when every caption is the same", () => {
    // every resample of identical captions has CHAIR_s 1, CHAIR_i 1/2 and recall 1/2
    const caps = Array.from({ length: 7 }, () => sentence(["dog", "cat"], ["dog", "car"]));
    const c = chairIntervals(caps, { resamples: 200, seed: 3 });
    expect(c.CHAIRs).toEqual([1, 1]);
    expect(c.CHAIRi).toEqual([0.5, 0.5]);
    expect(c.Recall).toEqual([0.5, 0.5]);
  });
  it("span the two-caption resampling distribution", () => {
    // A = {dog} on truth {cat} (1 mention, hallucinated), B = {cat, cat, cat} on {cat}. Resamples of 2:
    // AA (p 1/4): CHAIR_s 1, CHAIR_i 1/1; AB (1/2): 1/2, 1/4; BB (1/4): 0, 0/3. The 2.5 % and 97.5 %
    // quantiles fall inside the outer quarter masses, so the intervals are [0, 1] for both.
    const caps = [sentence(["dog"], ["cat"]), sentence(["cat", "cat", "cat"], ["cat"])];
    const c = chairIntervals(caps, { resamples: 1000, seed: 0 });
    expect(c.CHAIRs).toEqual([0, 1]);
    expect(c.CHAIRi).toEqual([0, 1]);
  });
  it("have the binomial width on many captions and repeat exactly for a seed", () => {
    // 400 captions, half hallucinating: CHAIR_s = 0.5 with standard error √(0.25/400) = 0.025, so the
    // 95 % interval is about 0.5 ± 1.96·0.025 = [0.451, 0.549]; allow ±0.012 at each end for 2000 resamples
    const caps = Array.from({ length: 400 }, (_, i) => (i % 2 ? sentence(["dog"], ["cat"]) : sentence(["cat"], ["cat"])));
    const c = chairIntervals(caps, { resamples: 2000, seed: 1 });
    expect(Math.abs(c.CHAIRs[0] - 0.451)).toBeLessThan(0.012);
    expect(Math.abs(c.CHAIRs[1] - 0.549)).toBeLessThan(0.012);
    // one mention per caption: CHAIR_i equals CHAIR_s on every resample
    expect(c.CHAIRi).toEqual(c.CHAIRs);
    expect(chairIntervals(caps, { resamples: 2000, seed: 1 })).toEqual(c);
    expect(chairIntervals(caps, { resamples: 2000, seed: 2 }).CHAIRs).not.toEqual(c.CHAIRs);
  });
  it("leave out resamples without mentions, and say n/a when none has any", () => {
    const c = chairIntervals([sentence([], ["cat"]), sentence([], [])], { resamples: 50 });
    expect(c.CHAIRs).toEqual([0, 0]);
    expect(c.CHAIRi).toBeNull();
  });
});

describe("score chair prints the intervals", () => {
  it("adds them to --json next to chair.py's point estimates", async () => {
    const d = tmp();
    writeFileSync(join(d, "ann.jsonl"), '{"image_id": 1, "objects": ["dog"]}\n{"image_id": 2, "objects": ["cat"]}\n');
    writeFileSync(join(d, "ans.jsonl"), '{"question_id": 1, "text": "A dog and a cat."}\n{"question_id": 2, "text": "A cat."}\n');
    const cli = join(REPO_ROOT, "dist", "src", "cli", "main.js");
    const files = ["--answers", join(d, "ans.jsonl"), "--annotations", join(d, "ann.jsonl")];
    const args = [cli, "score", "chair", ...files, "--resamples", "300", "--seed", "5"];
    const r = await runNode([...args, "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    // caption 1: dog ✓ cat ✗; caption 2: cat ✓ → CHAIR_s 1/2, CHAIR_i 1/3 (unchanged point estimates)
    expect(j.CHAIRs).toBeCloseTo(1 / 2, 12);
    expect(j.CHAIRi).toBeCloseTo(1 / 3, 12);
    expect(j.intervals).toMatchObject({ resamples: 300, seed: 5, level: 0.95, CHAIRs: [0, 1] });
    const text = await runNode(args);
    expect(text.stdout).toMatch(/95 % bootstrap intervals \(300 caption resamples, seed 5\)/);
  });
});
