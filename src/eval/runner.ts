// The resumable evaluation loop: chunk the questions, skip what the answers file already holds, hand
// the answerer image-sharing batches, append each answer durably, and end with the file in question order.
import { existsSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import type { Answerer, EvalItem } from "./answerer.js";
import {
  answerRecord,
  checkBelongs,
  closeQuietly,
  openAppend,
  putInQuestionOrder,
  readAnswers,
  repairPartialTail,
} from "./answers-file.js";
import { getChunk, imageBatches } from "./chunks.js";
import { appendLineDurable, EvalFileError, idKey } from "./jsonl.js";
import { acquireLock } from "./lock.js";
import { checkRegularFile, makeDirs } from "../util/files.js";
import { buildSettings, checkSettings, settingsPath, type RunSettings } from "./settings.js";

export interface RunOptions {
  benchmark: string;
  /** The whole question list, in file order (chunking and --limit are applied here). */
  items: readonly EvalItem[];
  /** Question file or folder, recorded in the settings. */
  source: string;
  answerer: Answerer;
  answersFile: string;
  numChunks?: number;
  chunkIdx?: number;
  batch?: number;
  /** Only the first N questions (before chunking). */
  limit?: number;
  /** Discard an existing answers file instead of resuming it. */
  overwrite?: boolean;
  onProgress?: (p: Progress) => void;
}

export interface Progress {
  /** Answers in the file for this chunk (old + new) and the chunk size. */
  done: number;
  total: number;
  /** Answered by this process, and how many it had to do. */
  answeredNow: number;
  todo: number;
  /** Questions per second in this process. */
  rate: number;
}

export interface RunSummary {
  answersFile: string;
  settings: RunSettings;
  chunkSize: number;
  /** Already in the file when the run started. */
  skipped: number;
  answered: number;
  /** Bytes of a partial last line that were dropped. */
  repairedBytes: number;
  /** Whether the file was rewritten into question order at the end. */
  reordered: boolean;
  seconds: number;
}

/** The questions a run covers: the first `limit` of the list, then chunk `chunkIdx` of `numChunks`. */
export function runQuestions(items: readonly EvalItem[], limit: number | undefined, numChunks: number, chunkIdx: number): EvalItem[] {
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new Error(`--limit must be a positive integer (got ${limit})`);
  return getChunk(limit === undefined ? items : items.slice(0, limit), numChunks, chunkIdx);
}

export async function runEval(o: RunOptions): Promise<RunSummary> {
  const numChunks = o.numChunks ?? 1;
  const chunkIdx = o.chunkIdx ?? 0;
  const chunk = runQuestions(o.items, o.limit, numChunks, chunkIdx);
  const settings = buildSettings({
    benchmark: o.benchmark,
    answerer: o.answerer,
    source: o.source,
    items: o.items,
    numChunks,
    chunkIdx,
    limit: o.limit,
  });
  const file = o.answersFile;
  // before the lock and the settings file are created beside it: a device or a /proc path fails here
  checkRegularFile(file, "an answers file");
  makeDirs(dirname(file), `the answers file ${file}`);
  const release = acquireLock(file);
  let fd: number | undefined;
  const t0 = Date.now();
  try {
    if (o.overwrite) for (const p of [file, settingsPath(file)]) if (existsSync(p)) unlinkSync(p);
    const repairedBytes = repairPartialTail(file);
    const existing = existsSync(file) ? readAnswers(file) : [];
    checkSettings(file, settings, existing.length > 0);
    const done = checkBelongs(existing, chunk, `chunk ${chunkIdx} of ${numChunks} of ${o.source}`);
    const todo = chunk.filter((it) => !done.has(idKey(it.questionId)));
    fd = openAppend(file);
    let answered = 0;
    const report = () =>
      o.onProgress?.({
        done: done.size + answered,
        total: chunk.length,
        answeredNow: answered,
        todo: todo.length,
        rate: answered / Math.max(1e-3, (Date.now() - t0) / 1000),
      });
    report();
    for (const batch of imageBatches(todo, o.batch ?? 8)) {
      for (const line of await answerBatch(o.answerer, batch)) {
        appendLineDurable(fd, line, file);
        answered++;
      }
      report();
    }
    closeQuietly(fd);
    fd = undefined;
    const reordered = putInQuestionOrder(file, chunk);
    return {
      answersFile: file,
      settings,
      chunkSize: chunk.length,
      skipped: done.size,
      answered,
      repairedBytes,
      reordered,
      seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    closeQuietly(fd);
    release();
  }
}

/** Ask the answerer and turn its answers into answers-file lines, checking what it returned. */
async function answerBatch(answerer: Answerer, batch: EvalItem[]): Promise<string[]> {
  const answers = await answerer.answer(batch);
  if (!Array.isArray(answers) || answers.length !== batch.length) {
    throw new EvalFileError(`answerer returned ${Array.isArray(answers) ? answers.length : "no"} answers for ${batch.length} questions`);
  }
  return answers.map((a, i) => {
    if (typeof a?.text !== "string" || typeof a.prompt !== "string") {
      throw new EvalFileError(`answerer returned a malformed answer for question ${JSON.stringify(batch[i].questionId)}`);
    }
    return JSON.stringify(answerRecord(batch[i], a, answerer.modelId));
  });
}
