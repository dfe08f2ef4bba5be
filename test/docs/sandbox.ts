// The folder runnable doc blocks run in: small stand-ins, built from the fixture photos, for the data the
// docs name (POPE files in both forms, an MME folder, LLaVA's llava_mme.jsonl, a VLind-Bench data folder, photo.jpg), and `causalmm`
// / `npx causalmm` on PATH running the built CLI. Blocks see $M (the embedded lab model), $BACKEND
// (wasm) and $F / $CAUSALMM_FIXTURES (the fixtures).
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { vlindImagePaths, writeVlindData } from "../eval/vlind-fixture.js";

const SUFFIX = "\nAnswer the question using a single word or phrase.";

function jsonl(path: string, rows: unknown[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
}

function copy(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
}

function popeFiles(dir: string, photos: string[]): void {
  const images = ["COCO_val2014_000000000042.jpg", "COCO_val2014_000000000073.jpg"];
  images.forEach((img, i) => {
    copy(photos[i], join(dir, "coco", "val2014", img));
    copy(photos[i], join(dir, "pope", "val2014", img));
  });
  const split = (objects: string[]) =>
    objects.map((o, i) => ({
      question_id: i + 1,
      image: images[i % 2],
      text: `Is there a ${o} in the image?`,
      label: i % 2 ? "no" : "yes",
    }));
  const random = split(["cup", "dog", "rocket", "cat"]);
  const popular = split(["person", "car"]);
  jsonl(join(dir, "data", "POPE", "coco", "coco_pope_random.json"), random);
  jsonl(join(dir, "pope", "coco", "coco_pope_random.json"), random);
  jsonl(join(dir, "pope", "coco", "coco_pope_popular.json"), popular);
  // LLaVA's form: its own ids, the answer-format suffix, all splits in one file
  const llava = [...random.map((q) => ({ ...q, category: "random" })), ...popular.map((q) => ({ ...q, category: "popular" }))];
  jsonl(
    join(dir, "pope", "llava_pope_test.jsonl"),
    llava.map((q, i) => ({ question_id: 30000001 + i, image: q.image, text: q.text + SUFFIX, category: q.category })),
  );
}

function mmeFiles(dir: string, photos: string[]): void {
  const root = join(dir, "MME_Benchmark_release_version");
  const qa = (q1: string, q2: string) => `${q1} Please answer yes or no.\tYes\n${q2} Please answer yes or no.\tNo\n`;
  copy(photos[0], join(root, "existence", "000000006040.jpg"));
  writeFileSync(join(root, "existence", "000000006040.txt"), qa("Is there a cup in this image?", "Is there a giraffe in this image?"));
  copy(photos[1], join(root, "artwork", "images", "10002.jpg"));
  mkdirSync(join(root, "artwork", "questions_answers_YN"));
  writeFileSync(
    join(root, "artwork", "questions_answers_YN", "10002.txt"),
    qa("Is this artwork a photograph?", "Is this artwork a sculpture?"),
  );
  const llava = [
    ["existence/000000006040.jpg", "Is there a cup in this image?"],
    ["existence/000000006040.jpg", "Is there a giraffe in this image?"],
    ["artwork/10002.jpg", "Is this artwork a photograph?"],
    ["artwork/10002.jpg", "Is this artwork a sculpture?"],
  ];
  jsonl(
    join(dir, "llava_mme.jsonl"),
    llava.map(([id, q]) => ({
      question_id: id,
      image: id.startsWith("artwork") ? "artwork/images/10002.jpg" : id,
      text: q + SUFFIX,
      category: id.split("/")[0],
    })),
  );
}

/** VLind-Bench's layout: data/data.json (the hand-made set of the eval tests) and data/images/{factual,counterfactual}. */
function vlindFiles(dir: string, photos: string[]): void {
  writeVlindData(join(dir, "data"));
  vlindImagePaths().forEach((rel, i) => copy(photos[i % photos.length], join(dir, "data", rel)));
}

function shims(dir: string, main: string): string {
  const bin = join(dir, ".bin");
  mkdirSync(bin);
  const node = JSON.stringify(process.execPath);
  writeFileSync(join(bin, "causalmm"), `#!/bin/sh\nexec ${node} ${JSON.stringify(main)} "$@"\n`);
  writeFileSync(
    join(bin, "npx"),
    `#!/bin/sh\n[ "$1" = causalmm ] || { echo "docs sandbox: npx only runs causalmm" >&2; exit 2; }\nshift\nexec ${node} ${JSON.stringify(main)} "$@"\n`,
  );
  for (const f of ["causalmm", "npx"]) chmodSync(join(bin, f), 0o755);
  return bin;
}

export function makeSandbox(fixtures: string, main: string, labModel: string): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), "causalmm-docs-"));
  const photos = ["coffee_420.jpg", "rocket.jpg"].map((f) => join(fixtures, "preprocess", f));
  copy(photos[1], join(dir, "photo.jpg"));
  popeFiles(dir, photos);
  mmeFiles(dir, photos);
  vlindFiles(dir, photos);
  const bin = shims(dir, main);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${bin}:${process.env.PATH}`,
    M: labModel,
    BACKEND: "wasm",
    F: fixtures,
    CAUSALMM_FIXTURES: fixtures,
  };
  delete env.CAUSALMM_BACKEND;
  return { dir, env };
}
