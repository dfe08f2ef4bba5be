// Where VLind-Bench answers come from: an `eval vlind` answers file (response texts, parsed as the release
// parses them), or the release's own prediction file (data.json with `<model>_pred_*` entries, as its
// instructblip_eval.py / gpt4o_eval.py write it), so either can be scored by `score vlind`.
import { answersById, readAnswers } from "./answers-file.js";
import { readJsonArrayOfObjects } from "./json-located.js";
import { EvalFileError, idKey, isObject } from "./jsonl.js";
import { parseVlindInstance, probeId, trueOrFalse, type VlindInstance } from "./vlind-data.js";
import type { VlindAnswer, VlindAnswers } from "./vlind-score.js";

/** Answers from an `eval vlind` answers file: each probe's response text through infer_true_or_false. */
export function readVlindAnswers(path: string): VlindAnswers {
  const byId = answersById(readAnswers(path));
  return (id) => {
    const a = byId.get(idKey(id));
    return a === undefined ? undefined : trueOrFalse(a.text);
  };
}

/** The release's key suffix of each single probe (d1/d2 are objects keyed by image id). */
const RELEASE_KEYS: Record<string, string> = { a1: "a1_image", a2: "a2_image", b1: "b1", b2: "b2", c1: "c1_image", c2: "c2_image" };

function releaseAnswer(entry: unknown, where: string, key: string): VlindAnswer {
  const a = typeof entry === "object" && entry !== null ? (entry as { answer?: unknown }).answer : undefined;
  if (a !== "True" && a !== "False" && a !== "NA") throw new EvalFileError(`${where}: "${key}" has no "answer" True/False/NA`);
  return a;
}

/**
 * The instances of a release prediction file and the stored `answer` of every probe it holds. A probe the
 * scorer needs but the file lacks is reported by the scorer (score_pipeline.py would stop with a KeyError).
 */
export function readReleasePredictions(path: string, modelId: string): { data: VlindInstance[]; answer: VlindAnswers } {
  const table = new Map<string, VlindAnswer>();
  const pred = `${modelId}_pred`;
  const data = readJsonArrayOfObjects(path, "VLind-Bench prediction file").map((r) => {
    const x = parseVlindInstance(r);
    for (const [probe, suffix] of Object.entries(RELEASE_KEYS)) {
      const key = `${pred}_${suffix}`;
      if (key in r.value) table.set(probeId(x, probe), releaseAnswer(r.value[key], r.where, key));
    }
    for (const probe of ["d1", "d2"]) {
      const key = `${pred}_${probe}`;
      const per = r.value[key];
      if (per === undefined) continue;
      if (!isObject(per)) {
        throw new EvalFileError(`${r.where}: "${key}" is not an object keyed by image id`);
      }
      for (const [img, entry] of Object.entries(per)) table.set(probeId(x, probe, img), releaseAnswer(entry, r.where, `${key}.${img}`));
    }
    return x;
  });
  if (table.size === 0) throw new EvalFileError(`${path}: no "${pred}_*" predictions (is --model-id '${modelId}' right?)`);
  return { data, answer: (id) => table.get(id) };
}
