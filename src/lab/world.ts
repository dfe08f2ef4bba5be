// The synthetic world of the hallucination lab: which objects, colours and backgrounds exist, and the
// knobs that plant modality priors on purpose. Everything here is data; scenes.ts samples from it.
//
// Each prior is a knob so that its strength can be measured in the data (test/lab) and in the
// trained model (docs/lab.md):
//   - co-occurrence prior: for each pair (X, Y) in `pairs`, a training scene holding X also gets Y
//     with probability `cooccurrence` (POPE's adversarial split asks about Y when only X is there);
//   - language prior: `yesRate` of the training questions are answered "Yes" (POPE test files are
//     balanced, so a model that learnt the imbalance over-answers "Yes");
//   - visual priors: a background's "home object" is put into `visualPrior` of the scenes on that
//     background, and an object wears its "home colour" with probability `colourPrior`.
//   - popularity: classes are drawn with weights 1/(rank+1)^popularity (POPE's popular split).

export const CLASSES = ["ball", "box", "tent", "kite", "ring", "cross", "flag", "tree", "cup", "moon"] as const;
export type ObjectClass = (typeof CLASSES)[number];

export const COLOURS: Record<string, [number, number, number]> = {
  red: [220, 40, 40],
  green: [40, 170, 60],
  blue: [40, 80, 220],
  yellow: [240, 210, 40],
  orange: [245, 140, 30],
  purple: [140, 50, 180],
  white: [245, 245, 245],
  black: [25, 25, 25],
};
export const COLOUR_NAMES = Object.keys(COLOURS);

export interface Background {
  name: string;
  rgb: [number, number, number];
  /** Pixel noise amplitude, so backgrounds are textured rather than flat. */
  noise: number;
  /** "stripes" backgrounds alternate darker rows (brick-like). */
  pattern: "plain" | "stripes" | "gradient";
}

export const BACKGROUNDS: Background[] = [
  { name: "sky", rgb: [135, 195, 235], noise: 6, pattern: "gradient" },
  { name: "grass", rgb: [95, 150, 70], noise: 18, pattern: "plain" },
  { name: "sand", rgb: [215, 190, 140], noise: 12, pattern: "plain" },
  { name: "snow", rgb: [225, 230, 238], noise: 8, pattern: "plain" },
  { name: "night", rgb: [25, 30, 70], noise: 6, pattern: "gradient" },
  { name: "brick", rgb: [160, 85, 70], noise: 10, pattern: "stripes" },
];

export const TEXTURES = ["solid", "stripes", "dots"] as const;
export type Texture = (typeof TEXTURES)[number];

export interface WorldKnobs {
  /** Planted co-occurrence pairs [X, Y]: Y follows X. */
  pairs: [ObjectClass, ObjectClass][];
  /** P(Y added | X present) in scenes drawn with priors on. */
  cooccurrence: number;
  /** Fraction of training yes/no questions whose answer is "Yes". */
  yesRate: number;
  /** Background → object usually found on it. */
  homes: Record<string, ObjectClass>;
  /** P(home object added | its background). */
  visualPrior: number;
  /** Object → colour it usually has. */
  homeColours: Partial<Record<ObjectClass, string>>;
  /** P(object has its home colour). */
  colourPrior: number;
  /** Zipf exponent of class frequencies (0 = uniform). */
  popularity: number;
  /** Objects drawn before priors add more: uniform in [minObjects, maxObjects]. */
  minObjects: number;
  maxObjects: number;
}

export const DEFAULT_KNOBS: WorldKnobs = {
  pairs: [
    ["tent", "tree"],
    ["kite", "flag"],
    ["cup", "ball"],
  ],
  cooccurrence: 0.9,
  yesRate: 0.6,
  homes: { sky: "kite", grass: "ball", snow: "tree" },
  visualPrior: 0.7,
  homeColours: { tree: "green", moon: "yellow", box: "orange" },
  colourPrior: 0.85,
  popularity: 0.6,
  minObjects: 1,
  maxObjects: 3,
};

/** The same world with every planted prior switched off (held-out test scenes are drawn this way). */
export function neutralKnobs(k: WorldKnobs): WorldKnobs {
  return { ...k, cooccurrence: 0, visualPrior: 0, colourPrior: 0, yesRate: 0.5 };
}

/** Sampling weight of each class (popularity prior), in CLASSES order. */
export function classWeights(k: WorldKnobs): number[] {
  return CLASSES.map((_, i) => 1 / Math.pow(i + 1, k.popularity));
}

/** Squared RGB distance; colours closer than this to the background are not used (invisible). */
export function colourDistance(a: readonly number[], b: readonly number[]): number {
  return (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2;
}
