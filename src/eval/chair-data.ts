// CHAIR runs: one "describe this image" question per image of a folder (restricted to the annotated
// images when annotations are given), the image id as question id, so the answers file scores directly.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { EvalItem } from "./answerer.js";
import { COCO_VOCAB, parseSynonyms, type ChairVocab } from "./chair-vocab.js";
import { readFileSync } from "node:fs";
import { EvalFileError, idKey } from "./jsonl.js";
import type { ChairTruth, ImageId } from "./chair-score.js";

/** OPERA's chair_eval.py prompt. */
export const CHAIR_PROMPT = "Please describe this image in detail.";
export const CHAIR_MAX_NEW_TOKENS = 512;

const IMAGE_EXT = /\.(jpe?g|png|webp|bmp|gif)$/i;

/** COCO file names carry the image id (`COCO_val2014_000000397133.jpg` → 397133); other names → the stem. */
export function chairImageId(fileName: string): ImageId {
  const m = /^COCO_[a-z]+\d{4}_(\d+)\.[^.]+$/i.exec(fileName);
  return m ? Number(m[1]) : fileName.replace(/\.[^.]*$/, "");
}

export interface ChairItemsOptions {
  /** Keep only images that have ground truth. */
  truth?: ChairTruth;
  prompt?: string;
}

/** The images of a folder, sorted by name, as CHAIR questions. */
export function chairItems(folder: string, o: ChairItemsOptions = {}): EvalItem[] {
  if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new EvalFileError(`${folder}: image folder not found`);
  const names = readdirSync(folder)
    .filter((f) => IMAGE_EXT.test(f))
    .sort();
  const seen = new Map<string, string>();
  const items: EvalItem[] = [];
  for (const name of names) {
    const id = chairImageId(name);
    const prev = seen.get(idKey(id));
    if (prev) throw new EvalFileError(`${folder}: ${prev} and ${name} have the same image id ${JSON.stringify(id)}`);
    seen.set(idKey(id), name);
    if (o.truth && !o.truth.has(idKey(id))) continue;
    items.push({
      questionId: id,
      image: resolve(join(folder, name)),
      imageFile: name,
      question: o.prompt ?? CHAIR_PROMPT,
      category: "chair",
    });
  }
  if (items.length === 0) {
    throw new EvalFileError(
      `${folder}: no ${o.truth ? "annotated " : ""}images (looked for .jpg/.png/.webp/.bmp/.gif${o.truth ? " whose id is in the annotations" : ""})`,
    );
  }
  return items;
}

/** The COCO vocabulary, or one from a synonyms file in chair.py's line format. */
export function loadChairVocab(synonymsFile?: string): ChairVocab {
  if (!synonymsFile) return COCO_VOCAB;
  if (!existsSync(synonymsFile)) throw new EvalFileError(`${synonymsFile}: synonyms file not found`);
  const v = parseSynonyms(readFileSync(synonymsFile, "utf8"), synonymsFile);
  if (v.objects.size === 0) throw new EvalFileError(`${synonymsFile}: no words`);
  return v;
}
