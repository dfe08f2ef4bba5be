// VLind-Bench (Lee et al., 2024, arXiv 2406.08702; klee972/VLind-Bench): language priors of LVLMs in four
// stages per counterfactual context, read from its `data.json` and image folders the way its
// `eval/instructblip_eval.py` reads them. Each instance with a good image gives these true/false probes:
//
//   stage                     image                                        statement                   expected
//   a  commonsense knowledge  factual/<concept>/<ctx id>_<factual_context>/0.jpg  false_statement (a1)    True
//                                                                            true_statement (a2)          False
//   b  visual perception      counterfactual best_img_id                   "There is <existent_noun> in the given image."     True
//                                                                          "There is <non-existent_noun> in the given image." False
//   c  commonsense bias       counterfactual best_img_id, context in text  true_statement (c1)          True
//                                                                          false_statement (c2)         False
//   d  language prior         every good counterfactual image              true_statement (d1)          True
//                                                                          false_statement (d2)         False
//
// ("true_statement" holds in the counterfactual context, "false_statement" by common sense.) Counterfactual
// images live in counterfactual/<concept>/<context_id>_<context>/<image id>.jpg. Good images are those with
// `aggregated_human_label_good_images[id] >= vote threshold` (default 2); instances without one are skipped.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { EvalItem } from "./answerer.js";
import { readJsonArrayOfObjects } from "./json-located.js";
import { EvalFileError, isObject, needString, type Located } from "./jsonl.js";

/** The release's generation length (model.generate(max_new_tokens=64) in instructblip_eval.py). */
export const VLIND_MAX_NEW_TOKENS = 64;
export const VLIND_VOTE_THRESHOLD = 2;

export interface VlindInstance {
  /** `data.json:<line>` of the instance. */
  where: string;
  concept: string;
  contextId: string;
  context: string;
  factualContext: string;
  trueStatement: string;
  falseStatement: string;
  existentNoun: string;
  nonExistentNoun: string;
  bestImageId: string;
  /** Image id → human votes, in the file's order. */
  votes: [string, number][];
}

/**
 * The release's prompt wordings per stage a-b-c-d: "reversed" = instructblip_eval.py's
 * `commonsense_TF_reversed-simple_TF_reversed-simple_TF_reversed-simple_TF_reversed` (the open-model script:
 * the answer format first), "gpt4o" = gpt4o_eval.py's `commonsense_TF-simple_TF-detailed_TF-detailed_TF`.
 */
export type VlindPrompts = "reversed" | "gpt4o";
export const VLIND_PROMPT_SETS: Record<VlindPrompts, [string, string, string, string]> = {
  reversed: ["commonsense_TF_reversed", "simple_TF_reversed", "simple_TF_reversed", "simple_TF_reversed"],
  gpt4o: ["commonsense_TF", "simple_TF", "detailed_TF", "detailed_TF"],
};

const ONLY = "Only respond in True or False.";
const ASK_IMAGE = "Based on the image, is the given statement true or false?";
const ASK_CONTEXT = "Based on the context, is the given statement true or false?";
const forget = (what: string) => `Forget real-world common sense and just follow the information provided in the ${what}.`;

/** The release's prompt(statement, prompt_type). */
export function statementPrompt(statement: string, type: string): string {
  const s = `Statement: ${statement}`;
  switch (type) {
    case "detailed_TF":
      return `${s}\n${ASK_IMAGE} ${forget("image")} ${ONLY}`;
    case "simple_TF":
      return `${s}\n${ASK_IMAGE} ${ONLY}`;
    case "commonsense_TF":
      return `${s}\nBased on the common sense, is the given statement true or false? ${ONLY}`;
    case "simple_TF_reversed":
      return `${ONLY}\n${s}\n${ASK_IMAGE}`;
    case "commonsense_TF_reversed":
      return `${ONLY}\n${s}\nBased on common sense, is the given statement true or false?`;
    default:
      throw new Error(`unknown VLind-Bench prompt type '${type}'`);
  }
}

/** The release's ctx_prompt(context, statement, prompt_type). */
export function contextPrompt(context: string, statement: string, type: string): string {
  const cs = `Context: ${context}\nStatement: ${statement}`;
  switch (type) {
    case "detailed_TF":
      return `${cs}\n${ASK_CONTEXT} ${forget("context")} ${ONLY}`;
    case "simple_TF":
      return `${cs}\n${ASK_CONTEXT} ${ONLY}`;
    case "simple_TF_reversed":
      return `${ONLY}\n${cs}\n${ASK_CONTEXT}`;
    default:
      throw new Error(`unknown VLind-Bench context prompt type '${type}'`);
  }
}

/** context_id and best_img_id: integers in the release, strings accepted. */
function ident(r: Located<Record<string, unknown>>, key: string): string {
  const v = r.value[key];
  if (typeof v === "number" && Number.isSafeInteger(v)) return String(v);
  if (typeof v === "string" && v !== "") return v;
  throw new EvalFileError(`${r.where}: missing field "${key}" (integer or string)`);
}

function votes(r: Located<Record<string, unknown>>): [string, number][] {
  const v = r.value.aggregated_human_label_good_images;
  if (!isObject(v)) {
    throw new EvalFileError(`${r.where}: missing field "aggregated_human_label_good_images" ({"<image id>": votes})`);
  }
  return Object.entries(v).map(([id, n]) => {
    if (typeof n !== "number" || !Number.isFinite(n)) throw new EvalFileError(`${r.where}: the vote of image "${id}" is not a number`);
    return [id, n];
  });
}

