// Contrastive scoring against the goldens' greedy tokens, plus the algebra of the rule.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readNpy } from "../../src/weights/npy.js";
import { describeFixtures } from "../helpers/fixtures.js";
import { averageDraws, contrastLogits, m3idGamma, m3idWeight, noImageContrast } from "../../src/causal/contrast.js";
import { argmax } from "../../src/util/argmax.js";

const F = (xs: number[]) => Float32Array.from(xs);

describe("contrastLogits", () => {
  it("single and multimodal rules", () => {
    const l = F([1, 2, 3]);
    const cf = F([0.5, 2.5, 1]);
    const cf2 = F([1, 1, 1]);
    expect(Array.from(contrastLogits(l, [{ logits: cf, weight: 1 }], { gamma: 0.5, epsilon: 0 }))).toEqual(
      [1.25, 1.75, 4].map(Math.fround),
    );
    const multi = contrastLogits(
      l,
      [
        { logits: cf, weight: 1 },
        { logits: cf2, weight: 1 },
      ],
      { gamma: 1, epsilon: 0 },
    );
    expect(Array.from(multi)).toEqual([3 * 1 - 0.5 - 1, 3 * 2 - 2.5 - 1, 3 * 3 - 1 - 1].map(Math.fround));
  });

  it("plausibility cutoff uses the factual logits", () => {
    const l = F([0, -1, -3, 0.5]);
    const cf = F([5, -10, -10, 5]);
    const s = contrastLogits(l, [{ logits: cf, weight: 1 }], { gamma: 1, epsilon: 0.1 });
    // log 0.1 + 0.5 = −1.80: token 2 (−3) is cut although its contrast score is the largest.
    expect(s[2]).toBe(-Infinity);
    expect(argmax(s)).toBe(1);
  });

  it("γ = 0 and ε → 0 give the factual argmax", () => {
    const l = F([0.3, 2.2, -1, 2.1]);
    const cf = F([9, -9, 9, 9]);
    for (const eps of [0, 1e-30]) expect(argmax(contrastLogits(l, [{ logits: cf, weight: 3 }], { gamma: 0, epsilon: eps }))).toBe(1);
  });

  it("rejects bad options", () => {
    expect(() => contrastLogits(F([1]), [], { gamma: 1, epsilon: 2 })).toThrow(/epsilon/);
    expect(() => contrastLogits(F([1]), [{ logits: F([1, 2]), weight: 1 }], { gamma: 1, epsilon: 0.1 })).toThrow(/entries/);
  });
});

describe("averageDraws", () => {
  it("logits mode is the mean, probs mode the log of the mixture", () => {
    const a = F([0, Math.log(3)]);
    const b = F([Math.log(3), 0]);
    expect(Array.from(averageDraws([a, b]))).toEqual(Array.from(F([Math.log(3) / 2, Math.log(3) / 2])));
    const p = averageDraws([a, b], "probs");
    expect(Math.exp(p[0])).toBeCloseTo(0.5, 6);
    expect(Math.exp(p[1])).toBeCloseTo(0.5, 6);
  });

  it("a single draw is returned unchanged in logits mode", () => {
    expect(Array.from(averageDraws([F([1, -2, 3])]))).toEqual([1, -2, 3]);
  });
});

describe("M3ID no-image weight", () => {
  it("γ_t = exp(−λt), weight (1−γ_t)/γ_t grows from 0", () => {
    expect(m3idGamma(0)).toBe(1);
    expect(m3idWeight(0)).toBe(0);
    expect(m3idWeight(10)).toBeCloseTo(Math.exp(0.2) - 1, 12);
    expect(m3idWeight(20)).toBeGreaterThan(m3idWeight(10));
    expect((1 - m3idGamma(7, 0.1)) / m3idGamma(7, 0.1)).toBeCloseTo(m3idWeight(7, 0.1), 12);
  });

  it("as a contrast branch it reproduces ℓ + w_t(ℓ − ℓ_u) whatever γ", () => {
    const l = F([1, 2, 0.5]);
    const u = F([2, 0, 0.5]);
    const t = 30;
    const w = m3idWeight(t);
    const s = contrastLogits(l, [noImageContrast(u, t, 0.7)], { gamma: 0.7, epsilon: 0 });
    l.forEach((v, k) => expect(s[k]).toBeCloseTo(v + w * (v - u[k]), 5));
  });
});

describeFixtures("contrastive decoding vs goldens (γ = 1, ε = 0.1)", (dir) => {
  const causal = join(dir, "llava-tiny", "causal");
  const cases = [
    "cd_vision_uniform_sel",
    "cd_text_uniform_l0",
    "cd_multimodal",
    "cd_official_reweight_uniform_own_cache",
    "official_shared_cache",
  ];
  it.each(cases)("%s: argmax of the contrast equals the golden token where margin ≥ 0.01", (name) => {
    const fact = readNpy(join(causal, `${name}.factual_logits.npy`));
    const cf = readNpy(join(causal, `${name}.cf_logits.npy`));
    const tokens = readNpy(join(causal, `${name}.tokens.npy`)).data;
    const margins = readNpy(join(causal, `${name}.margins.npy`)).data;
    const [n, v] = fact.shape;
    const nCf = cf.shape[1];
    if (name === "cd_multimodal") expect(nCf).toBe(2);
    let compared = 0;
    for (let step = 0; step < n; step++) {
      const l = (fact.data as Float32Array).subarray(step * v, (step + 1) * v);
      const cfs = Array.from({ length: nCf }, (_, i) => ({
        logits: (cf.data as Float32Array).subarray((step * nCf + i) * v, (step * nCf + i + 1) * v),
        weight: 1,
      }));
      const s = contrastLogits(l, cfs, { gamma: 1, epsilon: 0.1 });
      if (margins[step] >= 0.01) {
        expect(argmax(s), `step ${step}`).toBe(tokens[step]);
        compared++;
      }
      // γ = 0 without cutoff is plain greedy on the factual logits.
      expect(argmax(contrastLogits(l, cfs, { gamma: 0, epsilon: 0 }))).toBe(argmax(l));
    }
    expect(compared).toBeGreaterThan(0);
  });
});
