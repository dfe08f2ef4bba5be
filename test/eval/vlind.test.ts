// VLind-Bench reader and scorer on a hand-made set in the release's data.json format (vlind-fixture.ts).
// Every expected score is derived by hand in the comments, following eval/score_pipeline.py of
// klee972/VLind-Bench; none is computed by the code under test.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readReleasePredictions, readVlindAnswers } from "../../src/eval/vlind-answers.js";
import { contextPrompt, loadVlindData, statementPrompt, trueOrFalse, vlindItems } from "../../src/eval/vlind-data.js";
import { pyFixed1, releaseLine } from "../../src/eval/vlind-format.js";
import { scoreVlind } from "../../src/eval/vlind-score.js";
import { tmp } from "./helpers.js";
import { releasePredictions, VLIND_DATA, writeVlindAnswers, writeVlindData } from "./vlind-fixture.js";

const ITEMS = { imageDir: "/d/images/counterfactual", factualImageDir: "/d/images/factual", checkImages: false };

function fixture() {
  const dir = tmp("vlind-");
  const data = writeVlindData(dir);
  const answers = join(dir, "answers.jsonl");
  writeVlindAnswers(answers);
  return { dir, data, answers };
}

describe("VLind-Bench prompts and probes (instructblip_eval.py / gpt4o_eval.py)", () => {
  it("words the prompts as the release does", () => {
    expect(statementPrompt("S.", "commonsense_TF_reversed")).toBe(
      "Only respond in True or False.\nStatement: S.\nBased on common sense, is the given statement true or false?",
    );
    expect(statementPrompt("S.", "simple_TF_reversed")).toBe(
      "Only respond in True or False.\nStatement: S.\nBased on the image, is the given statement true or false?",
    );
    expect(contextPrompt("C", "S.", "simple_TF_reversed")).toBe(
      "Only respond in True or False.\nContext: C\nStatement: S.\nBased on the context, is the given statement true or false?",
    );
    expect(statementPrompt("S.", "commonsense_TF")).toBe(
      "Statement: S.\nBased on the common sense, is the given statement true or false? Only respond in True or False.",
    );
    expect(statementPrompt("S.", "simple_TF")).toBe(
      "Statement: S.\nBased on the image, is the given statement true or false? Only respond in True or False.",
    );
    expect(statementPrompt("S.", "detailed_TF")).toBe(
      "Statement: S.\nBased on the image, is the given statement true or false? " +
        "Forget real-world common sense and just follow the information provided in the image. Only respond in True or False.",
    );
    expect(contextPrompt("C", "S.", "detailed_TF")).toBe(
      "Context: C\nStatement: S.\n" +
        "Based on the context, is the given statement true or false? " +
        "Forget real-world common sense and just follow the information provided in the context. Only respond in True or False.",
    );
  });

  it("asks six probes per instance with a good image and two per good image, on the release's image paths", () => {
    const items = vlindItems(loadVlindData(fixture().data), ITEMS);
    // animal/0: good 0, 1, 4 → 6 + 6; animal/1: no vote ≥ 2 → skipped; weather/0: good 8, 9 → 6 + 4; weather/3: good 2 → 6 + 2
    expect(items).toHaveLength(30);
    const a0 = items.filter((it) => String(it.questionId).startsWith("animal/0/"));
    const probes = ["a1", "a2", "b1", "b2", "c1", "c2", "d1/0", "d2/0", "d1/1", "d2/1", "d1/4", "d2/4"];
    expect(a0.map((it) => it.questionId)).toEqual(probes.map((p) => `animal/0/${p}`));
    expect(a0.map((it) => it.label)).toEqual(probes.map((_, i) => (i % 2 ? "False" : "True")));
    // a: factual/<concept>/<context_id>_<factual_context>/0.jpg, the false (common-sense) statement expected True
    expect(a0[0].image).toBe("/d/images/factual/animal/0_Swans are white/0.jpg");
    expect(a0[0].question).toBe(
      "Only respond in True or False.\nStatement: The swan is white.\nBased on common sense, is the given statement true or false?",
    );
    // b, c: the best image (best_img_id 1); d: each good image
    expect(a0[2].image).toBe("/d/images/counterfactual/animal/0_Swans are black/1.jpg");
    expect(a0[3].question).toBe(
      "Only respond in True or False.\nStatement: There is a dog in the given image.\n" +
        "Based on the image, is the given statement true or false?",
    );
    expect(a0[4].question).toBe(
      "Only respond in True or False.\nContext: Swans are black\nStatement: The swan is black.\n" +
        "Based on the context, is the given statement true or false?",
    );
    expect(a0[10].image).toBe("/d/images/counterfactual/animal/0_Swans are black/4.jpg");
    expect(a0[11].question).toBe(
      "Only respond in True or False.\nStatement: The swan is white.\nBased on the image, is the given statement true or false?",
    );
    // gpt4o wording: d uses detailed_TF
    const g = vlindItems(loadVlindData(fixture().data), { ...ITEMS, prompts: "gpt4o" });
    expect(g[6].question).toBe(statementPrompt("The swan is black.", "detailed_TF"));
    // a higher threshold drops images and instances: votes ≥ 3 → animal/0 keeps 0, weather/0 keeps 9, weather/3 none
    expect(vlindItems(loadVlindData(fixture().data), { ...ITEMS, voteThreshold: 3 })).toHaveLength(8 + 8);
  });

  it("reads answers as infer_true_or_false does: the first word that is true or false", () => {
    expect(trueOrFalse("True.")).toBe("True");
    expect(trueOrFalse("The statement is false, because")).toBe("False");
    expect(trueOrFalse("False\nTrue")).toBe("False");
    expect(trueOrFalse("Untrue")).toBe("NA");
    expect(trueOrFalse("true/false")).toBe("NA"); // one word "true/false": neither
    expect(trueOrFalse("  TRUE")).toBe("True");
  });
});

