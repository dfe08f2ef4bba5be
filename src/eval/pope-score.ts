// POPE scoring, rule for rule as the published scripts do it (free-form answers make the rule matter):
//   vcd   — DAMO-NLP-SG/VCD and The-Martyr/CausalMM experiments/eval/eval_pope.py: lowercase + strip the
//           answer; label yes → TP if "yes" is a substring, else FN; label no → TN if "no" is a substring,
//           else FP. The reading depends on the label: "yes, there is no dog" is right either way, and
//           "not"/"know"/"nothing" count as "no". yes-ratio = (TP+FP)/N.
//   llava — haotian-liu/LLaVA llava/eval/eval_pope.py: keep the text before the first ".", delete ",",
//           split on single spaces; "no" if a word is exactly "No", "not" or "no", else "yes".
//           Case matters: "NO" and "Not" read as yes; so does "isn't".
//   opera — shikiw/OPERA pope_eval.py `recorder`: delete every "." and ",", split on spaces; "no" if a
//           word is No/not/no/NO or ends in "n't".
// Metrics as in those scripts: accuracy (TP+TN)/N, precision TP/(TP+FP), recall TP/(TP+FN), F1, yes-ratio.
// A 0/0 (e.g. no "yes" predictions) is NaN where the scripts would raise ZeroDivisionError.
import type { EvalItem } from "./answerer.js";
import type { StoredAnswer } from "./answers-file.js";
import { EvalFileError, idKey } from "./jsonl.js";

export type PopeRule = "vcd" | "llava" | "opera";
export const POPE_RULES: readonly PopeRule[] = ["vcd", "llava", "opera"];

export function llavaSaysNo(text: string): boolean {
  const firstSentence = text.split(".")[0];
  const words = firstSentence.replaceAll(",", "").split(" ");
  return words.includes("No") || words.includes("not") || words.includes("no");
}

const OPERA_NEG = ["No", "not", "no", "NO"];

export function operaSaysNo(text: string): boolean {
  const words = text.replaceAll(".", "").replaceAll(",", "").split(" ");
  return words.some((w) => OPERA_NEG.includes(w) || w.endsWith("n't"));
}

export function vcdPredictsYes(text: string, label: "yes" | "no"): boolean {
  const t = text.toLowerCase().trim();
  return label === "yes" ? t.includes("yes") : !t.includes("no");
}

/** Whether the answer counts as "yes" under `rule` (VCD's reading needs the label). */
export function predictsYes(rule: PopeRule, text: string, label: "yes" | "no"): boolean {
  if (rule === "vcd") return vcdPredictsYes(text, label);
  return rule === "llava" ? !llavaSaysNo(text) : !operaSaysNo(text);
}

/** Outcome codes, used for counting and for resampling. */
export const TP = 0;
export const FP = 1;
export const TN = 2;
export const FN = 3;

export function outcome(rule: PopeRule, text: string, label: "yes" | "no"): number {
  const yes = predictsYes(rule, text, label);
  if (label === "yes") return yes ? TP : FN;
  return yes ? FP : TN;
}

export interface PopeMetrics {
  n: number;
  tp: number;
  fp: number;
  tn: number;
  fn: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  yesRatio: number;
}

/** Metrics from outcome counts [TP, FP, TN, FN]. */
export function popeMetrics(c: ArrayLike<number>): PopeMetrics {
  const [tp, fp, tn, fn] = [c[TP], c[FP], c[TN], c[FN]];
  const n = tp + fp + tn + fn;
  const precision = tp / (tp + fp);
  const recall = tp / (tp + fn);
  return {
    n,
    tp,
    fp,
    tn,
    fn,
    accuracy: (tp + tn) / n,
    precision,
    recall,
    f1: (2 * precision * recall) / (precision + recall),
    yesRatio: (tp + fp) / n,
  };
}

export function countOutcomes(codes: ArrayLike<number>): number[] {
  const c = [0, 0, 0, 0];
  for (let i = 0; i < codes.length; i++) c[codes[i]]++;
  return c;
}

/** A labelled question with its answer text. */
export interface Scored {
  split: string;
  label: "yes" | "no";
  text: string;
  questionId: string | number;
}

/**
 * Join labelled items with answers by question_id. Every answer must belong to a question; every
 * question must be answered unless `allowMissing` (then unanswered ones are left out and counted).
 */
export function pairAnswers(
  items: readonly EvalItem[],
  answers: Map<string, StoredAnswer>,
  allowMissing = false,
): { pairs: Scored[]; missing: number } {
  const known = new Set(items.map((it) => idKey(it.questionId)));
  for (const a of answers.values()) {
    if (!known.has(idKey(a.id))) throw new EvalFileError(`${a.where}: question_id ${JSON.stringify(a.id)} is not in the question file`);
  }
  const pairs: Scored[] = [];
  let missing = 0;
  for (const it of items) {
    const a = answers.get(idKey(it.questionId));
    if (!a) {
      if (!allowMissing)
        throw new EvalFileError(
          `no answer for question_id ${JSON.stringify(it.questionId)} (and maybe others; --allow-missing scores only the answered ones)`,
        );
      missing++;
      continue;
    }
    if (it.label !== "yes" && it.label !== "no") throw new EvalFileError(`question ${JSON.stringify(it.questionId)} has no yes/no label`);
    pairs.push({ split: it.category ?? "all", label: it.label, text: a.text, questionId: it.questionId });
  }
  return { pairs, missing };
}

/** Pairs grouped by split, splits in order of first appearance. */
export function bySplit<T extends { split: string }>(pairs: readonly T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const p of pairs) {
    const l = m.get(p.split);
    if (l) l.push(p);
    else m.set(p.split, [p]);
  }
  return m;
}

export interface PopeReport {
  splits: { split: string; rules: Record<PopeRule, PopeMetrics> }[];
  /** Unweighted mean over splits of each metric (LLaVA-1.5 reports the mean F1 of the three splits). */
  mean: Record<PopeRule, Omit<PopeMetrics, "tp" | "fp" | "tn" | "fn">> | null;
  missing: number;
}

export function scorePope(pairs: readonly Scored[], missing = 0): PopeReport {
  const splits = [...bySplit(pairs)].map(([split, list]) => {
    const rules = {} as Record<PopeRule, PopeMetrics>;
    for (const r of POPE_RULES) rules[r] = popeMetrics(countOutcomes(list.map((p) => outcome(r, p.text, p.label))));
    return { split, rules };
  });
  return { splits, mean: splits.length > 1 ? meanOverSplits(splits) : null, missing };
}

function meanOverSplits(splits: PopeReport["splits"]): NonNullable<PopeReport["mean"]> {
  const out = {} as NonNullable<PopeReport["mean"]>;
  const keys = ["n", "accuracy", "precision", "recall", "f1", "yesRatio"] as const;
  for (const r of POPE_RULES) {
    const m = {} as Record<(typeof keys)[number], number>;
    for (const k of keys) m[k] = splits.reduce((s, x) => s + x.rules[r][k], 0) / (k === "n" ? 1 : splits.length);
    out[r] = m;
  }
  return out;
}
