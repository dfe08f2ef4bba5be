// The MME benchmark folder (MME_Benchmark_release_version) and the official eval_tool result files.
//
// Layout, as read by LLaVA's convert_answer_to_mme.py `get_gt`: one folder per subtask, either
//   <subtask>/images/<name>.<ext> + <subtask>/questions_answers_YN/<name>.txt     (artwork, celebrity, ...)
// or the single-folder form with <name>.txt next to <name>.<ext>                  (existence, count, OCR, ...).
// Each <name>.txt has one line per question, `question \t answer` (Yes/No); MME asks two per image.
// The eval_tool input (`Your_Results/<subtask>.txt`) is one line per question, `img \t question \t gt \t pred`,
// with the two questions of an image on consecutive lines (calculation.py pairs lines two by two).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, extname, join, resolve } from "node:path";
import type { EvalItem } from "./answerer.js";
import { checkQuestionText, EvalFileError, writeFileAtomic } from "./jsonl.js";
import { makeDirs } from "../util/files.js";

const IMAGE_EXT = new Set([".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"]);

export interface MmeRow {
  img: string;
  question: string;
  gt: string;
  pred: string;
  where: string;
}

/** All MME questions under `root`, subtasks in name order, files in name order, lines in file order. */
export function loadMmeQuestions(root: string, opts: { subtasks?: string[] } = {}): EvalItem[] {
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new EvalFileError(`${root}: MME folder not found`);
  const wanted = opts.subtasks?.length ? new Set(opts.subtasks) : null;
  const items: EvalItem[] = [];
  for (const sub of readdirSync(root).sort()) {
    if (wanted && !wanted.has(sub)) continue;
    const dir = join(root, sub);
    if (!statSync(dir).isDirectory()) continue;
    items.push(...loadSubtask(root, sub));
  }
  if (wanted) for (const s of wanted) if (!items.some((it) => it.category === s)) throw new EvalFileError(`${root}: no MME subtask "${s}"`);
  if (items.length === 0)
    throw new EvalFileError(
      `${root}: no MME subtask folders (expected <subtask>/images + questions_answers_YN, or <subtask>/*.txt next to images)`,
    );
  return items;
}

function loadSubtask(root: string, sub: string): EvalItem[] {
  const dir = join(root, sub);
  const split = existsSync(join(dir, "images"));
  const imageDir = split ? join(dir, "images") : dir;
  const qaDir = split ? join(dir, "questions_answers_YN") : dir;
  if (split && !existsSync(qaDir)) throw new EvalFileError(`${dir}: has images/ but no questions_answers_YN/`);
  const images = imagesByStem(imageDir);
  // Folders without images (e.g. an eval_tool copy) are not subtasks.
  if (images.size === 0) return [];
  const items: EvalItem[] = [];
  for (const f of readdirSync(qaDir)
    .filter((n) => n.endsWith(".txt"))
    .sort()) {
    const qaFile = join(qaDir, f);
    const stem = f.slice(0, -4);
    const img = images.get(stem);
    if (!img) throw new EvalFileError(`${qaFile}: no image ${stem}.* in ${imageDir}`);
    const rel = split ? `${sub}/images/${img}` : `${sub}/${img}`;
    items.push(...readQaFile(qaFile, sub, resolve(imageDir, img), rel));
  }
  return items;
}

function imagesByStem(dir: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const f of readdirSync(dir)) {
    if (IMAGE_EXT.has(extname(f).toLowerCase())) m.set(f.slice(0, -extname(f).length), f);
  }
  return m;
}

function readQaFile(file: string, sub: string, image: string, rel: string): EvalItem[] {
  const out: EvalItem[] = [];
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((raw, i) => {
      // Like get_gt: strip the line, then exactly `question \t answer`.
      const line = raw.trim();
      if (line === "") return;
      const parts = line.split("\t");
      const where = `${file}:${i + 1}`;
      if (parts.length !== 2) throw new EvalFileError(`${where}: expected "question<TAB>answer", got ${parts.length} field(s)`);
      const gt = parts[1].trim();
      if (!/^(yes|no)$/i.test(gt)) throw new EvalFileError(`${where}: answer must be Yes or No, got ${JSON.stringify(parts[1])}`);
      const questionId = `${rel.replace("/images/", "/")}#${out.length + 1}`;
      out.push({
        questionId,
        image,
        imageFile: rel,
        question: checkQuestionText(parts[0], where, questionId),
        label: gt.toLowerCase(),
        category: sub,
        meta: { gt },
      });
    });
  if (out.length !== 2) throw new EvalFileError(`${file}: ${out.length} question(s); MME asks exactly two per image (acc+ pairs them)`);
  return out;
}

/** The eval_tool cannot represent tabs or newlines inside a field; they become spaces. */
export function sanitizeField(s: string): string {
  return s.replace(/[\t\r\n]/g, " ");
}

/** Result rows per subtask, in item order, from the items and their answers. */
export function mmeRows(items: EvalItem[], answerText: (it: EvalItem) => string | undefined): Map<string, MmeRow[]> {
  const bySub = new Map<string, MmeRow[]>();
  for (const it of items) {
    const pred = answerText(it);
    if (pred === undefined) continue;
    const rows = bySub.get(it.category!) ?? [];
    const gt = typeof it.meta?.gt === "string" ? it.meta.gt : it.label!;
    // LLaVA's question file asks its own wording; the eval_tool files carry MME's question
    const question = typeof it.meta?.mmeQuestion === "string" ? it.meta.mmeQuestion : it.question;
    rows.push({ img: basename(it.imageFile ?? it.image), question, gt, pred: sanitizeField(pred), where: String(it.questionId) });
    bySub.set(it.category!, rows);
  }
  return bySub;
}

/** Write `<dir>/<subtask>.txt` in the official eval_tool format; returns the files written. */
export function writeMmeResults(dir: string, rows: Map<string, MmeRow[]>): string[] {
  makeDirs(dir, "the MME results");
  const files: string[] = [];
  for (const [sub, list] of rows) {
    const path = join(dir, `${sub}.txt`);
    writeFileAtomic(path, list.map((r) => [r.img, r.question, r.gt, r.pred].join("\t") + "\n").join(""));
    files.push(path);
  }
  return files;
}

/** Read every `<subtask>.txt` of an eval_tool results folder. */
export function readMmeResults(dir: string): Map<string, MmeRow[]> {
  if (!existsSync(dir)) throw new EvalFileError(`${dir}: results folder not found`);
  const out = new Map<string, MmeRow[]>();
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith(".txt"))
    .sort()) {
    const path = join(dir, f);
    const rows: MmeRow[] = [];
    readFileSync(path, "utf8")
      .split("\n")
      .forEach((raw, i) => {
        const line = raw.replace(/\r$/, "");
        if (line.trim() === "") return;
        const parts = line.split("\t");
        const where = `${path}:${i + 1}`;
        if (parts.length !== 4)
          throw new EvalFileError(`${where}: expected "img<TAB>question<TAB>gt<TAB>pred", got ${parts.length} field(s)`);
        rows.push({ img: parts[0], question: parts[1], gt: parts[2], pred: parts[3], where });
      });
    if (rows.length === 0) throw new EvalFileError(`${path}: no result lines (expected "img<TAB>question<TAB>gt<TAB>pred" lines)`);
    out.set(f.slice(0, -4), rows);
  }
  if (out.size === 0) throw new EvalFileError(`${dir}: no <subtask>.txt result files`);
  return out;
}
