// `causalmm eval pope|mme|chair|vlind`: answer a benchmark's questions into a resumable answers file.
import type { CommandSpec, OptionSpec, ParsedArgs } from "../args.js";
import { defineCommand, need, numOpt, str } from "../args.js";
import { PROGRESS_OPTIONS, ProgressBar, progressFlags } from "../progress.js";
import type { EvalItem } from "../../eval/answerer.js";
import { answersById, readAnswers } from "../../eval/answers-file.js";
import { idKey } from "../../eval/jsonl.js";
import { mergeChunks } from "../../eval/merge.js";
import { loadMmeQuestions, mmeRows, writeMmeResults } from "../../eval/mme-data.js";
import { loadLlavaMmeQuestions } from "../../eval/mme-llava.js";
import { loadPopeQuestions } from "../../eval/pope-data.js";
import { runEval, type RunSummary } from "../../eval/runner.js";
import { CHAIR_MAX_NEW_TOKENS } from "../../eval/chair-data.js";
import { CHAIR_OPTIONS, loadChairRun } from "./eval-chair.js";
import { loadVlindRun, VLIND_EVAL_OPTIONS, VLIND_OPTIONS } from "./eval-vlind.js";
import { VLIND_MAX_NEW_TOKENS } from "../../eval/vlind-data.js";
import { MODEL_ANSWERER, testAnswererFactory, type AnswererSpec } from "../eval-answerer.js";

const USAGE = [
  "causalmm eval pope --questions FILE --image-folder DIR --answers OUT.jsonl [--num-chunks N --chunk-idx I] [--batch B] [model options]",
  "       causalmm eval chair --image-folder DIR --annotations FILE [--annotations FILE2] --answers OUT.jsonl [--synonyms FILE] [...]",
  "       causalmm eval vlind --data data.json [--image-dir DIR --factual-image-dir DIR] [--vote-thres 2] [--vlind-prompts reversed|gpt4o]",
  "                           --answers OUT.jsonl [...]",
  "       causalmm eval mme --mme-root DIR --answers OUT.jsonl [--results-dir DIR] [...]",
  "       causalmm eval mme --question-file llava_mme.jsonl --image-folder MME_DIR --answers-file OUT.jsonl [...]",
  "       causalmm eval pope|mme <questions options> --answers MERGED.jsonl --merge CHUNK0.jsonl CHUNK1.jsonl ...",
].join("\n");

const BASE_OPTIONS: OptionSpec[] = [
  {
    name: "questions",
    type: "string",
    aliases: ["question-file"],
    help:
      "question file: POPE *_pope_<split>.json (VCD/CausalMM) or llava_pope_test.jsonl; " +
      "MME: LLaVA's llava_mme.jsonl (with --mme-root or --image-folder = the MME folder)",
  },
  {
    name: "image-folder",
    type: "string",
    help: "POPE: folder the image names are relative to (e.g. coco/val2014); MME with --questions: the MME_Benchmark_release_version folder",
  },
  { name: "mme-root", type: "string", help: "MME: the MME_Benchmark_release_version folder" },
  { name: "subtasks", type: "string", help: "MME: comma-separated subtasks to run (default: all found)" },
  { name: "results-dir", type: "string", help: "MME: where the eval_tool <subtask>.txt files go (default: <answers>.mme/)" },
  {
    name: "answers",
    type: "string",
    aliases: ["answers-file"],
    help: "answers JSONL; resumed when it exists (settings in <answers>.settings.json)",
  },
  {
    name: "num-chunks",
    type: "number",
    integer: true,
    min: 1,
    help: "split the questions into N contiguous chunks (LLaVA get_chunk rule)",
    default: 1,
  },
  { name: "chunk-idx", type: "number", integer: true, min: 0, help: "which chunk this run answers (0-based)", default: 0 },
  { name: "batch", type: "number", integer: true, min: 1, help: "at most this many questions on one image per answerer call", default: 8 },
  { name: "limit", type: "number", integer: true, min: 1, help: "only the first N questions (before chunking)" },
  { name: "overwrite", type: "boolean", help: "discard an existing answers file instead of resuming it" },
  { name: "merge", type: "boolean", help: "merge the chunk answers files given as arguments into --answers" },
  ...PROGRESS_OPTIONS,
];

function loadItems(bench: string, args: ParsedArgs, checkImages: boolean): { items: EvalItem[]; source: string } {
  if (bench === "chair") return loadChairRun(args);
  if (bench === "vlind") return loadVlindRun(args, checkImages);
  if (bench === "pope") {
    const source = need(args, "questions", "eval pope");
    return { items: loadPopeQuestions(source, { imageFolder: str(args, "image-folder"), checkImages }), source };
  }
  const subtasks = str(args, "subtasks")
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const questions = str(args, "questions");
  if (questions) {
    // LLaVA's llava_mme.jsonl; its --image-folder is the MME folder, which also holds the ground truth
    const root = str(args, "mme-root") ?? str(args, "image-folder");
    if (!root) throw new Error("eval mme: --questions (llava_mme.jsonl) needs the MME folder as --mme-root or --image-folder");
    return { items: loadLlavaMmeQuestions(questions, root, { subtasks }), source: questions };
  }
  const source = need(args, "mme-root", "eval mme");
  return { items: loadMmeQuestions(source, { subtasks }), source };
}

