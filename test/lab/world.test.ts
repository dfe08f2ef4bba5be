// The synthetic world: deterministic per seed, the planted priors measurable in the data, and POPE
// files built with POPE's construction (balanced labels, three negative-sampling strategies).
import { describe, expect, it } from "vitest";
import { sampleScene, sceneClasses, caption, type Scene } from "../../src/lab/scenes.js";
import { renderScene } from "../../src/lab/render.js";
import { CLASSES, DEFAULT_KNOBS, neutralKnobs, type WorldKnobs } from "../../src/lab/world.js";
import { popeQuestions, rankNegatives, sceneStats, trainingSample, POPE_SPLITS } from "../../src/lab/pope.js";

const scenes = (seed: number, n: number, k: WorldKnobs = DEFAULT_KNOBS, split = "train"): Scene[] =>
  Array.from({ length: n }, (_, i) => sampleScene(seed, split, i, k));

/** Sampling error bound: 4 standard deviations of a proportion. */
const tol = (p: number, n: number) => 4 * Math.sqrt((p * (1 - p)) / n) + 1e-9;

describe("lab world generator", () => {
  it("is deterministic per seed and differs across seeds", () => {
    const a = scenes(7, 20);
    expect(scenes(7, 20)).toEqual(a);
    expect(renderScene(a[3], 7).data).toEqual(renderScene(scenes(7, 20)[3], 7).data);
    expect(scenes(8, 20)).not.toEqual(a);
    // A scene depends only on its key, not on which scenes were drawn before it.
    expect(sampleScene(7, "train", 3, DEFAULT_KNOBS)).toEqual(a[3]);
  });

  it("renders 56×56 RGB images with visible objects and a caption naming them", () => {
    const s = scenes(1, 1)[0];
    const img = renderScene(s, 1);
    expect([img.width, img.height, img.data.length]).toEqual([56, 56, 56 * 56 * 3]);
    for (const o of s.objects) expect(caption(s)).toContain(`${o.colour} ${o.cls}`);
    expect(caption(s)).toContain(s.background);
  });

  it("plants the co-occurrence prior: P(Y | X) = base + (1 − base)·knob", () => {
    const n = 4000;
    for (const knob of [0, 0.5, 0.9]) {
      const k = { ...DEFAULT_KNOBS, cooccurrence: knob, visualPrior: 0 };
      const st = sceneStats(scenes(3, n, k));
      const base = sceneStats(scenes(3, n, { ...k, cooccurrence: 0 }));
      for (const [x, y] of k.pairs) {
        const nx = st.freq[x];
        const p0 = base.co[x][y] / base.freq[x];
        const want = p0 + (1 - p0) * knob;
        expect(Math.abs(st.co[x][y] / nx - want)).toBeLessThan(tol(want, nx));
      }
    }
  });

  it("plants the visual prior (home object per background) and the colour prior", () => {
    const all = scenes(4, 3000);
    for (const [bg, home] of Object.entries(DEFAULT_KNOBS.homes)) {
      const on = all.filter((s) => s.background === bg);
      const p = on.filter((s) => sceneClasses(s).includes(home)).length / on.length;
      expect(p).toBeGreaterThanOrEqual(DEFAULT_KNOBS.visualPrior - tol(DEFAULT_KNOBS.visualPrior, on.length));
    }
    const trees = all.flatMap((s) => s.objects).filter((o) => o.cls === "tree");
    const green = trees.filter((o) => o.colour === "green").length / trees.length;
    expect(green).toBeGreaterThanOrEqual(DEFAULT_KNOBS.colourPrior - tol(DEFAULT_KNOBS.colourPrior, trees.length));
  });

  it("plants the language prior: the share of Yes answers equals yesRate", () => {
    const all = scenes(5, 1500);
    const turns = all
      .flatMap((s) => trainingSample(s, DEFAULT_KNOBS, 5, `${s.id}.png`, 5).turns)
      .filter((t) => t.answer === "Yes" || t.answer === "No");
    const yes = turns.filter((t) => t.answer === "Yes").length / turns.length;
    expect(Math.abs(yes - DEFAULT_KNOBS.yesRate)).toBeLessThan(tol(DEFAULT_KNOBS.yesRate, turns.length));
    // And answers are true: Yes exactly when the object is in the scene.
    for (const s of all.slice(0, 50)) {
      for (const t of trainingSample(s, DEFAULT_KNOBS, 5, "x.png", 5).turns) {
        const m = /Is there a (\w+) in/.exec(t.question);
        if (m) expect(t.answer).toBe(sceneClasses(s).includes(m[1] as never) ? "Yes" : "No");
      }
    }
  });

  it("neutral test scenes have no planted priors", () => {
    const k = neutralKnobs(DEFAULT_KNOBS);
    expect([k.cooccurrence, k.visualPrior, k.colourPrior, k.yesRate]).toEqual([0, 0, 0, 0.5]);
  });
});

describe("POPE files", () => {
  const train = scenes(0, 1500);
  const test = scenes(0, 150, neutralKnobs(DEFAULT_KNOBS), "test");
  const stats = sceneStats(train);
  const files = Object.fromEntries(POPE_SPLITS.map((s) => [s, popeQuestions(s, test, stats, 0, (sc) => `${sc.id}.png`)]));

  it("are balanced, per image, with correct labels", () => {
    for (const split of POPE_SPLITS) {
      const qs = files[split];
      expect(qs.filter((q) => q.label === "yes").length).toBe(qs.length / 2);
      expect(qs.map((q) => q.question_id)).toEqual(qs.map((_, i) => i + 1));
      for (const q of qs) {
        const s = test.find((t) => `${t.id}.png` === q.image)!;
        const cls = /Is there a (\w+) in the image\?/.exec(q.text)![1];
        expect(sceneClasses(s).includes(cls as never)).toBe(q.label === "yes");
      }
    }
  });

  it("take negatives uniformly (random), by frequency (popular), by co-occurrence (adversarial)", () => {
    const s = test.find((t) => sceneClasses(t).includes("tent") && !sceneClasses(t).includes("tree"))!;
    const present = sceneClasses(s);
    const absent = CLASSES.filter((c) => !present.includes(c));
    const popular = rankNegatives("popular", present, stats, 0, s.id);
    expect(popular.map((c) => stats.freq[c])).toEqual([...absent.map((c) => stats.freq[c])].sort((a, b) => b - a));
    const adv = rankNegatives("adversarial", present, stats, 0, s.id);
    const score = (c: string) => present.reduce((a, p) => a + stats.co[p][c], 0);
    expect(adv.map(score)).toEqual([...absent.map(score)].sort((a, b) => b - a));
    expect(adv.slice(0, 1)).toContain("tree"); // tent's planted follower
    const random = rankNegatives("random", present, stats, 0, s.id);
    expect([...random].sort()).toEqual([...absent].sort());
    // Over many images the random strategy picks every absent class about equally often.
    const counts = new Map<string, number>();
    for (const t of test)
      for (const c of rankNegatives("random", sceneClasses(t), stats, 0, t.id).slice(0, 1)) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(CLASSES.length);
  });

  it("adversarial questions ask about planted followers far more often than random ones", () => {
    const followers = new Set(DEFAULT_KNOBS.pairs.map(([, y]) => y as string));
    const share = (split: string) => {
      const no = files[split].filter((q) => q.label === "no");
      return no.filter((q) => followers.has(/a (\w+) in/.exec(q.text)![1])).length / no.length;
    };
    expect(share("adversarial")).toBeGreaterThan(share("random") + 0.1);
  });
});
