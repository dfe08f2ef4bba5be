// `causalmm score pope|mme|compare`: the official scoring rules, reimplemented (see docs/eval.md).
import { basename } from "node:path";
import type { ParsedArgs } from "../args.js";
import { defineCommand, listOpt, need, numOpt, str } from "../args.js";
import { answersById, readAnswers } from "../../eval/answers-file.js";
import { comparePope } from "../../eval/compare.js";
import { formatComparison, formatMme, formatPope } from "../../eval/format.js";
import { idKey } from "../../eval/jsonl.js";
import { loadMmeQuestions, mmeRows, readMmeResults, writeMmeResults } from "../../eval/mme-data.js";
import { scoreMme } from "../../eval/mme-score.js";
import { loadPopeQuestions } from "../../eval/pope-data.js";
import { CHAIR_OPTIONS, scoreChairCmd } from "./eval-chair.js";
import { scoreVlindCmd, VLIND_OPTIONS, VLIND_SCORE_OPTIONS } from "./eval-vlind.js";
import { pairAnswers, POPE_RULES, scorePope, type PopeRule, type Scored } from "../../eval/pope-score.js";

const USAGE = [
  "causalmm score pope --answers A.jsonl --questions Q.json [--labels-dir DIR] [--answers B.jsonl --questions Q2.json ...] [--json]",
  "       causalmm score chair --answers A.jsonl --annotations FILE [--annotations FILE2] [--synonyms FILE] " +
    "[--save OUT.json] [--resamples 1000 --seed 0] [--json]",
  "       causalmm score vlind (--answers A.jsonl --data data.json | --pred-file data_pred.json --model-id ID) [--vote-thres 2]",
  "                            [--style all|photorealistic|illustration|cartoon] [--json]",
  "       causalmm score mme (--results-dir DIR | --answers A.jsonl --mme-root DIR [--write-results DIR]) [--json]",
  "       causalmm score compare A.jsonl B.jsonl ... --labels Q.json [--labels-dir DIR] [--rule vcd|llava|opera] [--resamples 1000] [--seed 0] [--json]",
].join("\n");

function questionFiles(args: ParsedArgs): string[] {
  return [...listOpt(args, "questions"), ...listOpt(args, "labels")];
}

function out(args: ParsedArgs, json: unknown, text: string): void {
  process.stdout.write((args.opts.json ? JSON.stringify(json, null, 2) : text) + "\n");
}

/** Labelled questions paired with one answers file. */
function scoredPairs(answers: string, questions: string, args: ParsedArgs): { pairs: Scored[]; missing: number } {
  const items = loadPopeQuestions(questions, { labelsDir: str(args, "labels-dir"), requireLabels: true });
  return pairAnswers(items, answersById(readAnswers(answers)), Boolean(args.opts["allow-missing"]));
}

function scorePopeCmd(args: ParsedArgs): number {
  const answers = listOpt(args, "answers");
  const questions = questionFiles(args);
  if (answers.length === 0 || answers.length !== questions.length) {
    throw new Error(`score pope: give --answers and --questions in pairs (got ${answers.length} and ${questions.length})`);
  }
  const all: Scored[] = [];
  let missing = 0;
  answers.forEach((a, i) => {
    const r = scoredPairs(a, questions[i], args);
    all.push(...r.pairs);
    missing += r.missing;
  });
  const report = scorePope(all, missing);
  out(args, report, formatPope(report));
  return 0;
}

function scoreMmeCmd(args: ParsedArgs): number {
  const resultsDir = str(args, "results-dir");
  let rows;
  if (resultsDir) {
    rows = readMmeResults(resultsDir);
  } else {
    const items = loadMmeQuestions(need(args, "mme-root", "score mme"));
    const byId = answersById(readAnswers(need(args, "answers", "score mme")));
    rows = mmeRows(items, (it) => byId.get(idKey(it.questionId))?.text);
    const dir = str(args, "write-results");
    if (dir) writeMmeResults(dir, rows);
  }
  const report = scoreMme(rows);
  out(args, report, formatMme(report));
  return 0;
}

