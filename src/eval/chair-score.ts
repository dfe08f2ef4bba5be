// CHAIR (Rohrbach et al., 2018) as OPERA's chair.py computes it. Ground truth per image = the classes
// of its COCO instance annotations ∪ the objects mentioned in its COCO reference captions (or, in the
// simple form, an explicit object list). For the generated captions:
//   CHAIR_s = captions with ≥ 1 hallucinated mention / captions
//   CHAIR_i = hallucinated mentions / all mentions (repeats count)
//   Recall  = Σ distinct ground-truth classes mentioned / Σ ground-truth classes (per caption)
//   Len     = mean caption length in tokens after two-word merging (chair.py prints 100 × 0.01·mean)
import { existsSync, readFileSync } from "node:fs";
import { ChairExtractor } from "./chair-words.js";
import { EvalFileError, idKey, readRecords, type Located } from "./jsonl.js";

export type ImageId = string | number;

/** Ground-truth classes per image (keyed by idKey). */
export type ChairTruth = Map<string, Set<string>>;

export interface ChairCaption {
  imageId: ImageId;
  caption: string;
  where: string;
}

export interface ChairSentence {
  image_id: ImageId;
  caption: string;
  mscoco_hallucinated_words: [string, string][];
  mscoco_gt_words: string[];
  mscoco_generated_words: string[];
  hallucination_idxs: number[];
  words: string[];
  metrics: { CHAIRs: number; CHAIRi: number; Recall: number; Len: number };
}

export interface ChairReport {
  vocab: string;
  captions: number;
  /** null where the denominator is zero (chair.py would stop with ZeroDivisionError). */
  CHAIRs: number;
  CHAIRi: number | null;
  Recall: number | null;
  /** Mean length in tokens. */
  Len: number;
  mentions: number;
  hallucinated: number;
  sentences: ChairSentence[];
}

function addTruth(truth: ChairTruth, id: ImageId, classes: Iterable<string>): void {
  const k = idKey(id);
  const set = truth.get(k) ?? new Set<string>();
  for (const c of classes) set.add(c);
  truth.set(k, set);
}

function needImageId(v: unknown, where: string): ImageId {
  if ((typeof v === "string" && v !== "") || (typeof v === "number" && Number.isSafeInteger(v))) return v as ImageId;
  throw new EvalFileError(`${where}: missing "image_id" (string or integer)`);
}

/** COCO instances_*.json or captions_*.json (a JSON object with "annotations"). */
function addCocoFile(truth: ChairTruth, path: string, data: Record<string, unknown>, ex: ChairExtractor): void {
  const anns = data.annotations;
  if (!Array.isArray(anns)) throw new EvalFileError(`${path}: expected COCO "annotations" (array)`);
  const names = new Map<number, string>();
  if (Array.isArray(data.categories)) for (const c of data.categories as { id: number; name: string }[]) names.set(c.id, c.name);
  anns.forEach((a: Record<string, unknown>, i) => {
    const where = `${path}: annotations[${i}]`;
    const id = needImageId(a?.image_id, where);
    if (typeof a.caption === "string") return addTruth(truth, id, ex.extract(a.caption).classes);
    const name = names.get(a.category_id as number);
    if (name === undefined)
      throw new EvalFileError(`${where}: category_id ${JSON.stringify(a.category_id)} is not in "categories" (and no "caption")`);
    const cls = ex.vocab.classOf.get(name);
    if (cls === undefined) throw new EvalFileError(`${where}: category "${name}" is not a ${ex.vocab.name} vocabulary word`);
    addTruth(truth, id, [cls]);
  });
}

/** Simple form: JSON lines (or array) of {"image_id", "objects": [words]} and/or {"image_id", "caption"}. */
function addSimpleRecords(truth: ChairTruth, records: Located<Record<string, unknown>>[], ex: ChairExtractor): void {
  for (const r of records) {
    const id = needImageId(r.value.image_id, r.where);
    const { objects, caption } = r.value;
    if (objects === undefined && typeof caption !== "string")
      throw new EvalFileError(`${r.where}: needs "objects" (array of words) or "caption" (string)`);
    if (typeof caption === "string") addTruth(truth, id, ex.extract(caption).classes);
    if (objects === undefined) continue;
    if (!Array.isArray(objects)) throw new EvalFileError(`${r.where}: "objects" must be an array of words`);
    addTruth(
      truth,
      id,
      objects.map((o) => {
        const cls = typeof o === "string" ? ex.vocab.classOf.get(o.toLowerCase()) : undefined;
        if (cls === undefined) throw new EvalFileError(`${r.where}: object ${JSON.stringify(o)} is not a ${ex.vocab.name} vocabulary word`);
        return cls;
      }),
    );
  }
}

