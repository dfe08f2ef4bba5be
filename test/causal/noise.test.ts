import { describe, expect, it } from "vitest";
import { addDiffusionNoise, diffusionSchedule } from "../../src/causal/noise.js";

describe("VCD diffusion noise", () => {
  it("schedule: sigmoid betas in [1e-5, 5e-3], ᾱ decreasing, matches the float64 formula", () => {
    const s = diffusionSchedule();
    expect(s.betas.length).toBe(1000);
    let acc = 1;
    for (let i = 0; i < 1000; i++) {
      const x = -6 + (12 * i) / 999;
      const beta = (1 / (1 + Math.exp(-x))) * (5e-3 - 1e-5) + 1e-5;
      acc *= 1 - beta;
      expect(Math.abs(s.betas[i] - beta)).toBeLessThan(1e-9);
      expect(Math.abs(s.alphasCumprod[i] - acc)).toBeLessThan(1e-5);
      if (i > 0) expect(s.alphasCumprod[i]).toBeLessThan(s.alphasCumprod[i - 1]);
    }
    // VCD indexes ᾱ[noise_step] directly: step 500 → ᾱ after 501 factors.
    expect(s.alphasBarSqrt[500] ** 2).toBeCloseTo(s.alphasCumprod[500], 6);
  });

  it("x_t = sqrt(ᾱ_t)·x + sqrt(1 − ᾱ_t)·ε with ε ~ N(0,1), seeded", () => {
    const n = 30000;
    const x = new Float32Array(n).fill(0.8);
    const s = diffusionSchedule();
    const a = s.alphasBarSqrt[500];
    const b = s.oneMinusAlphasBarSqrt[500];
    const y = addDiffusionNoise(x);
    const eps = Array.from(y, (v) => (v - a * 0.8) / b);
    const mean = eps.reduce((p, v) => p + v, 0) / n;
    const variance = eps.reduce((p, v) => p + (v - mean) ** 2, 0) / n;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
    expect(Array.from(addDiffusionNoise(x.subarray(0, 50)))).toEqual(Array.from(y.subarray(0, 50)));
    expect(Array.from(addDiffusionNoise(x.subarray(0, 50), 500, 1))).not.toEqual(Array.from(y.subarray(0, 50)));
  });

  it("rejects steps outside 0..999", () => {
    expect(() => addDiffusionNoise(new Float32Array(1), 1000)).toThrow(/0\.\.999/);
    expect(() => addDiffusionNoise(new Float32Array(1), 2.5)).toThrow(/integer/);
  });
});