export function parseVlindInstance(r: Located<Record<string, unknown>>): VlindInstance {
  return {
    where: r.where,
    concept: needString(r, "concept"),
    contextId: ident(r, "context_id"),
    context: needString(r, "context"),
    factualContext: needString(r, "factual_context"),
    trueStatement: needString(r, "true_statement"),
    falseStatement: needString(r, "false_statement"),
    existentNoun: needString(r, "existent_noun"),
    nonExistentNoun: needString(r, "non-existent_noun"),
    bestImageId: ident(r, "best_img_id"),
    votes: votes(r),
  };
}

/** data.json: a JSON array of instances; (concept, context_id) must be unique (it names the probes). */
export function loadVlindData(path: string): VlindInstance[] {
  const data = readJsonArrayOfObjects(path, "VLind-Bench data file").map(parseVlindInstance);
  const seen = new Map<string, string>();
  for (const x of data) {
    const first = seen.get(instanceKey(x));
    if (first) throw new EvalFileError(`${x.where}: concept "${x.concept}" context_id ${x.contextId} appears twice (first at ${first})`);
    seen.set(instanceKey(x), x.where);
  }
  if (data.length === 0) throw new EvalFileError(`${path}: no instances`);
  return data;
}

export const instanceKey = (x: VlindInstance): string => `${x.concept}/${x.contextId}`;

/** Image ids voted good (≥ threshold), in the file's order, optionally only among some ids (a style). */
export function goodImages(x: VlindInstance, voteThreshold: number, considered?: readonly string[]): string[] {
  return x.votes.filter(([id, v]) => v >= voteThreshold && (!considered || considered.includes(id))).map(([id]) => id);
}

/** Question id of one probe: `<concept>/<context_id>/<probe>`, plus `/<image id>` for d1/d2. */
export function probeId(x: VlindInstance, probe: string, imageId?: string): string {
  return `${instanceKey(x)}/${probe}${imageId === undefined ? "" : `/${imageId}`}`;
}

export interface VlindItemsOptions {
  /** data/images/counterfactual (the release's --image_dir). */
  imageDir: string;
  /** data/images/factual (--factual_image_dir). */
  factualImageDir: string;
  voteThreshold?: number;
  prompts?: VlindPrompts;
  /** Check that every image exists (default true). */
  checkImages?: boolean;
}

/** Every probe of every instance with a good image: a (factual image), b and c (best image), d per good image. */
export function vlindItems(data: readonly VlindInstance[], o: VlindItemsOptions): EvalItem[] {
  const prompts = o.prompts ?? "reversed";
  if (!(prompts in VLIND_PROMPT_SETS)) {
    throw new Error(`unknown VLind-Bench prompt set '${prompts}' (valid: ${Object.keys(VLIND_PROMPT_SETS).join(", ")})`);
  }
  const [pa, pb, pc, pd] = VLIND_PROMPT_SETS[prompts];
  const threshold = o.voteThreshold ?? VLIND_VOTE_THRESHOLD;
  const items: EvalItem[] = [];
  for (const x of data) {
    const good = goodImages(x, threshold);
    if (good.length === 0) continue;
    const cfDir = `${x.concept}/${x.contextId}_${x.context}`;
    const add = (probe: string, kind: "factual" | "counterfactual", rel: string, question: string, imageId?: string) => {
      const image = join(kind === "factual" ? o.factualImageDir : o.imageDir, rel);
      const questionId = probeId(x, probe, imageId);
      if (o.checkImages !== false && !existsSync(image)) throw new EvalFileError(`${image}: image of ${questionId} (${x.where}) not found`);
      const label = probe.endsWith("1") ? "True" : "False";
      items.push({ questionId, image: resolve(image), imageFile: `${kind}/${rel}`, question, category: probe[0], label });
    };
    const factual = `${x.concept}/${x.contextId}_${x.factualContext}/0.jpg`;
    const best = `${cfDir}/${x.bestImageId}.jpg`;
    add("a1", "factual", factual, statementPrompt(x.falseStatement, pa));
    add("a2", "factual", factual, statementPrompt(x.trueStatement, pa));
    add("b1", "counterfactual", best, statementPrompt(`There is ${x.existentNoun} in the given image.`, pb));
    add("b2", "counterfactual", best, statementPrompt(`There is ${x.nonExistentNoun} in the given image.`, pb));
    add("c1", "counterfactual", best, contextPrompt(x.context, x.trueStatement, pc));
    add("c2", "counterfactual", best, contextPrompt(x.context, x.falseStatement, pc));
    for (const id of good) {
      add("d1", "counterfactual", `${cfDir}/${id}.jpg`, statementPrompt(x.trueStatement, pd), id);
      add("d2", "counterfactual", `${cfDir}/${id}.jpg`, statementPrompt(x.falseStatement, pd), id);
    }
  }
  if (items.length === 0) throw new EvalFileError(`no VLind-Bench instance has a good image (votes ≥ ${threshold})`);
  return items;
}

/** The release's infer_true_or_false: the first space-separated word (after dropping , and .) that is true/false. */
export function trueOrFalse(response: string): "True" | "False" | "NA" {
  for (const w of response.toLowerCase().replace(/\n/g, " ").replace(/,/g, "").replace(/\./g, "").split(" ")) {
    if (w === "true") return "True";
    if (w === "false") return "False";
  }
  return "NA";
}
