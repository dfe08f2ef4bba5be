// POPE question files in the two forms in circulation:
//   - VCD / CausalMM `data/POPE/<dataset>/<dataset>_pope_<split>.json`: JSON lines (or a JSON array) of
//     {"question_id","image","text","label"}; one file per split, the split is in the file name.
//   - LLaVA-1.5 `llava_pope_test.jsonl`: {"question_id","image","text","category"} for all splits, and
//     the labels in the original POPE files `coco/coco_pope_<category>.json`. LLaVA's eval_pope.py pairs
//     them by position: the i-th question of a category with the i-th line of its label file. Its texts
//     end in "\nAnswer the question using a single word or phrase." and POPE's do not; each pair is
//     checked by image and by text with that suffix removed (by id instead when both files share ids).
import { existsSync, readdirSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { EvalItem } from "./answerer.js";
import { checkUniqueIds, EvalFileError, idKey, needId, needQuestionText, needString, readRecords, type Located } from "./jsonl.js";
import { ONE_WORD_SUFFIX, SINGLE_WORD_PHRASE_SUFFIX } from "../text/templates.js";

export interface PopeLoadOptions {
  /** Folder the "image" names are relative to (default: the current directory, as LLaVA's default ""). */
  imageFolder?: string;
  /** Fail when an image file is missing (the runner needs them; scoring does not). */
  checkImages?: boolean;
  /** Folder with `<dataset>_pope_<category>.json` label files for the LLaVA form. */
  labelsDir?: string;
  /** Fail when a question ends up without a label (scoring). */
  requireLabels?: boolean;
}

/** Split name of a POPE file: `coco_pope_random.json` → `random`; other names → the file stem. */
export function splitFromFileName(path: string): string {
  const name = basename(path);
  const m = /_pope_(.+?)\.jsonl?$/.exec(name);
  return m ? m[1] : name.replace(/\.[^.]*$/, "");
}

/** Load one POPE question file; items keep file order; `category` is the split. */
export function loadPopeQuestions(file: string, opts: PopeLoadOptions = {}): EvalItem[] {
  const records = readRecords(file);
  if (records.length === 0) throw new EvalFileError(`${file}: no questions`);
  const folder = opts.imageFolder ?? ".";
  const fallbackSplit = splitFromFileName(file);
  const items = records.map((r) => toItem(r, folder, fallbackSplit));
  checkUniqueIds(items.map((it, i) => ({ id: it.questionId, where: records[i].where })));
  if (opts.labelsDir) attachLabels(items, records, opts.labelsDir);
  if (opts.requireLabels) {
    const i = items.findIndex((it) => it.label === undefined);
    if (i >= 0) {
      const hint = hasCategory(records[i]) ? ` (give --labels-dir with <dataset>_pope_${items[i].category}.json)` : "";
      throw new EvalFileError(`${records[i].where}: no "label" for question ${JSON.stringify(items[i].questionId)}${hint}`);
    }
  }
  if (opts.checkImages) checkImagesExist(items, records);
  return items;
}

function toItem(r: Located<Record<string, unknown>>, folder: string, fallbackSplit: string): EvalItem {
  const questionId = needId(r);
  const imageFile = needString(r, "image");
  const question = needQuestionText(r, "text", questionId);
  const item: EvalItem = { questionId, image: resolve(folder, imageFile), imageFile, question, category: fallbackSplit };
  if (r.value.label !== undefined) item.label = normLabel(r.value.label, r.where);
  const cat = r.value.category;
  if (cat !== undefined) {
    if (typeof cat !== "string" || cat === "") throw new EvalFileError(`${r.where}: "category" must be a non-empty string`);
    item.category = cat;
  }
  return item;
}

/** Labels must be yes/no (any case); the official scripts would silently count anything else as "yes". */
export function normLabel(v: unknown, where: string): "yes" | "no" {
  const s = typeof v === "string" ? v.trim().toLowerCase() : "";
  if (s !== "yes" && s !== "no") throw new EvalFileError(`${where}: "label" must be "yes" or "no", got ${JSON.stringify(v)}`);
  return s;
}

function checkImagesExist(items: EvalItem[], records: Located<unknown>[]): void {
  const checked = new Map<string, boolean>();
  const missing: string[] = [];
  items.forEach((it, i) => {
    let ok = checked.get(it.image);
    if (ok === undefined) checked.set(it.image, (ok = existsSync(it.image)));
    if (!ok) missing.push(`${records[i].where}: image file not found: ${it.image}`);
  });
  if (missing.length === 0) return;
  const more = missing.length > 1 ? ` (${missing.length} questions have missing images)` : "";
  throw new EvalFileError(missing[0] + more);
}

/** LLaVA form: fill `label` from `<dataset>_pope_<category>.json`, by position within the category. */
function attachLabels(items: EvalItem[], records: Located<Record<string, unknown>>[], labelsDir: string): void {
  const byCategory = new Map<string, number[]>();
  items.forEach((it, i) => {
    if (it.label !== undefined || !hasCategory(records[i])) return;
    const list = byCategory.get(it.category!) ?? [];
    list.push(i);
    byCategory.set(it.category!, list);
  });
  for (const [category, idx] of byCategory) {
    const file = findLabelFile(labelsDir, category);
    const labels = readRecords(file);
    if (labels.length !== idx.length) {
      throw new EvalFileError(
        `${file}: ${labels.length} labels but the question file has ${idx.length} questions of category "${category}" ` +
          `(they are paired by position, as in LLaVA's eval_pope.py)`,
      );
    }
    const order =
      pairByIds(
        idx.map((i) => items[i].questionId),
        labels,
      ) ?? labels;
    idx.forEach((itemIdx, k) => pairLabel(items[itemIdx], records[itemIdx].where, order[k]));
  }
}

/**
 * Labels in question order when both files use the same question ids; null otherwise. LLaVA's
 * llava_pope_test.jsonl numbers its questions its own way (not POPE's 1..N per split), and its
 * eval_pope.py pairs by position: then so do we, and every pair is checked by image and text.
 */
function pairByIds(ids: (string | number)[], labels: Located<Record<string, unknown>>[]): Located<Record<string, unknown>>[] | null {
  const byId = new Map<string, Located<Record<string, unknown>>>();
  for (const l of labels) {
    const id = l.value.question_id;
    if (typeof id !== "string" && typeof id !== "number") return null;
    byId.set(idKey(id), l);
  }
  if (byId.size !== labels.length || !ids.every((id) => byId.has(idKey(id)))) return null;
  return ids.map((id) => byId.get(idKey(id))!);
}

/** LLaVA's question files append an answer-format instruction that POPE's own files do not have. */
const PROMPT_SUFFIXES = [SINGLE_WORD_PHRASE_SUFFIX, ONE_WORD_SUFFIX];

/** The question itself: known prompt suffixes removed, outer whitespace trimmed. */
export function bareQuestion(text: string): string {
  let t = text.trimEnd();
  for (const suffix of PROMPT_SUFFIXES) if (t.endsWith(suffix.trimEnd())) t = t.slice(0, t.length - suffix.trimEnd().length);
  return t.trim();
}

function hasCategory(r: Located<Record<string, unknown>>): boolean {
  return r.value.category !== undefined;
}

function pairLabel(item: EvalItem, qWhere: string, l: Located<Record<string, unknown>>): void {
  // A pair whose image or question differs (prompt suffixes aside) means the files disagree.
  const same = { image: (a: string, b: string) => a === b, text: (a: string, b: string) => bareQuestion(a) === bareQuestion(b) };
  for (const [key, mine] of [
    ["text", item.question],
    ["image", item.imageFile],
  ] as const) {
    const theirs = l.value[key];
    if (theirs !== undefined && (typeof theirs !== "string" || !same[key](theirs, mine ?? ""))) {
      throw new EvalFileError(
        `${l.where}: ${key} ${JSON.stringify(theirs)} does not match ${qWhere}: ${JSON.stringify(mine)} ` +
          `(question ${JSON.stringify(item.questionId)}); label and question files are out of step`,
      );
    }
  }
  item.label = normLabel(l.value.label, l.where);
}

function findLabelFile(dir: string, category: string): string {
  if (!existsSync(dir)) throw new EvalFileError(`${dir}: labels folder not found`);
  const hits = readdirSync(dir).filter((f) => /_pope_.+\.jsonl?$/.test(f) && splitFromFileName(f) === category);
  if (hits.length === 1) return join(dir, hits[0]);
  if (hits.length === 0) throw new EvalFileError(`${dir}: no label file <dataset>_pope_${category}.json for category "${category}"`);
  throw new EvalFileError(`${dir}: several label files for category "${category}": ${hits.join(", ")}`);
}
