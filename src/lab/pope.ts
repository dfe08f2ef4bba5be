// Questions about scenes: training conversations (yes/no with the planted answer imbalance, and
// captions) and POPE-style test files built the way POPE (Li et al., 2023) builds them: every
// ground-truth object gives a "yes" question and one absent object a "no" question, the absent
// object chosen uniformly (random), by training frequency (popular) or by how often it co-occurs
// in training with the objects present (adversarial).
import { stream } from "../util/rng.js";
import { ONE_WORD_SUFFIX, SINGLE_WORD_PHRASE_SUFFIX } from "../text/templates.js";
import { CLASSES, type ObjectClass, type WorldKnobs } from "./world.js";
import { caption, sceneClasses, type Scene } from "./scenes.js";

export const POPE_SPLITS = ["random", "popular", "adversarial"] as const;
export type PopeSplit = (typeof POPE_SPLITS)[number];

export interface PopeQuestion {
  question_id: number;
  image: string;
  text: string;
  label: "yes" | "no";
}

export interface Turn {
  question: string;
  answer: string;
}

/** One training conversation about one image (LLaVA's multi-turn format). */
export interface TrainSample {
  id: string;
  image: string;
  turns: Turn[];
}

export const CAPTION_QUESTION = "Describe the image briefly.";

export function popeQuestion(cls: string): string {
  return `Is there a ${cls} in the image?`;
}

/** Object counts and pair counts over a set of scenes (POPE's popular/adversarial rankings). */
export interface SceneStats {
  scenes: number;
  freq: Record<string, number>;
  /** co[x][y] = number of scenes holding both x and y. */
  co: Record<string, Record<string, number>>;
}

export function sceneStats(scenes: Scene[]): SceneStats {
  const freq: Record<string, number> = Object.fromEntries(CLASSES.map((c) => [c, 0]));
  const co: Record<string, Record<string, number>> = Object.fromEntries(
    CLASSES.map((c) => [c, Object.fromEntries(CLASSES.map((d) => [d, 0]))]),
  );
  for (const s of scenes) {
    const cls = sceneClasses(s);
    for (const a of cls) {
      freq[a]++;
      for (const b of cls) if (a !== b) co[a][b]++;
    }
  }
  return { scenes: scenes.length, freq, co };
}

/** The absent objects in the order a POPE strategy takes them. */
export function rankNegatives(split: PopeSplit, present: ObjectClass[], stats: SceneStats, seed: number, sceneId: string): ObjectClass[] {
  const absent = CLASSES.filter((c) => !present.includes(c));
  if (split === "random") {
    const perm = stream(seed, "pope-random", sceneId).permutation(absent.length);
    return Array.from(perm, (i) => absent[i]);
  }
  // Stable sorts: ties keep CLASSES order, so the files are a pure function of the statistics.
  const score = (c: ObjectClass) => (split === "popular" ? stats.freq[c] : present.reduce((s, p) => s + stats.co[p][c], 0));
  return [...absent].sort((a, b) => score(b) - score(a) || stats.freq[b] - stats.freq[a]);
}

/** One POPE file: per image, yes/no pairs for every present object (at most `perImage`). */
export function popeQuestions(
  split: PopeSplit,
  scenes: Scene[],
  stats: SceneStats,
  seed: number,
  imagePath: (s: Scene) => string,
  perImage = 3,
): PopeQuestion[] {
  const out: PopeQuestion[] = [];
  for (const s of scenes) {
    const present = sceneClasses(s).slice(0, perImage);
    const negatives = rankNegatives(split, sceneClasses(s), stats, seed, s.id).slice(0, present.length);
    present.forEach((p, i) => {
      out.push({ question_id: out.length + 1, image: imagePath(s), text: popeQuestion(p), label: "yes" });
      out.push({ question_id: out.length + 1, image: imagePath(s), text: popeQuestion(negatives[i]), label: "no" });
    });
  }
  return out;
}

/** The suffixes evaluation scripts append; training sees all three so any of them works at test time. */
const SUFFIXES = ["", ONE_WORD_SUFFIX, SINGLE_WORD_PHRASE_SUFFIX];

/**
 * The training conversation for one scene: `perImage` yes/no questions and one caption request, in a
 * seeded order. Several turns per image (as LLaVA's instruction data has) amortise the long system
 * prompt over many answers; the first turn always has the exact single-turn layout evaluation uses.
 */
export function trainingSample(s: Scene, k: WorldKnobs, seed: number, image: string, perImage: number): TrainSample {
  const rng = stream(seed, "questions", s.id);
  const present = sceneClasses(s);
  const absent = CLASSES.filter((c) => !present.includes(c));
  const turns: Turn[] = [];
  for (let q = 0; q < perImage; q++) {
    // The language prior: "Yes" with probability yesRate, whatever the scene holds.
    const yes = rng.uniform() < k.yesRate;
    const cls = yes ? present[rng.int(present.length)] : absent[rng.int(absent.length)];
    // Suffixes only in the first turn: that is where evaluation puts them, and later turns stay short.
    const suffix = q === 0 ? SUFFIXES[rng.int(SUFFIXES.length)] : "";
    turns.push({ question: popeQuestion(cls) + suffix, answer: yes ? "Yes" : "No" });
  }
  turns.splice(rng.int(perImage + 1), 0, { question: CAPTION_QUESTION, answer: caption(s) });
  return { id: s.id, image, turns };
}
