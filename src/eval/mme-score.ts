// MME scoring as the official eval_tool/calculation.py does it:
//   - pred parsing: lowercase; exactly "yes"/"no" is itself; otherwise look at the first 4 code points:
//     "yes" in them → yes, else "no" in them → no, else "other". (calculation.py reads lines with their
//     "\n", which never changes the outcome of this test.) "other" is wrong for every question.
//   - per subtask: lines are taken two by two (one image, two questions); acc = correct / questions,
//     acc+ = images with both right / images, score = 100·acc + 100·acc+ (at most 200).
//   - Perception = sum of the 10 perception subtasks, Cognition = sum of the 4 cognition ones. The
//     hallucination subset used by VCD/CausalMM papers is existence + count + position + color.
import type { MmeRow } from "./mme-data.js";
import { EvalFileError } from "./jsonl.js";

export const MME_PERCEPTION = [
  "existence",
  "count",
  "position",
  "color",
  "posters",
  "celebrity",
  "scene",
  "landmark",
  "artwork",
  "OCR",
] as const;
export const MME_COGNITION = ["commonsense_reasoning", "numerical_calculation", "text_translation", "code_reasoning"] as const;
export const MME_HALLUCINATION = ["existence", "count", "position", "color"] as const;

export type MmePred = "yes" | "no" | "other";

export function mmeParsePred(pred: string): MmePred {
  const p = pred.toLowerCase();
  if (p === "yes" || p === "no") return p;
  // Python's pred_ans[:4] counts code points; String#slice counts UTF-16 units (an emoji is two).
  const prefix = [...p].slice(0, 4).join("");
  if (prefix.includes("yes")) return "yes";
  if (prefix.includes("no")) return "no";
  return "other";
}

export interface MmeTaskScore {
  subtask: string;
  questions: number;
  images: number;
  acc: number;
  accPlus: number;
  score: number;
  /** Answers that parse as neither yes nor no. */
  other: number;
  tp: number;
  fn: number;
  tn: number;
  fp: number;
}

export function scoreMmeTask(subtask: string, rows: readonly MmeRow[]): MmeTaskScore {
  if (rows.length === 0 || rows.length % 2 !== 0) {
    // Rows read from a results file are located "<file>:<line>": name the file.
    const file = rows.length ? rows[rows.length - 1].where.replace(/:\d+$/, "") + ": " : "";
    throw new EvalFileError(`${file}${subtask}: ${rows.length} lines; MME needs two questions per image on consecutive lines`);
  }
  const s: MmeTaskScore = {
    subtask,
    questions: rows.length,
    images: rows.length / 2,
    acc: 0,
    accPlus: 0,
    score: 0,
    other: 0,
    tp: 0,
    fn: 0,
    tn: 0,
    fp: 0,
  };
  let correct = 0;
  let bothRight = 0;
  for (let i = 0; i < rows.length; i += 2) {
    if (rows[i].img !== rows[i + 1].img)
      throw new EvalFileError(
        `${rows[i + 1].where}: image ${rows[i + 1].img} pairs with ${rows[i].img} on the line before; the two questions of an image must be consecutive`,
      );
    let right = 0;
    for (const r of [rows[i], rows[i + 1]]) if (tally(s, r)) right++;
    correct += right;
    if (right === 2) bothRight++;
  }
  s.acc = correct / s.questions;
  s.accPlus = bothRight / s.images;
  s.score = 100 * s.acc + 100 * s.accPlus;
  return s;
}

/** Count one row into the confusion numbers; returns whether it is right. */
function tally(s: MmeTaskScore, r: MmeRow): boolean {
  const gt = r.gt.toLowerCase();
  if (gt !== "yes" && gt !== "no") throw new EvalFileError(`${r.where}: ground truth must be yes or no, got ${JSON.stringify(r.gt)}`);
  const pred = mmeParsePred(r.pred);
  if (pred === "other") s.other++;
  else if (gt === "yes") {
    if (pred === "yes") s.tp++;
    else s.fn++;
  } else if (pred === "yes") s.fp++;
  else s.tn++;
  return pred === gt;
}

export interface MmeTotal {
  score: number;
  /** Subtasks of the group that had no results (the total then covers fewer subtasks). */
  missing: string[];
}

export interface MmeReport {
  tasks: MmeTaskScore[];
  perception: MmeTotal;
  cognition: MmeTotal;
  hallucination: MmeTotal;
}

export function scoreMme(rows: Map<string, MmeRow[]>): MmeReport {
  const tasks = [...rows].map(([sub, list]) => scoreMmeTask(sub, list));
  const total = (names: readonly string[]): MmeTotal => {
    const have = tasks.filter((t) => names.includes(t.subtask));
    return { score: have.reduce((a, t) => a + t.score, 0), missing: names.filter((n) => !rows.has(n)) };
  };
  return { tasks, perception: total(MME_PERCEPTION), cognition: total(MME_COGNITION), hallucination: total(MME_HALLUCINATION) };
}