function compareCmd(args: ParsedArgs, files: string[]): number {
  const questions = questionFiles(args);
  if (files.length < 1) throw new Error("score compare: give the answers files as arguments");
  if (questions.length !== 1) throw new Error("score compare: give exactly one --labels (or --questions) file");
  const rule = (str(args, "rule") ?? "vcd") as PopeRule;
  if (!POPE_RULES.includes(rule)) throw new Error(`score compare: --rule must be one of ${POPE_RULES.join(", ")}`);
  const names = files.map((f) => basename(f));
  const unique = new Set(names).size === names.length;
  const systems = files.map((f, i) => ({ name: unique ? names[i] : f, pairs: scoredPairs(f, questions[0], args).pairs }));
  const resamples = numOpt(args, "resamples") ?? 1000;
  if (!Number.isInteger(resamples) || resamples < 1) throw new Error("score compare: --resamples must be a positive integer");
  const seed = numOpt(args, "seed") ?? 0;
  const result = comparePope(systems, { rule, resamples, seed });
  const meta = {
    rule,
    resamples,
    seed,
    level: 0.95,
    test: "exact McNemar on per-question correctness; paired percentile bootstrap for differences",
  };
  out(args, { ...meta, splits: result }, `rule ${rule}, ${resamples} bootstrap resamples (seed ${seed})\n\n${formatComparison(result)}`);
  return 0;
}

async function run(args: ParsedArgs): Promise<number> {
  const [what, ...rest] = args.positional;
  if (what === "compare") return compareCmd(args, rest);
  if (rest.length) throw new Error(`score: unexpected arguments ${rest.join(" ")}`);
  if (what === "pope") return scorePopeCmd(args);
  if (what === "mme") return scoreMmeCmd(args);
  if (what === "chair") return scoreChairCmd(args, (json, text) => out(args, json, text));
  if (what === "vlind") return scoreVlindCmd(args, (json, text) => out(args, json, text));
  throw new Error(`score: first argument must be pope, mme, chair, vlind or compare (got ${what ?? "nothing"})\nusage: ${USAGE}`);
}

export const scoreCommand = defineCommand({
  name: "score",
  summary: "score answers: POPE (VCD/LLaVA/OPERA rules), MME (eval_tool rule), CHAIR, VLind-Bench, compare files with CIs",
  usage: USAGE,
  options: [
    { name: "answers", type: "list", help: "answers JSONL (pope: one per --questions file)" },
    { name: "questions", type: "list", help: "POPE question file with labels (VCD form) or llava_pope_test.jsonl + --labels-dir" },
    { name: "labels", type: "list", help: "same as --questions" },
    { name: "labels-dir", type: "string", help: "folder with <dataset>_pope_<category>.json label files (LLaVA form)" },
    { name: "allow-missing", type: "boolean", help: "pope: score only the answered questions instead of failing" },
    { name: "mme-root", type: "string", help: "mme: MME_Benchmark_release_version folder (with --answers)" },
    { name: "results-dir", type: "string", help: "mme: an eval_tool results folder of <subtask>.txt files to score" },
    { name: "write-results", type: "string", help: "mme: also write the eval_tool files for --answers here" },
    { name: "rule", type: "string", help: "compare: POPE rule", choices: POPE_RULES, default: "vcd" },
    { name: "resamples", type: "number", help: "compare, chair: bootstrap resamples", default: 1000 },
    { name: "seed", type: "number", help: "compare, chair: bootstrap seed", default: 0 },
    ...CHAIR_OPTIONS,
    ...VLIND_OPTIONS,
    ...VLIND_SCORE_OPTIONS,
    { name: "image-id-key", type: "string", help: "chair: image id field of the captions file (default: image_id, else question_id)" },
    { name: "caption-key", type: "string", help: "chair: caption field (default: caption, else text)" },
    { name: "save", type: "string", help: "chair: write per-caption results (chair.py's --save_path JSON) here" },
    { name: "json", type: "boolean", help: "print JSON instead of tables" },
  ],
  run,
});
