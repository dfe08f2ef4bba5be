// The main job: a synthetic POPE evaluation of the embedded lab model with regular decoding, greedy,
// the baselines and the CausalMM variants, a results table per split, and the attention heatmap and
// HTML explorer of one hallucinated answer. Everything goes through the same tools a user runs.
import { writeFileSync } from "node:fs";
import { makeDirs } from "../util/files.js";
import { join } from "node:path";
import type { Llava, AskOptions } from "../api.js";
import { makeLab } from "./make.js";
import { loadPopeQuestions } from "../eval/pope-data.js";
import { runEval, type Progress as EvalProgress } from "../eval/runner.js";
import { answersById, readAnswers } from "../eval/answers-file.js";
import { pairAnswers, scorePope, type PopeMetrics } from "../eval/pope-score.js";
import { ModelAnswerer } from "../eval/model-answerer.js";
import type { EvalItem } from "../eval/answerer.js";
import { ONE_WORD_SUFFIX } from "../text/index.js";
import { idKey, writeFileAtomic } from "../eval/jsonl.js";

export interface DemoConfig {
  name: string;
  opts: AskOptions;
}

/**
 * PAI with its README's α and γ; its layers 2–32 of LLaVA-7B skip the first two of 32, which on the
 * lab's two-layer LLM would leave none, so here both layers are amplified.
 */
export const LAB_PAI = { baseline: "pai", paiStartLayer: 0, paiAlpha: 0.2, gamma: 1.1 } as const;

/** What the table compares; CausalMM variants decode greedily so differences come from the contrast. */
export function demoConfigs(seed: number): DemoConfig[] {
  return [
    { name: "regular sampling", opts: { temperature: 1, topP: 1, seed } },
    { name: "greedy", opts: {} },
    { name: "VCD (noised image)", opts: { causal: { baseline: "vcd", seed } } },
    { name: "no-image contrast", opts: { causal: { baseline: "noimage" } } },
    { name: "PAI (α 0.2, γ 1.1, layers 0-1)", opts: { causal: LAB_PAI } },
    { name: "cutoff only (γ=0, ε=0.6)", opts: { causal: { cf: ["vision:uniform@sel"], gamma: 0, epsilon: 0.6 } } },
    { name: "CausalMM vision", opts: { causal: { cf: ["vision:uniform@sel"] } } },
    { name: "CausalMM language", opts: { causal: { cf: ["text:uniform@all"] } } },
    { name: "CausalMM multimodal", opts: { causal: { cf: ["both"] } } },
    { name: "CausalMM official code", opts: { causal: { preset: "official" }, temperature: 1, topP: 1, seed: 55 } },
  ];
}

export interface DemoOptions {
  out: string;
  /** Questions per POPE split. */
  perSplit: number;
  /** Seed of the held-out scenes (the lab model trains on seed 0) and of sampling. */
  seed: number;
  configs?: DemoConfig[];
  log?: (line: string) => void;
  /** Answering progress of each config (the CLI turns it into a progress line). */
  onProgress?: (config: string, p: EvalProgress) => void;
}

export interface DemoRow {
  config: string;
  split: string;
  metrics: PopeMetrics;
  /** The answers file, relative to the output folder (score it against DEMO_QUESTIONS_FILE). */
  answers: string;
}

/** The question file every answers file of a demo refers to (all three splits, labels, `category` = split). */
export const DEMO_QUESTIONS_FILE = "questions.jsonl";

/** The questions as a POPE file `causalmm score pope` (and `eval pope --image-folder OUT/data/images`) reads. */
function writeDemoQuestions(out: string, items: EvalItem[]): string {
  const file = join(out, DEMO_QUESTIONS_FILE);
  const lines = items.map((it) =>
    JSON.stringify({ question_id: it.questionId, image: it.imageFile, text: it.question, label: it.label, category: it.category }),
  );
  writeFileAtomic(file, lines.join("\n") + "\n");
  return file;
}

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");

