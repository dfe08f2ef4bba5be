// Eval question files: POPE in the VCD/CausalMM form (one JSON-lines file per split with labels) and
// in LLaVA's form (llava_pope_test.jsonl + coco_pope_<category>.json label files), and an MME folder
// (questions_answers_YN/*.txt) with LLaVA's llava_mme.jsonl over it, plus an eval_tool results folder
// scored as calculation.py does.
import { join } from "node:path";
import { loadMmeQuestions, readMmeResults } from "../../../src/eval/mme-data.js";
import { loadLlavaMmeQuestions } from "../../../src/eval/mme-llava.js";
import { scoreMme } from "../../../src/eval/mme-score.js";
import { loadPopeQuestions } from "../../../src/eval/pope-data.js";
import { breakJsonText, mutateBytes, mutateJson, type Mutated } from "./mutate.js";
import type { Rng } from "./rng.js";
import { dec, enc, type FuzzCase, type Target } from "./target.js";

const OBJECTS = ["dog", "car", "person", "dining table", "traffic light", "cup"];
const SUFFIX = "\nAnswer the question using a single word or phrase.";

function popeBase(): Record<string, string> {
  const lines = (withLabel: boolean, suffix = "") =>
    OBJECTS.map((o, i) =>
      JSON.stringify({
        question_id: i + 1,
        image: `COCO_val2014_0000000000${40 + (i >> 1)}.jpg`,
        text: `Is there a ${o} in the image?${suffix}`,
        ...(withLabel ? { label: i % 2 ? "no" : "yes" } : { category: "adversarial" }),
      }),
    ).join("\n") + "\n";
  return {
    "coco_pope_random.json": lines(true),
    "llava_pope_test.jsonl": lines(false, SUFFIX),
    "labels/coco_pope_adversarial.json": lines(true),
  };
}

/** One mutation of a JSON-lines text: a field of one record, a broken line, or raw bytes. */
function mutateJsonLines(text: string, rng: Rng): Mutated<string> {
  const lines = text.split("\n");
  const i = rng.int(Math.max(1, lines.length - 1));
  const r = rng.int(10);
  if (r < 6 && lines[i].trim()) {
    const m = mutateJson(JSON.parse(lines[i]), rng, rng.chance(0.7) ? /^(question_id|image|text|label|category)$/ : undefined);
    lines[i] = JSON.stringify(m.value);
    return { value: lines.join("\n"), what: `line ${i + 1}: ${m.what}` };
  }
  if (r < 7) {
    const j = rng.int(lines.length);
    lines.splice(j, 0, lines[i]);
    return { value: lines.join("\n"), what: `duplicate line ${i + 1} at ${j + 1}` };
  }
  if (r < 8) {
    const m = breakJsonText(lines[i], rng);
    lines[i] = m.value;
    return { value: lines.join("\n"), what: `line ${i + 1}: ${m.what}` };
  }
  const m = mutateBytes(enc(text), rng);
  return { value: dec(m.value), what: m.what };
}

export const popeQuestions: Target<Record<string, string>> = {
  name: "pope-questions",
  timeoutMs: 10_000,
  async base() {
    return popeBase();
  },
  make(files, rng): FuzzCase {
    const name = rng.pick(Object.keys(files));
    const m = mutateJsonLines(files[name], rng);
    return { files: { ...files, [name]: m.value }, what: `${name}: ${m.what}`, header: true };
  },
  async run(dir) {
    const vcd = loadPopeQuestions(join(dir, "coco_pope_random.json"), { requireLabels: true });
    const llava = loadPopeQuestions(join(dir, "llava_pope_test.jsonl"), { labelsDir: join(dir, "labels"), requireLabels: true });
    if (vcd.length === 0 || llava.length === 0) throw new Error(`${dir}: a question file loaded as empty`);
  },
};

function mmeBase(): Record<string, string | Uint8Array> {
  const jpg = Uint8Array.from([0xff, 0xd8, 0xff, 0xd9]); // never decoded here; loading only needs the name
  const files: Record<string, string | Uint8Array> = {};
  const qa = (o: string) =>
    `Is there a ${o} in this image? Please answer yes or no.\tYes\nIs there a cat in this image? Please answer yes or no.\tNo\n`;
  for (const [i, o] of ["dog", "car"].entries()) {
    files[`MME/existence/00000${i}.jpg`] = jpg;
    files[`MME/existence/00000${i}.txt`] = qa(o);
    files[`MME/artwork/images/${i}.jpg`] = jpg;
    files[`MME/artwork/questions_answers_YN/${i}.txt`] = qa(o);
  }
  const llava = (sub: string, img: string, o: string) =>
    [o, "cat"].map((x) =>
      JSON.stringify({
        question_id: `${sub}/${img}`,
        image: `${sub}/${img}`,
        text: `Is there a ${x} in this image?${SUFFIX}`,
        category: sub,
      }),
    );
  files["llava_mme.jsonl"] =
    [
      ...llava("existence", "000000.jpg", "dog"),
      ...llava("existence", "000001.jpg", "car"),
      ...llava("artwork", "0.jpg", "dog"),
      ...llava("artwork", "1.jpg", "car"),
    ].join("\n") + "\n";
  files["results/existence.txt"] =
    ["000000.jpg", "000001.jpg"]
      .flatMap((img) => [
        `${img}\tIs there a dog in this image? Please answer yes or no.\tYes\tYes, there is.`,
        `${img}\tIs there a cat in this image? Please answer yes or no.\tNo\tno`,
      ])
      .join("\n") + "\n";
  return files;
}

export const mmeQuestions: Target<Record<string, string | Uint8Array>> = {
  name: "mme-questions",
  timeoutMs: 10_000,
  async base() {
    return mmeBase();
  },
  make(files, rng): FuzzCase {
    const name = rng.pick(Object.keys(files).filter((f) => f.endsWith(".txt") || f.endsWith(".jsonl")));
    const text = files[name] as string;
    let m: Mutated<Uint8Array>;
    if (name.endsWith(".jsonl")) {
      const j = mutateJsonLines(text, rng);
      m = { value: enc(j.value), what: j.what };
    } else if (rng.chance(0.5)) m = mutateBytes(enc(text), rng);
    else {
      const rows = text.split("\n");
      const i = rng.int(rows.length);
      const cells = rows[i].split("\t");
      const j = rng.int(cells.length);
      cells[j] = rng.pick(["", "yes", "No", "YES ", "🐕 yes", "maybe", "\t", "\r", "a\tb", "x".repeat(5000)]);
      rows[i] = cells.join("\t");
      m = { value: enc(rows.join("\n")), what: `row ${i + 1} field ${j + 1} = ${JSON.stringify(cells[j].slice(0, 20))}` };
    }
    return { files: { ...files, [name]: m.value }, what: `${name}: ${m.what}`, header: true };
  },
  async run(dir) {
    const items = loadMmeQuestions(join(dir, "MME"));
    if (items.length === 0) throw new Error(`${dir}: MME folder loaded as empty`);
    if (loadLlavaMmeQuestions(join(dir, "llava_mme.jsonl"), join(dir, "MME")).length === 0)
      throw new Error(`${dir}: llava_mme.jsonl loaded as empty`);
    scoreMme(readMmeResults(join(dir, "results")));
  },
};
