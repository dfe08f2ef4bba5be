// From user-facing options (library `causal: {...}`, CLI `--cf/--preset/--baseline`) to a DecodingPlan.
// Paper-faithful by default; `preset: "official"` reproduces the released code; baselines (VCD,
// no-image, ICD, PAI) are other branch recipes in the same machinery.
import type { LlavaConfig } from "../model/config.js";
import { noImageWeight } from "./contrast.js";
import { validateIntervention, type Intervention } from "./counterfactual.js";
import type { OfficialCfType } from "./official.js";
import { FACTUAL, type Branch, type ContrastTerm, type DecodingPlan } from "./plan.js";
import { formatCfSpec, parseCfSpecs, type SpecDims } from "./spec.js";
import type { ImageAmplification } from "./amplify.js";

export type Preset = "paper" | "official";
export type Baseline = "vcd" | "noimage" | "icd" | "pai";
export const BASELINES: readonly Baseline[] = ["vcd", "noimage", "icd", "pai"];

export interface CausalOptions {
  /** "paper" (default): interventions inside the attention, own caches. "official": the released code. */
  preset?: Preset;
  /**
   * Counterfactual branches. Each entry is one branch: a spec string (`vision:uniform@sel`,
   * `text:random@8-16:h0,3`, `both` = two branches, `A+B` = one branch with both interventions) or
   * interventions as data. Default (paper preset, no baseline): `vision:uniform@sel`.
   */
  cf?: (string | Intervention | Intervention[])[];
  /** Issue-style shorthand: `{ vision: {...}, text: {...} }` adds one branch per module given. */
  vision?: Omit<Intervention, "module">;
  text?: Omit<Intervention, "module">;
  /** γ (default 1; PAI: its own γ in γ·ℓ_mm − (γ−1)·ℓ_txt, default 1.1). */
  gamma?: number;
  /** ε of the plausibility cutoff (default 0.1; official 0.6). */
  epsilon?: number;
  /** Seeded draws averaged for random/shuffle branches (the E[·] of eqs. 1–3). Default 1. */
  draws?: number;
  /** Seed of random/shuffle counterfactuals and of VCD noise (official default 55). */
  seed?: number;
  /** Counterfactual branches reuse the factual cache after prefill (released code). Official default true. */
  sharedCache?: boolean;
  /** Official preset: how the attention map is edited (default shuffle, as released). */
  officialType?: OfficialCfType;
  baseline?: Baseline;
  /** VCD: diffusion noise step (default 500). */
  noiseStep?: number;
  /** No-image contrast: M3ID's λ (default 0.02). */
  lambda?: number;
  /** PAI: α of a ← a + α·|a| (default 0.2). */
  paiAlpha?: number;
  /** PAI: amplified LLM layers [paiStartLayer, paiEndLayer) (defaults 2 and the number of layers). */
  paiStartLayer?: number;
  paiEndLayer?: number;
}

/** ICD's disturbance instruction, put before the system prompt of the contrast branch. */
export const ICD_DISTURBANCE = "You are a confused object detector.";

export function specDims(cfg: LlavaConfig): SpecDims {
  return {
    visionLayers: cfg.vision.numLayers,
    textLayers: cfg.text.numLayers,
    visionHeads: cfg.vision.numHeads,
    textHeads: cfg.text.numHeads,
    visionFeatureLayer: cfg.visionFeatureLayer,
  };
}

/** Branch interventions from the `cf` entries and the vision/text shorthand. */
function cfBranches(o: CausalOptions, dims: SpecDims): Intervention[][] {
  const out: Intervention[][] = [];
  for (const entry of o.cf ?? []) {
    if (typeof entry !== "string") out.push(Array.isArray(entry) ? entry : [entry]);
    else if (entry.includes("+")) out.push(entry.split("+").flatMap((s) => parseCfSpecs(s, dims)));
    else out.push(...parseCfSpecs(entry, dims).map((iv) => [iv]));
  }
  if (o.vision) out.push([{ ...o.vision, module: "vision" }]);
  if (o.text) out.push([{ ...o.text, module: "text" }]);
  for (const b of out) for (const iv of b) validateIntervention(iv, dims);
  return out.length ? out : [parseCfSpecs("vision:uniform@sel", dims)];
}