/** Ground truth from one or more annotation files (COCO instances, COCO captions, or the simple form). */
export function loadChairTruth(files: readonly string[], ex: ChairExtractor): ChairTruth {
  if (files.length === 0) throw new EvalFileError("CHAIR needs at least one annotations file");
  const truth: ChairTruth = new Map();
  for (const path of files) {
    if (!existsSync(path)) throw new EvalFileError(`${path}: annotations file not found`);
    const coco = asCocoFile(readFileSync(path, "utf8").replace(/^\uFEFF/, ""));
    if (coco) addCocoFile(truth, path, coco, ex);
    else addSimpleRecords(truth, readRecords(path), ex);
  }
  return truth;
}

/** A whole-file JSON object with an "annotations" array is a COCO file; anything else is the simple form. */
function asCocoFile(text: string): Record<string, unknown> | null {
  if (!text.trimStart().startsWith("{")) return null;
  try {
    const data = JSON.parse(text) as Record<string, unknown>;
    return Array.isArray(data.annotations) ? data : null;
  } catch {
    return null; // JSON lines, or broken: readRecords names the line
  }
}

/** Generated captions: our answers files ({"question_id","text"}) or chair.py's input ({"image_id","caption"}). */
export function readChairCaptions(path: string, idKeyName?: string, captionKey?: string): ChairCaption[] {
  return readRecords(path).map((r) => {
    const idName = idKeyName ?? (r.value.image_id !== undefined ? "image_id" : "question_id");
    const capName = captionKey ?? (r.value.caption !== undefined ? "caption" : "text");
    const caption = r.value[capName];
    if (typeof caption !== "string") throw new EvalFileError(`${r.where}: missing "${capName}" (string)`);
    const v = r.value[idName];
    if (!((typeof v === "string" && v !== "") || (typeof v === "number" && Number.isSafeInteger(v))))
      throw new EvalFileError(`${r.where}: missing "${idName}" (string or integer)`);
    return { imageId: v as ImageId, caption, where: r.where };
  });
}

/** chair.py's compute_chair. Every captioned image must have ground truth (chair.py would score it against nothing). */
export function scoreChair(captions: readonly ChairCaption[], truth: ChairTruth, ex: ChairExtractor): ChairReport {
  if (captions.length === 0) throw new EvalFileError("CHAIR: no captions to score");
  let hallucinatedCaps = 0,
    hallucinated = 0,
    mentions = 0,
    tokens = 0,
    gtTotal = 0,
    recalled = 0;
  const sentences = captions.map((c): ChairSentence => {
    const gt = truth.get(idKey(c.imageId));
    if (!gt) {
      const other = truth.has(idKey(typeof c.imageId === "number" ? String(c.imageId) : Number(c.imageId)))
        ? " (the annotations have it with the other type: string vs integer)"
        : "";
      throw new EvalFileError(`${c.where}: image ${JSON.stringify(c.imageId)} has no ground-truth annotations${other}`);
    }
    const o = ex.extract(c.caption);
    const s: ChairSentence = {
      image_id: c.imageId,
      caption: c.caption,
      mscoco_hallucinated_words: [],
      mscoco_gt_words: [...gt],
      mscoco_generated_words: o.classes,
      hallucination_idxs: [],
      words: o.tokens,
      metrics: { CHAIRs: 0, CHAIRi: 0, Recall: 0, Len: 0 },
    };
    const covered = new Set<string>();
    o.classes.forEach((cls, i) => {
      if (gt.has(cls)) return void covered.add(cls);
      s.mscoco_hallucinated_words.push([o.words[i], cls]);
      s.hallucination_idxs.push(o.idxs[i]);
    });
    mentions += o.classes.length;
    hallucinated += s.mscoco_hallucinated_words.length;
    tokens += o.tokens.length;
    gtTotal += gt.size;
    recalled += covered.size;
    if (s.mscoco_hallucinated_words.length) hallucinatedCaps++;
    s.metrics = {
      CHAIRs: s.mscoco_hallucinated_words.length ? 1 : 0,
      CHAIRi: o.classes.length ? s.mscoco_hallucinated_words.length / o.classes.length : 0,
      Recall: gt.size ? covered.size / gt.size : 0,
      Len: o.tokens.length,
    };
    return s;
  });
  const n = captions.length;
  return {
    vocab: ex.vocab.name,
    captions: n,
    CHAIRs: hallucinatedCaps / n,
    CHAIRi: mentions ? hallucinated / mentions : null,
    Recall: gtTotal ? recalled / gtTotal : null,
    Len: tokens / n,
    mentions,
    hallucinated,
    sentences,
  };
}

export function formatChair(r: ChairReport): string {
  const pct = (x: number | null) => (x === null ? "n/a" : (100 * x).toFixed(1));
  return [
    `CHAIR (${r.vocab} vocabulary), ${r.captions} captions, ${r.mentions} object mentions, ${r.hallucinated} hallucinated`,
    `CHAIRs    : ${pct(r.CHAIRs)}`,
    `CHAIRi    : ${pct(r.CHAIRi)}`,
    `Recall    : ${pct(r.Recall)}`,
    `Len       : ${r.Len.toFixed(1)}`,
  ].join("\n");
}
