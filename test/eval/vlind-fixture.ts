// A hand-made VLind-Bench set in the release's data.json format (as on huggingface.co/datasets/klee972/
// VLind-Bench: integer context_id and best_img_id, votes keyed by image id strings, "non-existent_noun"),
// with the response text of every probe. The expected scores are derived by hand in vlind.test.ts.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { writeLines } from "./helpers.js";

export const VLIND_DATA = [
  {
    concept: "animal",
    context_id: 0,
    context: "Swans are black",
    factual_context: "Swans are white",
    true_statement: "The swan is black.",
    false_statement: "The swan is white.",
    existent_noun: "a swan",
    "non-existent_noun": "a dog",
    best_img_id: 1,
    aggregated_human_label_good_images: { "0": 3, "1": 2, "2": 1, "4": 2 },
    global_id: 0,
  },
  {
    concept: "animal",
    context_id: 1,
    context: "Cats bark",
    factual_context: "Cats meow",
    true_statement: "The cat barks.",
    false_statement: "The cat meows.",
    existent_noun: "a cat",
    "non-existent_noun": "a horse",
    best_img_id: 0,
    aggregated_human_label_good_images: { "0": 1, "5": 0 },
    global_id: 1,
  },
  {
    concept: "weather",
    context_id: 0,
    context: "Snow is hot",
    factual_context: "Snow is cold",
    true_statement: "The snow is hot.",
    false_statement: "The snow is cold.",
    existent_noun: "snow",
    "non-existent_noun": "a car",
    best_img_id: 9,
    aggregated_human_label_good_images: { "8": 2, "9": 3 },
    global_id: 2,
  },
  {
    concept: "weather",
    context_id: 3,
    context: "Rain falls upward",
    factual_context: "Rain falls downward",
    true_statement: "The rain falls upward.",
    false_statement: "The rain falls downward.",
    existent_noun: "rain",
    "non-existent_noun": "a boat",
    best_img_id: 2,
    aggregated_human_label_good_images: { "2": 2 },
    global_id: 3,
  },
];

/** Response text per probe id (`<concept>/<context_id>/<probe>[/<image id>]`); animal/1 has no good image. */
export const VLIND_RESPONSES: Record<string, string> = {
  // animal/0: a ✓ ("False." → False), b ✓, c ✓ → bc_pass; d on 0 ✓, on 1 ✗ (True/True), on 4 ✓
  "animal/0/a1": "True",
  "animal/0/a2": "False.",
  "animal/0/b1": "True, there is.",
  "animal/0/b2": "False",
  "animal/0/c1": "True",
  "animal/0/c2": "False",
  "animal/0/d1/0": "True",
  "animal/0/d2/0": "False",
  "animal/0/d1/1": "True",
  "animal/0/d2/1": "True",
  "animal/0/d1/4": "The statement is true.",
  "animal/0/d2/4": "false",
  // weather/0: a ✗ (False/False), b ✓, c ✓ but not c_pass; d on 8 ✓, on 9 ✗ (NA/False)
  "weather/0/a1": "False",
  "weather/0/a2": "False",
  "weather/0/b1": "True",
  "weather/0/b2": "False",
  "weather/0/c1": "True",
  "weather/0/c2": "False",
  "weather/0/d1/8": "True",
  "weather/0/d2/8": "False",
  "weather/0/d1/9": "I cannot tell",
  "weather/0/d2/9": "False",
  // weather/3: a ✓, b ✗ (False/False), c ✓ → c_pass but not bc_pass; d on 2 ✓
  "weather/3/a1": "True",
  "weather/3/a2": "False",
  "weather/3/b1": "False",
  "weather/3/b2": "False",
  "weather/3/c1": "True",
  "weather/3/c2": "False",
  "weather/3/d1/2": "True",
  "weather/3/d2/2": "False",
};

export function writeVlindData(dir: string, data: unknown = VLIND_DATA): string {
  const path = join(dir, "data.json");
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(data, null, 4));
  return path;
}

/** An `eval vlind` answers file holding the responses above. */
export function writeVlindAnswers(path: string, responses: Record<string, string> = VLIND_RESPONSES): void {
  writeLines(
    path,
    Object.entries(responses).map(([id, text]) => ({ question_id: id, prompt: "p", text, model_id: "m", metadata: {} })),
  );
}

/** The same answers as the release's prediction file (its `<model>_pred_*` entries on each instance). */
export function releasePredictions(model: string, responses: Record<string, string> = VLIND_RESPONSES): unknown[] {
  const parse = (t: string) => {
    const w = t
      .toLowerCase()
      .replace(/\n/g, " ")
      .replace(/[,.]/g, "")
      .split(" ")
      .find((x) => x === "true" || x === "false");
    return w === undefined ? "NA" : w === "true" ? "True" : "False";
  };
  const entry = (id: string) => ({ response: responses[id], answer: parse(responses[id]) });
  return VLIND_DATA.map((x) => {
    const key = `${x.concept}/${x.context_id}`;
    if (!(`${key}/a1` in responses)) return x;
    const out: Record<string, unknown> = { ...x };
    const single = [
      ["a1", "a1_image"],
      ["a2", "a2_image"],
      ["b1", "b1"],
      ["b2", "b2"],
      ["c1", "c1_image"],
      ["c2", "c2_image"],
    ];
    for (const [probe, suffix] of single) {
      out[`${model}_pred_${suffix}`] = entry(`${key}/${probe}`);
    }
    for (const probe of ["d1", "d2"]) {
      const ids = Object.keys(responses)
        .filter((k) => k.startsWith(`${key}/${probe}/`))
        .map((k) => k.split("/")[3]);
      out[`${model}_pred_${probe}`] = Object.fromEntries(ids.map((img) => [img, entry(`${key}/${probe}/${img}`)]));
    }
    return out;
  });
}

/** The image files `eval vlind` reads for VLIND_DATA (votes ≥ 2), relative to the data folder. */
export function vlindImagePaths(): string[] {
  const out = new Set<string>();
  for (const x of VLIND_DATA) {
    const good = Object.entries(x.aggregated_human_label_good_images)
      .filter(([, v]) => v >= 2)
      .map(([id]) => id);
    if (good.length === 0) continue;
    out.add(`images/factual/${x.concept}/${x.context_id}_${x.factual_context}/0.jpg`);
    for (const id of [String(x.best_img_id), ...good]) out.add(`images/counterfactual/${x.concept}/${x.context_id}_${x.context}/${id}.jpg`);
  }
  return [...out];
}