/** One branch per draw for random/shuffle (seeds seed, seed+1, …), one otherwise. */
function draws(ivs: Intervention[], n: number, seed: number): Intervention[][] {
  const stochastic = ivs.some((iv) => iv.type === "random" || iv.type === "shuffle");
  if (!stochastic || n <= 1) return [ivs.map((iv) => ({ ...iv, seed: iv.seed ?? seed }))];
  return Array.from({ length: n }, (_, d) => ivs.map((iv) => ({ ...iv, seed: (iv.seed ?? seed) + d })));
}

function branchOf(ivs: Intervention[]): Branch {
  const vision = ivs.filter((iv) => iv.module === "vision");
  const text = ivs.filter((iv) => iv.module === "text");
  return { name: ivs.map(formatCfSpec).join("+"), vision: { kind: "clip", interventions: vision }, text };
}

function baselinePlan(o: CausalOptions, seed: number): { branch: Branch; weight: ContrastTerm["weight"] } {
  const gamma = o.gamma ?? 1;
  switch (o.baseline) {
    case "vcd":
      return { branch: { name: "vcd-noise", vision: { kind: "noised", noiseStep: o.noiseStep ?? 500, seed }, text: [] }, weight: 1 };
    case "noimage": {
      const lambda = o.lambda ?? 0.02;
      noImageWeight(0, gamma, lambda); // checks γ and λ now, not at the first decode step
      // M3ID: t = 1 for the first generated token
      const weight = (step: number) => noImageWeight(step + 1, gamma, lambda);
      return { branch: { name: "no-image", vision: null, text: [], prompt: "noimage" }, weight };
    }
    case "icd":
      return { branch: { name: "icd", vision: FACTUAL.vision, text: [], prompt: "icd" }, weight: 1 };
    default:
      throw new Error(`unknown baseline '${o.baseline}' (valid: ${BASELINES.join(", ")})`);
  }
}

export function buildPlan(o: CausalOptions, cfg: LlavaConfig): DecodingPlan {
  const preset = o.preset ?? "paper";
  if (preset !== "paper" && preset !== "official") throw new Error(`unknown preset '${preset}' (valid: paper, official)`);
  const official = preset === "official";
  const seed = o.seed ?? (official ? 55 : 0);
  const base = { gamma: o.gamma ?? 1, epsilon: o.epsilon ?? (official ? 0.6 : 0.1), sharedCache: o.sharedCache ?? official };
  if (!(base.epsilon >= 0 && base.epsilon <= 1)) throw new Error(`epsilon must be in [0, 1], got ${base.epsilon}`);
  if (!Number.isFinite(base.gamma)) throw new Error(`gamma must be a finite number, got ${base.gamma}`);
  if (o.draws !== undefined && !(Number.isInteger(o.draws) && o.draws >= 1))
    throw new Error(`draws must be an integer ≥ 1, got ${o.draws}`);
  if (o.baseline) {
    if (official || o.cf || o.vision || o.text)
      throw new Error("a baseline replaces the counterfactual branches: don't combine --baseline with --cf or --preset official");
    if (o.baseline === "pai") return paiPlan(o, cfg);
    const b = baselinePlan(o, seed);
    return { ...base, branches: [FACTUAL, b.branch], terms: [{ branches: [1], weight: b.weight }] };
  }
  if (official) {
    if (o.cf || o.vision || o.text)
      throw new Error("the official preset has its own counterfactual (attention reweighting); don't combine it with --cf");
    const reweight: Branch = {
      name: `official-reweight-${o.officialType ?? "shuffle"}`,
      vision: { kind: "reweight", type: o.officialType ?? "shuffle", seed },
      text: [],
    };
    return { ...base, branches: [FACTUAL, reweight], terms: [{ branches: [1], weight: 1 }] };
  }
  const dims = specDims(cfg);
  const branches: Branch[] = [FACTUAL];
  const terms: ContrastTerm[] = [];
  for (const ivs of cfBranches(o, dims)) {
    const first = branches.length;
    for (const d of draws(ivs, o.draws ?? 1, seed)) branches.push(branchOf(d));
    terms.push({ branches: Array.from({ length: branches.length - first }, (_, i) => first + i), weight: 1 });
  }
  return { ...base, branches, terms };
}