describe("VLind-Bench pipeline scores (score_pipeline.py)", () => {
  it("conditions each stage on the earlier ones, as derived by hand", () => {
    const f = fixture();
    const r = scoreVlind(loadVlindData(f.data), readVlindAnswers(f.answers));
    // N = 3 instances (animal/1 has no good image); images 3 + 2 + 1 = 6.
    // a passes: animal/0, weather/3 → S_CK 2/3. b passes: animal/0, weather/0 → S_VP 2/3.
    // c passes in all 3 (CB accuracy 3/3); c_pass needs a too: animal/0, weather/3 → S_CB 2/2.
    // bc_pass: animal/0 only. d per image: animal/0 [✓ ✗ ✓] = 2/3, weather/0 [✓ ✗] = 1/2, weather/3 [✓] = 1.
    // S_LP = (2/3) / 1; LP accuracy = (2/3 + 1/2 + 1) / 3 = 13/18; S_LP micro = 2 / (1 · 3).
    expect(r.total.instances).toBe(3);
    expect(r.total.images).toBe(6);
    expect(r.total.CK).toBeCloseTo(2 / 3, 12);
    expect(r.total.VP).toBeCloseTo(2 / 3, 12);
    expect(r.total.CB).toBeCloseTo(1, 12);
    expect(r.total.LP).toBeCloseTo(2 / 3, 12);
    expect(r.total.CBaccuracy).toBeCloseTo(1, 12);
    expect(r.total.LPaccuracy).toBeCloseTo(13 / 18, 12);
    expect(r.total.LPmicro).toBeCloseTo(2 / 3, 12);
    // the release's printed line: 66.7 & 66.7 & 100.0 & 66.7 & 100.0 & 72.2 &
    expect(releaseLine(r.total)).toBe("66.7 & 66.7 & 100.0 & 66.7 & 100.0 & 72.2 & ");
    // per concept: weather has a_pass 1 (weather/3), c_pass 1 → S_CB 1; bc_pass 0 → S_LP 0 (the release's 0);
    // LP accuracy (1/2 + 1) / 2 = 3/4
    expect(r.concepts.weather).toMatchObject({ instances: 2, CK: 0.5, VP: 0.5, CB: 1, LP: 0, CBaccuracy: 1, LPaccuracy: 0.75 });
    expect(r.concepts.animal).toMatchObject({ instances: 1, CK: 1, VP: 1, CB: 1, CBaccuracy: 1 });
  });

  it("follows --vote-thres and --style", () => {
    const f = fixture();
    const data = loadVlindData(f.data);
    const answers = readVlindAnswers(f.answers);
    // votes ≥ 3: animal/0 {0}, weather/0 {9}; N = 2. a: animal/0 → 1/2; b: both → 1; c_pass: animal/0 → 1/1;
    // bc: animal/0, d on 0 ✓ → S_LP 1/1; CB 2/2; LP accuracy (1 + 0) / 2 (weather/0's image 9 is NA/False)
    expect(releaseLine(scoreVlind(data, answers, { voteThreshold: 3 }).total)).toBe("50.0 & 100.0 & 100.0 & 100.0 & 100.0 & 50.0 & ");
    // photorealistic (ids 0-3): animal/0 {0, 1}, weather/3 {2}; weather/0 has none → N = 2. a 2/2, b 1/2,
    // c_pass 2 of a_pass 2, bc: animal/0 with d [✓ ✗] → S_LP (1/2)/1; CB 2/2; LP accuracy (1/2 + 1)/2
    expect(releaseLine(scoreVlind(data, answers, { style: "photorealistic" }).total)).toBe("100.0 & 50.0 & 100.0 & 50.0 & 100.0 & 75.0 & ");
    // cartoon (8-11): weather/0 only. a ✗ → S_CK 0, S_CB 0 (a_pass 0: the release's 0), S_LP 0; b ✓; c ✓;
    // LP accuracy 1/2
    expect(releaseLine(scoreVlind(data, answers, { style: "cartoon" }).total)).toBe("0.0 & 100.0 & 0.0 & 0.0 & 100.0 & 50.0 & ");
    expect(() => scoreVlind(data, answers, { style: "sketch" })).toThrow(/unknown VLind-Bench style 'sketch'/);
  });

  it("scores the release's own prediction file the same way", () => {
    const dir = tmp("vlind-pred-");
    const pred = join(dir, "data_lab.json");
    writeFileSync(pred, JSON.stringify(releasePredictions("lab"), null, 4));
    const { data, answer } = readReleasePredictions(pred, "lab");
    expect(releaseLine(scoreVlind(data, answer).total)).toBe("66.7 & 66.7 & 100.0 & 66.7 & 100.0 & 72.2 & ");
    expect(() => readReleasePredictions(pred, "gpt4o")).toThrow(/no "gpt4o_pred_\*" predictions/);
  });

  it("rounds like Python's .1f (ties to even)", () => {
    // 49/400 = 12.25 % exactly: Python prints 12.2 where toFixed gives 12.3; 12.75 → 12.8 in both
    expect(pyFixed1(12.25)).toBe("12.2");
    expect(pyFixed1(12.75)).toBe("12.8");
    expect(pyFixed1((49 / 400) * 100)).toBe("12.2");
    expect(pyFixed1(0.15)).toBe("0.1"); // 0.1499999… in binary
    expect(pyFixed1(100)).toBe("100.0");
  });
});

