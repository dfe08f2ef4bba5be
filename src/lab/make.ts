// `causalmm lab make`: writes a synthetic dataset in standard formats — PNG images, LLaVA-style
// training conversations (JSONL), POPE question files (JSONL) and world.json (knobs + statistics).
// Training scenes carry the planted priors; test scenes are drawn from the same world with every
// prior switched off, so the test measures what the model brings in, not what the image shows.
import { writeFileSync } from "node:fs";
import { makeDirs } from "../util/files.js";
import { join } from "node:path";
import { Jimp } from "jimp";
import type { RgbImage } from "../vision/image.js";
import { CLASSES, DEFAULT_KNOBS, neutralKnobs, type WorldKnobs } from "./world.js";
import { caption, sampleScene, sceneClasses, type Scene } from "./scenes.js";
import { renderScene } from "./render.js";
import { POPE_SPLITS, popeQuestions, sceneStats, trainingSample, type SceneStats, type TrainSample } from "./pope.js";

export interface MakeOptions {
  out: string;
  seed: number;
  train: number;
  test: number;
  /** Yes/no questions per training image (plus one caption). */
  questionsPerImage?: number;
  imageSize?: number;
  knobs?: Partial<WorldKnobs>;
  onProgress?: (done: number, total: number) => void;
}

export interface LabSummary {
  trainImages: number;
  testImages: number;
  trainConversations: number;
  popeQuestions: Record<string, number>;
  chairImages: number;
}

export async function writePng(path: string, img: RgbImage): Promise<void> {
  const j = new Jimp({ width: img.width, height: img.height });
  const rgba = j.bitmap.data;
  for (let i = 0, k = 0; i < img.width * img.height; i++, k += 3) {
    rgba[i * 4] = img.data[k];
    rgba[i * 4 + 1] = img.data[k + 1];
    rgba[i * 4 + 2] = img.data[k + 2];
    rgba[i * 4 + 3] = 255;
  }
  writeFileSync(path, await j.getBuffer("image/png"));
}

function jsonl(rows: object[]): string {
  return rows.map((r) => JSON.stringify(r)).join("\n") + (rows.length ? "\n" : "");
}

export function makeScenes(seed: number, split: string, n: number, k: WorldKnobs): Scene[] {
  return Array.from({ length: n }, (_, i) => sampleScene(seed, split, i, k));
}

/** LLaVA's training format: one conversation per line, the image placeholder in the first turn. */
function conversation(s: TrainSample): object {
  return {
    id: s.id,
    image: s.image,
    conversations: s.turns.flatMap((t, i) => [
      { from: "human", value: i === 0 ? `<image>\n${t.question}` : t.question },
      { from: "gpt", value: t.answer },
    ]),
  };
}

function sceneRecord(s: Scene): object {
  return { id: s.id, image: `${s.id}.png`, background: s.background, objects: s.objects, classes: sceneClasses(s), caption: caption(s) };
}

async function writeImages(dir: string, scenes: Scene[], seed: number, size: number, tick: () => void): Promise<void> {
  for (const s of scenes) {
    await writePng(join(dir, `${s.id}.png`), renderScene(s, seed, size));
    tick();
  }
}

function worldJson(o: MakeOptions, knobs: WorldKnobs, stats: SceneStats): object {
  const pairs = knobs.pairs.map(([x, y]) => ({ x, y, pYgivenX: stats.freq[x] ? stats.co[x][y] / stats.freq[x] : null }));
  return {
    seed: o.seed,
    train: o.train,
    test: o.test,
    imageSize: o.imageSize ?? 56,
    knobs,
    testKnobs: neutralKnobs(knobs),
    trainStats: stats,
    plantedPairs: pairs,
  };
}

/**
 * The lab CHAIR split (docs/eval.md): every test scene's object classes as CHAIR ground truth
 * (`{image_id, objects}` lines, image id = file stem) and the lab's vocabulary in chair.py's synonyms
 * format (one class per line; plurals reach it through the lemmatiser), so `causalmm eval chair` and
 * `score chair` run on the held-out images unchanged.
 */
function writeChairSplit(dir: string, test: Scene[]): void {
  makeDirs(dir, "the CHAIR split");
  writeFileSync(join(dir, "lab_chair_objects.jsonl"), jsonl(test.map((s) => ({ image_id: s.id, objects: sceneClasses(s) }))));
  writeFileSync(join(dir, "lab_synonyms.txt"), CLASSES.join("\n") + "\n");
}

export async function makeLab(o: MakeOptions): Promise<LabSummary> {
  const knobs: WorldKnobs = { ...DEFAULT_KNOBS, ...o.knobs };
  const size = o.imageSize ?? 56;
  const perImage = o.questionsPerImage ?? 5;
  const imgDir = join(o.out, "images");
  makeDirs(join(o.out, "pope"), "the lab POPE questions");
  makeDirs(imgDir, "the lab images");
  const train = makeScenes(o.seed, "train", o.train, knobs);
  const test = makeScenes(o.seed, "test", o.test, neutralKnobs(knobs));
  const stats = sceneStats(train);
  let done = 0;
  const tick = () => o.onProgress?.(++done, o.train + o.test);
  await writeImages(imgDir, train, o.seed, size, tick);
  await writeImages(imgDir, test, o.seed, size, tick);
  const samples = train.map((s) => trainingSample(s, knobs, o.seed, `${s.id}.png`, perImage));
  writeFileSync(join(o.out, "train.jsonl"), jsonl(samples.map(conversation)));
  writeFileSync(join(o.out, "scenes_train.jsonl"), jsonl(train.map(sceneRecord)));
  writeFileSync(join(o.out, "scenes_test.jsonl"), jsonl(test.map(sceneRecord)));
  const counts: Record<string, number> = {};
  for (const split of POPE_SPLITS) {
    const qs = popeQuestions(split, test, stats, o.seed, (s) => `${s.id}.png`);
    writeFileSync(join(o.out, "pope", `lab_pope_${split}.jsonl`), jsonl(qs));
    counts[split] = qs.length;
  }
  writeChairSplit(join(o.out, "chair"), test);
  writeFileSync(join(o.out, "world.json"), JSON.stringify(worldJson(o, knobs, stats), null, 2) + "\n");
  return {
    trainImages: train.length,
    testImages: test.length,
    trainConversations: samples.length,
    popeQuestions: counts,
    chairImages: test.length,
  };
}
