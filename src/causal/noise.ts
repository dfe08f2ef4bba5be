// VCD's distorted image (Leng et al., "Mitigating Object Hallucinations in Large Vision-Language Models
// through Visual Contrastive Decoding", CVPR 2024; DAMO-NLP-SG/VCD `vcd_utils/vcd_add_noise.py`): the
// forward diffusion process q(x_t | x_0) applied to the *normalised* pixel values the vision tower gets.
//
//   T = 1000, β = sigmoid(linspace(−6, 6, T))·(5e−3 − 1e−5) + 1e−5, ᾱ = cumprod(1 − β)
//   x_t = sqrt(ᾱ[t])·x_0 + sqrt(1 − ᾱ[t])·ε,  ε ~ N(0, 1)
//
// As in VCD, t indexes the 0-based arrays directly (`alphas_bar_sqrt[noise_step]`), so noise_step = 500
// uses ᾱ after 501 factors, and everything is float32 (torch's default dtype): the schedule below rounds
// every step to float32 in torch's order (linspace from both ends, sequential cumprod). ε comes from the
// seeded Box–Muller generator of rng.ts, not torch.randn, so the noisy pixels are reproducible here but
// are not VCD's numbers.
import { stream } from "../util/rng.js";

export const DIFFUSION_STEPS = 1000;

const f = Math.fround;

/** torch.linspace(start, end, steps) in float32 (first half counted from start, second from end). */
function linspaceF32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  const step = f((end - start) / (steps - 1));
  const half = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) {
    out[i] = i < half ? f(start + f(step * i)) : f(end - f(step * (steps - i - 1)));
  }
  return out;
}

export interface DiffusionSchedule {
  betas: Float32Array;
  /** ᾱ_t = Π_{s≤t} (1 − β_s), 0-based. */
  alphasCumprod: Float32Array;
  alphasBarSqrt: Float32Array;
  oneMinusAlphasBarSqrt: Float32Array;
}

let cached: DiffusionSchedule | null = null;

/** VCD's 1000-step sigmoid schedule, float32. */
export function diffusionSchedule(): DiffusionSchedule {
  if (cached) return cached;
  const x = linspaceF32(-6, 6, DIFFUSION_STEPS);
  const betas = new Float32Array(DIFFUSION_STEPS);
  const alphasCumprod = new Float32Array(DIFFUSION_STEPS);
  const alphasBarSqrt = new Float32Array(DIFFUSION_STEPS);
  const oneMinusAlphasBarSqrt = new Float32Array(DIFFUSION_STEPS);
  let acc = 1;
  for (let i = 0; i < DIFFUSION_STEPS; i++) {
    const sig = f(1 / (1 + Math.exp(-x[i])));
    betas[i] = f(f(sig * f(0.5e-2 - 1e-5)) + f(1e-5));
    acc = i === 0 ? f(1 - betas[i]) : f(acc * f(1 - betas[i]));
    alphasCumprod[i] = acc;
    alphasBarSqrt[i] = f(Math.sqrt(acc));
    oneMinusAlphasBarSqrt[i] = f(Math.sqrt(f(1 - acc)));
  }
  cached = { betas, alphasCumprod, alphasBarSqrt, oneMinusAlphasBarSqrt };
  return cached;
}

/**
 * x_t for the normalised pixels `pixels` (any layout; the noise is i.i.d. per element) at step
 * `noiseStep` (VCD default 500, 0-based, 0..999). Same seed → same output.
 */
export function addDiffusionNoise(pixels: Float32Array, noiseStep = 500, seed = 0): Float32Array {
  if (!Number.isInteger(noiseStep) || noiseStep < 0 || noiseStep >= DIFFUSION_STEPS) {
    throw new Error(`noiseStep must be an integer in 0..${DIFFUSION_STEPS - 1}, got ${noiseStep}`);
  }
  const s = diffusionSchedule();
  const a = s.alphasBarSqrt[noiseStep];
  const b = s.oneMinusAlphasBarSqrt[noiseStep];
  const rng = stream(seed, "vcd-diffusion-noise");
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = f(f(a * pixels[i]) + f(b * rng.normal()));
  return out;
}
