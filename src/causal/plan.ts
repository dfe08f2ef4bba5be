// A contrastive decoding run as data: the branches to compute (each an input variant plus attention
// interventions), and how their logits combine into one score row per step.
import type { Intervention } from "./counterfactual.js";
import type { OfficialCfType } from "./official.js";
import type { ImageAmplification } from "./amplify.js";

/** How a branch's image features are made. */
export type VisionVariant =
  /** CLIP on the real pixels, with these in-encoder interventions (none = factual). */
  | { kind: "clip"; interventions: Intervention[] }
  /** VCD: CLIP on pixels noised by the diffusion forward process. */
  | { kind: "noised"; noiseStep: number; seed: number }
  /** The released CausalMM code: factual features reweighted by an edited attention map. */
  | { kind: "reweight"; type: OfficialCfType; seed: number };

export interface Branch {
  name: string;
  /** `null` = no image in the prompt (the M3ID-style no-image contrast). */
  vision: VisionVariant | null;
  /** Interventions inside the LLM's attention. */
  text: Intervention[];
  /** Which prompt this branch reads (e.g. "icd" for a disturbance system prompt); default "main". */
  prompt?: string;
  /** PAI: pre-softmax amplification of the attention to the image tokens in these LLM layers. */
  amplify?: ImageAmplification;
}

/** One counterfactual term: the mean logits of `branches` (K seeded draws), weighted. */
export interface ContrastTerm {
  branches: number[];
  /** Constant weight, or a function of the 0-based generation step (M3ID's growing weight). */
  weight: number | ((step: number) => number);
}

export interface DecodingPlan {
  /** branches[0] is the factual branch. */
  branches: Branch[];
  terms: ContrastTerm[];
  gamma: number;
  epsilon: number;
  /** The released code's behaviour: counterfactual branches reuse the factual cache after prefill. */
  sharedCache: boolean;
}

export const FACTUAL: Branch = { name: "factual", vision: { kind: "clip", interventions: [] }, text: [] };

/** A stable key for a vision variant, so branches that share one compute it once. */
export function variantKey(v: VisionVariant | null): string {
  return v === null ? "none" : JSON.stringify(v, (k, val) => (k === "given" ? "<given>" : val));
}

export function promptKey(b: Branch): string {
  return b.prompt ?? "main";
}

/** Earliest layer a set of interventions touches (Infinity when none). */
export function firstLayer(ivs: Intervention[]): number {
  return Math.min(Infinity, ...ivs.flatMap((iv) => iv.layers));
}

/** Earliest LLM layer a branch edits, post-softmax or pre-softmax (Infinity when none). */
export function firstTextLayer(b: Branch): number {
  return Math.min(firstLayer(b.text), ...(b.amplify?.layers ?? []));
}
