// The one path from decoding options to a LogitsSource, for every caller (Llava.ask/stream/generate, the
// eval answerer, the explorer): the plan is built once per call (`decodingPlan`; the settings describe
// that same object) and `decodingSource` turns (model, plan, prompts, image or cached prefix) into the
// source. Plain decoding is the model itself (ModelSource); a plan, or a cached prefix, is CausalSource.
import type * as tf from "@tensorflow/tfjs-core";
import type { LlavaModel } from "../model/llava.js";
import type { LlavaConfig } from "../model/config.js";
import { ModelSource, type LogitsSource } from "../generate/source.js";
import { CausalSource, type CausalSourceOptions, type PrefixState } from "./source.js";
import { buildPlan, type CausalOptions } from "./presets.js";
import { FACTUAL, type DecodingPlan } from "./plan.js";

/** Plain decoding as a plan: the factual branch alone, no contrast (a cached prefix needs a plan). */
export const PLAIN_PLAN: DecodingPlan = { branches: [FACTUAL], terms: [], gamma: 0, epsilon: 0, sharedCache: false };

/** The plan of `causal` (CausalMM, a baseline or a preset); null = plain decoding. */
export function decodingPlan(causal: CausalOptions | undefined, cfg: LlavaConfig): DecodingPlan | null {
  return causal ? buildPlan(causal, cfg) : null;
}

export interface SourceInput {
  /** Token ids per prompt key: "main" and every other one a branch reads (`Llava.branchPrompts`). */
  prompts: Record<string, number[][]>;
  /** Images for the `<image>` tokens. Not owned. */
  pixels?: tf.Tensor4D | null;
  /** A prompt prefix already run through every branch (`decodingPrefix`), instead of pixels. Not owned. */
  prefix?: PrefixState;
  /** Sees every step's per-branch logits and the contrast scores (the explorer's top-k tables). */
  onStep?: CausalSourceOptions["onStep"];
}

/** The scores of `plan` on `input`; the caller disposes the source. */
export function decodingSource(model: LlavaModel, plan: DecodingPlan | null, input: SourceInput): LogitsSource {
  if (plan === null && !input.prefix && !input.onStep) return new ModelSource(model, input.prompts.main, { pixels: input.pixels ?? null });
  const { prompts, pixels, prefix, onStep } = input;
  return new CausalSource(model, { plan: plan ?? PLAIN_PLAN, prompts, pixels, prefix, onStep });
}

/** Runs the prompt prefix `ids` (per prompt key) with the image through every branch of `plan`; the caller owns it. */
export function decodingPrefix(
  model: LlavaModel,
  plan: DecodingPlan | null,
  ids: Record<string, number[]>,
  pixels: tf.Tensor4D,
): PrefixState {
  return CausalSource.buildPrefix(model, plan ?? PLAIN_PLAN, ids, { pixels });
}