/**
 * The options (dotted AskOptions paths) a preset fills in when the caller leaves them undefined:
 * what settings files report as coming from the preset rather than from a flag or a default.
 */
export function presetFills(o: CausalOptions): string[] {
  if (o.preset !== "official") return [];
  const sampling = Object.keys(presetSampling(o));
  return [...sampling, "causal.epsilon", "causal.seed", "causal.sharedCache", "causal.officialType"];
}

/** PAI's amplification from the options: α and layers [start, end), checked against the model. */
export function paiAmplification(o: CausalOptions, cfg: LlavaConfig): ImageAmplification {
  const L = cfg.text.numLayers;
  const alpha = o.paiAlpha ?? 0.2;
  const start = o.paiStartLayer ?? 2;
  const end = o.paiEndLayer ?? L;
  if (!Number.isFinite(alpha)) throw new Error(`PAI alpha must be finite, got ${alpha}`);
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start < end && end <= L)) {
    throw new Error(
      `PAI layers [${start}, ${end}) are not a non-empty range within this model's ${L} text layers ` +
        `(valid: 0 ≤ start < end ≤ ${L}; PAI's defaults are 2 and ${L}: set --pai-start-layer/--pai-end-layer)`,
    );
  }
  return { alpha, layers: Array.from({ length: end - start }, (_, i) => start + i) };
}

/**
 * PAI (LALBJ/PAI): branch 0 reads the image with amplified attention to it; the text-only branch reads
 * the prompt without the image and no amplification. PAI's CFG step, γ·(log p_mm − log p_txt) + log p_txt
 * cut where log p_mm < log 0.1 + max, is the contrast (1 + γ'w)ℓ_mm − γ'w·ℓ_txt with γ' = γ and
 * w = (γ − 1)/γ (log-softmax and raw logits differ by one constant per row, which changes neither the
 * cutoff nor the ranking). γ = 1 is PAI without CFG: amplification only, no text-only branch, no cutoff.
 */
function paiPlan(o: CausalOptions, cfg: LlavaConfig): DecodingPlan {
  const gamma = o.gamma ?? 1.1;
  if (!Number.isFinite(gamma) || gamma === 0) throw new Error(`PAI needs a finite non-zero gamma (PAI default 1.1), got ${gamma}`);
  const amplified: Branch = { name: "pai-amplified", vision: FACTUAL.vision, text: [], amplify: paiAmplification(o, cfg) };
  if (gamma === 1) return { branches: [amplified], terms: [], gamma, epsilon: o.epsilon ?? 0, sharedCache: o.sharedCache ?? false };
  const textOnly: Branch = { name: "pai-text-only", vision: null, text: [], prompt: "noimage" };
  return {
    branches: [amplified, textOnly],
    terms: [{ branches: [1], weight: (gamma - 1) / gamma }],
    gamma,
    epsilon: o.epsilon ?? 0.1,
    sharedCache: o.sharedCache ?? false,
  };
}

/** Sampling defaults that come with a preset (the released code samples at T = 1, top-p 1, seed 55). */
export function presetSampling(o: CausalOptions): { temperature?: number; topP?: number; seed?: number } {
  return o.preset === "official" ? { temperature: 1, topP: 1, seed: o.seed ?? 55 } : {};
}

/**
 * Sampling options with the preset's defaults filled in where the caller left them undefined (an
 * absent CLI flag must not override the released code's T = 1, top-p 1, seed 55).
 */
export function withPresetSampling<T extends { causal?: CausalOptions; temperature?: number; topP?: number; seed?: number }>(opts: T): T {
  if (!opts.causal) return opts;
  const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
  return { ...presetSampling(opts.causal), ...given } as T;
}

/** A JSON-safe description of a plan, for settings files and `--json`. */
export function describePlan(p: DecodingPlan): Record<string, unknown> {
  return {
    branches: p.branches.map((b) => b.name),
    ...(p.branches.some((b) => b.amplify) ? { amplify: p.branches.map((b) => b.amplify ?? null) } : {}),
    terms: p.terms.map((t) => ({ branches: t.branches, weight: typeof t.weight === "number" ? t.weight : "m3id(step)" })),
    gamma: p.gamma,
    epsilon: p.epsilon,
    sharedCache: p.sharedCache,
  };
}
