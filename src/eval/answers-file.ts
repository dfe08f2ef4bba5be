// The answers file: JSON lines in the official form {"question_id","prompt","text","model_id","image",
// "metadata"}. Only ever appended to (one fsync'd line per answer) or replaced atomically as a whole.
import { closeSync, existsSync, openSync, readFileSync, truncateSync } from "node:fs";
import type { Answer, EvalItem } from "./answerer.js";
import { EvalFileError, idKey, needId, writeFileAtomic } from "./jsonl.js";

export interface AnswerRecord {
  question_id: string | number;
  prompt: string;
  text: string;
  model_id: string;
  image: string;
  metadata: Record<string, unknown>;
}

export interface StoredAnswer {
  id: string | number;
  text: string;
  /** The line as stored (without the newline), so rewrites keep bytes unchanged. */
  raw: string;
  where: string;
}

/** The record for one answer; key order as in the official scripts. */
export function answerRecord(item: EvalItem, a: Answer, modelId: string): AnswerRecord {
  return {
    question_id: item.questionId,
    prompt: a.prompt,
    text: a.text,
    model_id: modelId,
    image: item.imageFile ?? item.image,
    metadata: a.meta ?? {},
  };
}

/**
 * Drop a partial last line (a write cut short by a kill) so it is redone, never duplicated.
 * Returns the number of bytes removed.
 */
export function repairPartialTail(path: string): number {
  if (!existsSync(path)) return 0;
  const buf = readFileSync(path);
  if (buf.length === 0 || buf[buf.length - 1] === 0x0a) return 0;
  const keep = buf.lastIndexOf(0x0a) + 1;
  truncateSync(path, keep);
  return buf.length - keep;
}

/**
 * Parse an answers file. A partial last line is an error here (`repairPartialTail` first when
 * resuming); so is any broken complete line, which is never silently dropped.
 */
export function readAnswers(path: string): StoredAnswer[] {
  if (!existsSync(path)) throw new EvalFileError(`${path}: answers file not found`);
  const text = readFileSync(path, "utf8");
  const lines = text.split("\n");
  const last = lines.pop();
  if (last !== undefined && last !== "")
    throw new EvalFileError(`${path}:${lines.length + 1}: incomplete last line (the run was interrupted; run it again to finish)`);
  const out: StoredAnswer[] = [];
  lines.forEach((raw, i) => {
    if (raw.trim() === "") return;
    const where = `${path}:${i + 1}`;
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch (e) {
      throw new EvalFileError(`${where}: broken JSON line: ${(e as Error).message}`);
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new EvalFileError(`${where}: expected a JSON object`);
    const rec = { value: v as Record<string, unknown>, where };
    const t = rec.value.text;
    if (typeof t !== "string") throw new EvalFileError(`${where}: missing field "text" (string)`);
    out.push({ id: needId(rec), text: t, raw, where });
  });
  return out;
}

/** Answers keyed by id; duplicates are an error naming both lines. */
export function answersById(list: readonly StoredAnswer[]): Map<string, StoredAnswer> {
  const m = new Map<string, StoredAnswer>();
  for (const a of list) {
    const k = idKey(a.id);
    const prev = m.get(k);
    if (prev) throw new EvalFileError(`${a.where}: duplicate answer for question_id ${JSON.stringify(a.id)} (first at ${prev.where})`);
    m.set(k, a);
  }
  return m;
}

/** Check that every answer belongs to `items`; returns the answered ids. */
export function checkBelongs(list: readonly StoredAnswer[], items: readonly EvalItem[], context: string): Map<string, StoredAnswer> {
  const byId = answersById(list);
  const known = new Set(items.map((it) => idKey(it.questionId)));
  for (const a of list) {
    if (!known.has(idKey(a.id))) throw new EvalFileError(`${a.where}: question_id ${JSON.stringify(a.id)} is not in ${context}`);
  }
  return byId;
}

/** Lines for `items` in item order; every item must be answered exactly once. */
export function orderedLines(byId: Map<string, StoredAnswer>, items: readonly EvalItem[], context: string): string[] {
  const missing = items.filter((it) => !byId.has(idKey(it.questionId)));
  if (missing.length) {
    const ids = missing
      .slice(0, 5)
      .map((it) => JSON.stringify(it.questionId))
      .join(", ");
    throw new EvalFileError(`${context}: ${missing.length} question(s) unanswered (${ids}${missing.length > 5 ? ", ..." : ""})`);
  }
  return items.map((it) => byId.get(idKey(it.questionId))!.raw);
}

/** Rewrite a complete answers file in question order (atomically) when it is not already. */
export function putInQuestionOrder(path: string, items: readonly EvalItem[]): boolean {
  const list = readAnswers(path);
  const lines = orderedLines(checkBelongs(list, items, "this run's questions"), items, path);
  if (list.length === lines.length && list.every((a, i) => a.raw === lines[i])) return false;
  writeFileAtomic(path, lines.map((l) => l + "\n").join(""));
  return true;
}

/** Open for appending, creating the file. */
export function openAppend(path: string): number {
  return openSync(path, "a");
}

export function closeQuietly(fd: number | undefined): void {
  if (fd === undefined) return;
  try {
    closeSync(fd);
  } catch {
    /* already closed */
  }
}