describe("VLind-Bench input errors name the file and line", () => {
  const write = (text: string) => {
    const dir = tmp("vlind-bad-");
    writeFileSync(join(dir, "data.json"), text);
    return join(dir, "data.json");
  };
  const good = JSON.stringify(VLIND_DATA, null, 4);

  it("broken JSON: line and column", () => {
    const path = write(good.replace('"concept": "weather"', '"concept": "weather",,'));
    const line = good.split("\n").findIndex((l) => l.includes('"concept": "weather"')) + 1;
    expect(() => loadVlindData(path)).toThrow(new RegExp(`${path}:${line}:\\d+: broken JSON`));
  });

  it("a missing or mistyped field: the line where its instance starts", () => {
    const bad = structuredClone(VLIND_DATA) as Record<string, unknown>[];
    delete bad[2]["non-existent_noun"];
    const text = JSON.stringify(bad, null, 4);
    // in indent-4 JSON each instance starts on a line "    {"; the third such line is instance 2's
    const starts = text.split("\n").flatMap((l, i) => (l === "    {" ? [i + 1] : []));
    expect(() => loadVlindData(write(text))).toThrow(new RegExp(`data.json:${starts[2]}: missing field "non-existent_noun"`));
    bad[2]["non-existent_noun"] = "a car";
    (bad[1].aggregated_human_label_good_images as Record<string, unknown>)["0"] = "two";
    expect(() => loadVlindData(write(JSON.stringify(bad)))).toThrow(/data.json:1: the vote of image "0" is not a number/);
    expect(() => loadVlindData(write(JSON.stringify({ instances: VLIND_DATA })))).toThrow(/data.json: expected a JSON array/);
  });

  it("a repeated instance, a missing image, and answers that do not cover the probes", () => {
    const twice = write(JSON.stringify([VLIND_DATA[0], VLIND_DATA[0]], null, 1));
    expect(() => loadVlindData(twice)).toThrow(/data.json:\d+: concept "animal" context_id 0 appears twice \(first at .*data.json:2\)/);
    const f = fixture();
    const images = join(f.dir, "images");
    mkdirSync(join(images, "factual", "animal", "0_Swans are white"), { recursive: true });
    writeFileSync(join(images, "factual", "animal", "0_Swans are white", "0.jpg"), "");
    const dirs = { imageDir: join(images, "counterfactual"), factualImageDir: join(images, "factual") };
    const load = () => vlindItems(loadVlindData(f.data), dirs);
    expect(load).toThrow(/counterfactual\/animal\/0_Swans are black\/1.jpg: image of animal\/0\/b1 \(.*data.json:2\) not found/);
    writeFileSync(f.answers, JSON.stringify({ question_id: "animal/0/a1", prompt: "p", text: "True", model_id: "m", metadata: {} }) + "\n");
    const score = () => scoreVlind(loadVlindData(f.data), readVlindAnswers(f.answers), { source: f.answers });
    expect(score).toThrow(/answers.jsonl: 29 VLind-Bench probe\(s\) have no answer/);
  });
});
