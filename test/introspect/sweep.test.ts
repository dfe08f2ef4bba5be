// Sweeps on the tiny-56 fixture model with the real LLaVA tokenizer: an intervention in no layer has
// no effect, batching does not change the numbers, a cell equals a direct intervened forward, and the
// result files are reproducible from the seed.
import { afterAll, beforeAll, expect, test } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeFixtures } from "../helpers/fixtures.js";
import { initBackend } from "../../src/backend.js";
import { loadLlava, type Llava } from "../../src/api.js";
import { ModelSource } from "../../src/generate/source.js";
import { makeInterventionHook } from "../../src/causal/counterfactual.js";
import { encodePrompt } from "../../src/text/index.js";
import { preparePrompt } from "../../src/introspect/session.js";
import { runSweep, type SweepQuestion, type SweepSettings } from "../../src/introspect/sweep.js";
import { klDivergence, logSoftmax, yesNoIds } from "../../src/introspect/sweep-stats.js";
import { summarize, writeSweep, type SweepReport } from "../../src/introspect/sweep-report.js";
import { loadPopeQuestions } from "../../src/eval/pope-data.js";

describeFixtures("causal-effect sweep", (fixtures) => {
  let llava: Llava;
  let dir: string;
  let questions: SweepQuestion[];
  const base: SweepSettings = {
    modules: ["vision", "text"],
    types: ["uniform", "random"],
    draws: 2,
    seed: 7,
    batch: 8,
    template: "llava_v1",
    suffix: " Please answer this question with one word.",
    mode: "crop",
    groups: { text: [[], [0], [1]], vision: [[], [1]] },
  };
  beforeAll(async () => {
    await initBackend("cpu");
    llava = await loadLlava(join(fixtures, "llava-tiny-56", "model-f32"), { tokenizerDir: join(fixtures, "tokenizer") });
    dir = mkdtempSync(join(tmpdir(), "causalmm-sweep-"));
    const file = join(dir, "pope.jsonl");
    writeFileSync(
      file,
      [
        { question_id: 1, image: "chelsea.png", text: "Is there a cat in the image?", label: "yes" },
        { question_id: 2, image: "coffee.png", text: "Is there a cup in the image?", label: "yes" },
        { question_id: 3, image: "chelsea.png", text: "Is there a dog in the image?", label: "no" },
      ]
        .map((q) => JSON.stringify(q))
        .join("\n") + "\n",
    );
    questions = loadPopeQuestions(file, { imageFolder: join(fixtures, "preprocess") }).map((q) => ({
      id: q.questionId,
      image: q.image,
      text: q.question,
      label: q.label,
    }));
  });
  afterAll(() => {
    llava?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const report = async (s: SweepSettings): Promise<SweepReport> => {
    const res = await runSweep(llava, questions, s);
    return {
      format: "causalmm-sweep/1",
      settings: { ...s, bootstrap: 200, level: 0.95, model: "tiny-56" },
      yesNo: { ...res.yesNo, yesTokens: [], noTokens: [] },
      questions: res.results,
      cells: summarize(res.cells, res.results, 200, s.seed),
    };
  };

  let first: SweepReport;
  test("no layer → no effect; real interventions do something", async () => {
    first = await report(base);
    expect(first.questions.map((q) => q.id)).toEqual([1, 2, 3]);
    for (const c of first.cells) {
      const m = c.metrics;
      if (c.layers.length === 0) {
        expect(
          Math.abs(m.kl.mean) + Math.abs(m.dLogOdds.mean) + m.argmaxFlip.mean + m.yesNoFlip.mean,
          `${c.module} ${c.type} none`,
        ).toBeLessThanOrEqual(1e-6);
      } else {
        expect(m.kl.mean, `${c.module} ${c.type} ${c.label}`).toBeGreaterThan(1e-6);
        expect(m.kl.lo).toBeLessThanOrEqual(m.kl.mean);
        expect(m.kl.hi).toBeGreaterThanOrEqual(m.kl.mean);
      }
    }
  });

  test("same seed → identical files; another seed changes random cells only", async () => {
    const again = await report(base);
    const a = (await writeSweep(join(dir, "a"), first))[0];
    const b = (await writeSweep(join(dir, "b"), again))[0];
    expect(readFileSync(b, "utf8")).toBe(readFileSync(a, "utf8"));
    expect(readFileSync(join(dir, "a.csv"), "utf8").split("\n")[0]).toMatch(/^module,type,layers,n,kl_mean/);
    const other = await report({ ...base, seed: 8 });
    const kl = (r: SweepReport, type: string, module: string) =>
      r.cells.filter((c) => c.type === type && c.module === module && c.layers.length).map((c) => c.metrics.kl.mean);
    expect(kl(other, "uniform", "text")).toEqual(kl(first, "uniform", "text"));
    expect(kl(other, "random", "text")).not.toEqual(kl(first, "random", "text"));
  });

  test("batching and the shared trunk do not change the numbers; a cell equals a direct forward", async () => {
    const one = await report({ ...base, batch: 1, types: ["uniform"] });
    const cellsA = first.cells.filter((c) => c.type === "uniform");
    one.cells.forEach((c, i) => expect(Math.abs(c.metrics.kl.mean - cellsA[i].metrics.kl.mean)).toBeLessThanOrEqual(1e-5));
    // direct: text uniform at layer 1 for question 1, through ModelSource with the intervention hook
    const prep = await preparePrompt(llava, questions[0].image, questions[0].text, { suffix: base.suffix });
    const ids = encodePrompt(llava.tokenizer, "llava_v1", questions[0].text, { suffix: base.suffix });
    expect(prep.ids).toEqual(ids);
    const run = (hook?: ReturnType<typeof makeInterventionHook>) => {
      const src = new ModelSource(llava.model, [ids], { pixels: prep.pixels, hook });
      const out = logSoftmax(src.prefill()[0]);
      src.dispose();
      return out;
    };
    const factual = run();
    for (const module of ["text", "vision"] as const) {
      const kl = klDivergence(factual, run(makeInterventionHook([{ module, layers: [1], type: "uniform" }])));
      const k = first.cells.findIndex((c) => c.module === module && c.type === "uniform" && c.label === "1");
      expect(Math.abs(first.questions[0].effects[k].kl - kl), module).toBeLessThanOrEqual(1e-5);
    }
    // random draws: the row-wise hook gives what makeInterventionHook gives (seed 7 = draw 0)
    const klRandom = klDivergence(factual, run(makeInterventionHook([{ module: "text", layers: [0], type: "random", seed: 7 }])));
    const klRandom2 = klDivergence(factual, run(makeInterventionHook([{ module: "text", layers: [0], type: "random", seed: 8 }])));
    prep.pixels.dispose();
    const kr = first.cells.findIndex((c) => c.module === "text" && c.type === "random" && c.label === "0");
    expect(Math.abs(first.questions[0].effects[kr].kl - (klRandom + klRandom2) / 2)).toBeLessThanOrEqual(1e-5);
    const yn = yesNoIds(llava.tokenizer, llava.model.config.text.vocabSize);
    expect(yn.yes.map((id) => llava.tokenizer.idToToken(id))).toContain("▁Yes");
    expect(yn.no.map((id) => llava.tokenizer.idToToken(id))).toContain("▁No");
  });
});