/** MME: the eval_tool files for whatever the answers file holds. */
function writeMmeFrom(items: EvalItem[], answersFile: string, args: ParsedArgs): string {
  const dir = str(args, "results-dir") ?? `${answersFile.replace(/\.jsonl$/, "")}.mme`;
  const byId = answersById(readAnswers(answersFile));
  writeMmeResults(
    dir,
    mmeRows(items, (it) => byId.get(idKey(it.questionId))?.text),
  );
  return dir;
}

function summaryLine(bench: string, s: RunSummary): string {
  const { numChunks, chunkIdx } = s.settings;
  const rate = s.answered / Math.max(1e-9, s.seconds);
  const parts = [
    `eval ${bench}: chunk ${chunkIdx}/${numChunks}, ${s.chunkSize} questions`,
    `${s.skipped} already answered`,
    `${s.answered} answered in ${s.seconds.toFixed(1)} s (${rate.toFixed(2)} q/s)`,
  ];
  if (s.repairedBytes) parts.push(`dropped a partial last line (${s.repairedBytes} bytes)`);
  if (s.reordered) parts.push("put in question order");
  return `${parts.join(", ")} → ${s.answersFile}`;
}

async function runMerge(bench: string, args: ParsedArgs, parts: string[]): Promise<void> {
  const { items } = loadItems(bench, args, false);
  const out = need(args, "answers", "eval --merge");
  const r = mergeChunks({ benchmark: bench, items, parts, out, overwrite: Boolean(args.opts.overwrite) });
  process.stderr.write(`eval ${bench}: merged ${r.chunks} chunk(s), ${r.count} answers → ${r.out}\n`);
  if (bench === "mme") process.stderr.write(`eval mme: eval_tool files in ${writeMmeFrom(items, out, args)}\n`);
}

async function run(args: ParsedArgs, answerers: AnswererSpec): Promise<void> {
  const [bench, ...rest] = args.positional;
  if (!["pope", "mme", "chair", "vlind"].includes(bench)) {
    throw new Error(`eval: first argument must be pope, mme, chair or vlind (got ${bench ?? "nothing"})\nusage: ${USAGE}`);
  }
  if (args.opts.merge) return runMerge(bench, args, rest);
  if (rest.length) throw new Error(`eval: unexpected arguments ${rest.join(" ")} (chunk files go with --merge)`);
  const { items, source } = loadItems(bench, args, true);
  if (bench === "chair" && args.opts["max-new-tokens"] === undefined) args.opts["max-new-tokens"] = CHAIR_MAX_NEW_TOKENS;
  if (bench === "vlind" && args.opts["max-new-tokens"] === undefined) args.opts["max-new-tokens"] = VLIND_MAX_NEW_TOKENS;
  const answersFile = need(args, "answers", `eval ${bench}`);
  const answerer = await ((await testAnswererFactory()) ?? answerers.create)(args);
  try {
    const bar = new ProgressBar(`eval ${bench}`, { ...progressFlags(args), unit: "answers" });
    const summary = await runEval({
      benchmark: bench,
      items,
      source,
      answerer,
      answersFile,
      numChunks: numOpt(args, "num-chunks"),
      chunkIdx: numOpt(args, "chunk-idx"),
      batch: numOpt(args, "batch"),
      limit: numOpt(args, "limit"),
      overwrite: Boolean(args.opts.overwrite),
      onProgress: (p) => bar.update(p.done, p.total, `${p.done}/${p.total} ${p.rate.toFixed(2)} q/s`),
    });
    bar.done();
    process.stderr.write(summaryLine(bench, summary) + "\n");
    if (bench === "mme" && summary.settings.numChunks === 1) {
      process.stderr.write(`eval mme: eval_tool files in ${writeMmeFrom(items, answersFile, args)}\n`);
    }
  } finally {
    await answerer.close?.();
  }
}

/** `causalmm eval` answering with `answerers` (the real model by default; tests pass a fake). */
export function makeEvalCommand(answerers: AnswererSpec = MODEL_ANSWERER): CommandSpec {
  return defineCommand({
    name: "eval",
    summary: "answer POPE, MME, CHAIR or VLind-Bench questions into a resumable answers file (chunks, merge)",
    usage: USAGE,
    options: [...BASE_OPTIONS, ...CHAIR_OPTIONS, ...VLIND_OPTIONS, ...VLIND_EVAL_OPTIONS, ...answerers.options],
    run: (args) => run(args, answerers),
  });
}

export const evalCommand = makeEvalCommand();