/** Held-out scenes from the lab world (priors off in the test scenes, as in training data generation). */
export async function demoQuestions(out: string, perSplit: number, seed: number): Promise<EvalItem[]> {
  const data = join(out, "data");
  await makeLab({ out: data, seed, train: 300, test: Math.ceil(perSplit / 3) + 4 });
  return ["random", "popular", "adversarial"].flatMap((split) =>
    loadPopeQuestions(join(data, "pope", `lab_pope_${split}.jsonl`), { imageFolder: join(data, "images"), requireLabels: true })
      .slice(0, perSplit)
      .map((it) => ({ ...it, questionId: `${split}-${it.questionId}`, category: split })),
  );
}

export async function runDemo(
  llava: Llava,
  o: DemoOptions,
): Promise<{ rows: DemoRow[]; items: EvalItem[]; answers: Map<string, Map<string, string>> }> {
  makeDirs(join(o.out, "answers"), "the demo's answers files");
  const items = await demoQuestions(o.out, o.perSplit, o.seed);
  writeDemoQuestions(o.out, items);
  const rows: DemoRow[] = [];
  const answers = new Map<string, Map<string, string>>();
  for (const cfg of o.configs ?? demoConfigs(o.seed)) {
    const t0 = performance.now();
    const answersRel = join("answers", `${slug(cfg.name)}.jsonl`);
    const answersFile = join(o.out, answersRel);
    const answerer = new ModelAnswerer(llava, { suffix: ONE_WORD_SUFFIX, maxNewTokens: 3, ...cfg.opts });
    const onProgress = o.onProgress && ((p: EvalProgress) => o.onProgress!(cfg.name, p));
    await runEval({ benchmark: "pope", items, source: "causalmm demo", answerer, answersFile, overwrite: true, batch: 8, onProgress });
    const stored = answersById(readAnswers(answersFile));
    answers.set(cfg.name, new Map([...stored].map(([id, a]) => [id, a.text])));
    const report = scorePope(pairAnswers(items, stored).pairs);
    for (const s of report.splits) rows.push({ config: cfg.name, split: s.split, metrics: s.rules.vcd, answers: answersRel });
    o.log?.(`${cfg.name}: ${items.length} questions in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  writeFileSync(join(o.out, "results.json"), JSON.stringify(rows, null, 2) + "\n");
  return { rows, items, answers };
}

/** The results as a table: one line per config, accuracy / F1 / yes-ratio per split. */
export function demoTable(rows: DemoRow[]): string {
  const splits = [...new Set(rows.map((r) => r.split))];
  const configs = [...new Set(rows.map((r) => r.config))];
  const head = ["decoding", ...splits.map((s) => `${s} acc / F1 / yes`)];
  const body = configs.map((c) => [
    c,
    ...splits.map((s) => {
      const m = rows.find((r) => r.config === c && r.split === s)!.metrics;
      return `${(100 * m.accuracy).toFixed(1)} / ${(100 * m.f1).toFixed(1)} / ${m.yesRatio.toFixed(2)}`;
    }),
  ]);
  const widths = head.map((_, i) => Math.max(...[head, ...body].map((r) => r[i].length)));
  const line = (r: string[]) => "| " + r.map((x, i) => x.padEnd(widths[i])).join(" | ") + " |";
  return [line(head), "| " + widths.map((w) => "-".repeat(w)).join(" | ") + " |", ...body.map(line)].join("\n");
}

/** An adversarial "no" question the greedy model answered "yes" (a planted-prior hallucination). */
export function hallucinatedExample(items: EvalItem[], answers: Map<string, Map<string, string>>): EvalItem | undefined {
  const greedy = answers.get("greedy");
  const says = (t: string | undefined) => (t ?? "").toLowerCase().includes("yes");
  const pool = items.filter((it) => it.label === "no" && says(greedy?.get(idKey(it.questionId))));
  return pool.find((it) => it.category === "adversarial") ?? pool[0];
}
