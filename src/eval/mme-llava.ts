// LLaVA-1.5's MME question file, `playground/data/eval/MME/llava_mme.jsonl`, as its model_vqa_loader +
// convert_answer_to_mme.py read it: lines {"question_id": "<subtask>/<image file>", "image", "text",
// "category"} where `text` is MME's question with " Please answer yes or no." replaced by
// "\nAnswer the question using a single word or phrase.". The ground truth stays in the MME folder:
// convert_answer_to_mme.py looks each answer up by (subtask, image stem, question with the LLaVA
// instruction removed and "Please answer yes or no." put back). We match the same way, ask LLaVA's
// text (as model_vqa_loader does) and keep MME's own question for the eval_tool files.
//
// Both questions of an image share one LLaVA question_id, so the answers file keys them by the MME
// folder's ids (`<subtask>/<image file>#1`, `#2`), which convert_answer_to_mme.py also accepts.
import { basename, extname } from "node:path";
import type { EvalItem } from "./answerer.js";
import { EvalFileError, needQuestionText, readRecords } from "./jsonl.js";
import { loadMmeQuestions } from "./mme-data.js";

const LLAVA_INSTRUCTION = "Answer the question using a single word or phrase.";
const MME_INSTRUCTION = "Please answer yes or no.";

/** A question without either answer-format instruction, whitespace collapsed. */
function bare(text: string): string {
  return text.split(LLAVA_INSTRUCTION).join(" ").split(MME_INSTRUCTION).join(" ").replace(/\s+/g, " ").trim();
}

function key(subtask: string, image: string, question: string): string {
  const name = basename(image);
  return JSON.stringify([subtask, name.slice(0, name.length - extname(name).length), bare(question)]);
}

/** The questions of `llava_mme.jsonl`, with labels and images from the MME folder `root`. */
export function loadLlavaMmeQuestions(file: string, root: string, opts: { subtasks?: string[] } = {}): EvalItem[] {
  const records = readRecords(file);
  if (records.length === 0) throw new EvalFileError(`${file}: no questions`);
  const byKey = new Map<string, EvalItem>();
  for (const it of loadMmeQuestions(root)) byKey.set(key(it.category!, it.imageFile!, it.question), it);
  const wanted = opts.subtasks?.length ? new Set(opts.subtasks) : null;
  const used = new Map<EvalItem, string>();
  const items: EvalItem[] = [];
  for (const r of records) {
    const id = r.value.question_id;
    if (typeof id !== "string" || !id.includes("/"))
      throw new EvalFileError(
        `${r.where}: "question_id" must be "<subtask>/<image file>" as in llava_mme.jsonl, got ${JSON.stringify(id)}`,
      );
    const text = needQuestionText(r, "text", id);
    const subtask = id.split("/")[0];
    if (wanted && !wanted.has(subtask)) continue;
    const mme = byKey.get(key(subtask, id, text));
    if (!mme)
      throw new EvalFileError(
        `${r.where}: no MME question ${JSON.stringify(bare(text))} for image ${basename(id)} of subtask "${subtask}" in ${root}`,
      );
    const twice = used.get(mme);
    if (twice) throw new EvalFileError(`${r.where}: the same MME question as ${twice} (${mme.questionId})`);
    used.set(mme, r.where);
    items.push({ ...mme, question: text, meta: { ...mme.meta, mmeQuestion: mme.question, llavaQuestionId: id } });
  }
  if (wanted)
    for (const s of wanted)
      if (!items.some((it) => it.category === s)) throw new EvalFileError(`${file}: no questions of MME subtask "${s}"`);
  return items;
}
