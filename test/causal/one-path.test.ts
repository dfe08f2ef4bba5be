// One path from options to a LogitsSource (src/causal/decoding.ts): on the shipped lab model, the plan
// `ask` records in its settings is the plan its source runs and the eval answerer, given the same options,
// decodes what `ask` decodes under the same plan; the explorer's CausalMM scores are ask's.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { describeFixtures } from "../helpers/fixtures.js";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadLlava, Llava, type AskOptions, type SourceRequest } from "../../src/api.js";
import { EMBEDDED_MODEL_DIR } from "../../src/paths.js";
import { CausalSource } from "../../src/causal/source.js";
import { describePlan, type CausalOptions } from "../../src/causal/presets.js";
import type { LogitsSource } from "../../src/generate/source.js";
import { ModelSource } from "../../src/generate/source.js";
import { ModelAnswerer } from "../../src/eval/model-answerer.js";
import { loadPopeQuestions } from "../../src/eval/pope-data.js";
import type { EvalItem } from "../../src/eval/answerer.js";
import { exploreAnswer } from "../../src/introspect/explore.js";
import { topK } from "../../src/introspect/session.js";
import { makeLab } from "../../src/lab/make.js";
import { CAPTION_QUESTION } from "../../src/lab/pope.js";
import { ONE_WORD_SUFFIX } from "../../src/text/index.js";

/** Keeps every source the API builds, the plan it was asked to run and its score rows (batch row 0). */
class Watched extends Llava {
  built: { req: SourceRequest; source: LogitsSource; scores: Float32Array[] }[] = [];
  protected override createSource(req: SourceRequest): LogitsSource {
    const source = super.createSource(req);
    const scores: Float32Array[] = [];
    this.built.push({ req, source, scores });
    const keep = (rows: Float32Array[]) => {
      scores.push(Float32Array.from(rows[0]));
      return rows;
    };
    return {
      vocabSize: source.vocabSize,
      batchSize: source.batchSize,
      stats: source.stats,
      prefill: () => keep(source.prefill()),
      step: (t) => keep(source.step(t)),
      dispose: () => source.dispose(),
    };
  }
}

const CASES: (CausalOptions | undefined)[] = [
  undefined,
  { cf: ["vision:uniform@sel"] },
  { cf: ["both"], gamma: 0.5 },
  { baseline: "noimage" },
  { baseline: "pai", paiStartLayer: 0 },
  { preset: "official" },
];

describe.skipIf(!existsSync(join(EMBEDDED_MODEL_DIR, "model.safetensors")))("one path from options to a LogitsSource (lab model)", () => {
  let llava: Watched;
  let items: EvalItem[];
  beforeAll(async () => {
    const base = await loadLlava(EMBEDDED_MODEL_DIR, { backend: "wasm" });
    llava = new Watched(base.dir, base.model, base.tokenizer, base.processor, base.generation, base.loadMs);
    const data = mkdtempSync(join(tmpdir(), "decoding-lab-"));
    await makeLab({ out: data, seed: 0, train: 0, test: 2 });
    const pope = loadPopeQuestions(join(data, "pope", "lab_pope_adversarial.jsonl"), { imageFolder: join(data, "images") })[0];
    items = [pope, { ...pope, questionId: "caption", question: CAPTION_QUESTION }];
  });
  afterAll(() => llava?.dispose());

  const opts = (causal: CausalOptions | undefined): AskOptions => ({ suffix: ONE_WORD_SUFFIX, maxNewTokens: 3, causal });

  test("the plan in ask's settings is the plan its source runs", async () => {
    for (const causal of CASES) {
      const res = await llava.ask(items[0].image, items[0].question, opts(causal));
      const { req, source } = llava.built.at(-1)!;
      if (causal === undefined) {
        expect(req.plan).toBeNull();
        expect(source).toBeInstanceOf(ModelSource);
        expect(res.settings.causal).toBeUndefined();
        continue;
      }
      expect(source).toBeInstanceOf(CausalSource);
      expect((source as CausalSource).plan).toBe(req.plan);
      expect(res.settings.causal?.plan, JSON.stringify(causal)).toEqual(describePlan(req.plan!));
    }
  });

  test("the eval answerer decodes what ask decodes, with the same plan", async () => {
    for (const causal of CASES) {
      const o = opts(causal);
      const answerer = new ModelAnswerer(llava, o);
      const answers = await answerer.answer(items);
      for (const [i, it] of items.entries()) {
        const res = await llava.ask(it.image, it.question, o);
        expect(answers[i].text, `${JSON.stringify(causal)} q${i}`).toBe(res.text.trim());
        if (causal) expect(answerer.settings.plan).toEqual(res.settings.causal?.plan);
      }
    }
  });
});

// The lab model is too sure of its answers for a score table to show γ (the cutoff leaves one token), so
// the explorer is compared on the tiny-56 fixture model, whose scores are flat.
describeFixtures("the explorer's CausalMM source is ask's (tiny-56)", (fixtures) => {
  let llava: Watched;
  const image = () => join(fixtures, "preprocess", "coffee.png");
  beforeAll(async () => {
    const dir = join(fixtures, "llava-tiny-56", "model-f32");
    const base = await loadLlava(dir, { backend: "wasm", tokenizerDir: join(fixtures, "tokenizer") });
    llava = new Watched(base.dir, base.model, base.tokenizer, base.processor, base.generation, base.loadMs);
  });
  afterAll(() => llava?.dispose());

  test("same tokens, and its CausalMM top-k column is the top-k of ask's scores", async () => {
    const question = "What is in the image?";
    for (const [cf, gamma] of [
      ["vision:uniform@sel", undefined],
      ["both", 0.5],
      ["text:random@0-1", 3],
    ] as const) {
      const res = await llava.ask(image(), question, { maxNewTokens: 4, causal: { cf: [cf], gamma } });
      const asked = llava.built.at(-1)!.scores;
      const select = { text: { layers: [0] } };
      const { rec, topk } = await exploreAnswer(llava, { image: image(), question, cf, gamma, maxNewTokens: 4, select });
      expect(rec.meta.answer.ids, cf).toEqual(res.tokens);
      const table = (row: Float32Array) => topK(row, 5, llava.tokenizer).map(({ token, p }) => ({ token, p }));
      const column = topk!.steps.map((columns) => columns.at(-1)!);
      expect(
        column.some((rows) => rows.length > 1),
        "the cutoff leaves several tokens",
      ).toBe(true);
      // onStep makes the source compute every branch's logits on their own: float rounding, not another plan
      const expected = asked.slice(0, column.length).map(table);
      expect(
        column.map((rows) => rows.map((r) => r.token)),
        cf,
      ).toEqual(expected.map((rows) => rows.map((r) => r.token)));
      column.forEach((rows, step) => rows.forEach((r, j) => expect(r.p, `${cf} step ${step}`).toBeCloseTo(expected[step][j].p, 5)));
    }
  });
});
