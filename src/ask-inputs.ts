// What a call's inputs become before the model sees them (api.ts): token ids (each input's prompt, and the
// other prompts a CausalMM plan's branches read) and one batch of preprocessed pixels.
import * as tf from "@tensorflow/tfjs-core";
import type { Tokenizer } from "./text/tokenizer.js";
import { encodePrompt, type TemplateName } from "./text/templates.js";
import {
  loadImage,
  preprocessWithShape,
  type PreprocessMode,
  type PreprocessResult,
  type ProcessorConfig,
  type RgbImage,
} from "./vision/index.js";
import { ICD_DISTURBANCE } from "./causal/presets.js";
import { promptKey, type DecodingPlan } from "./causal/plan.js";
import { concatFloat32 } from "./util/concat.js";

export interface AskInput {
  /** A file path, a decoded image, or null/undefined for a text-only prompt. */
  image?: string | RgbImage | null;
  question: string;
}

/** How a question is put into a prompt. */
export interface PromptStyle {
  template: TemplateName;
  /** Appended to the question verbatim. */
  suffix: string;
}

/** Each input's prompt ids; a batch must encode to one length (the model has no padding mask). */
export function mainPrompts(tokenizer: Tokenizer, inputs: AskInput[], style: PromptStyle): number[][] {
  const prompt = inputs.map((i) => encodePrompt(tokenizer, style.template, i.question, { suffix: style.suffix, image: Boolean(i.image) }));
  const lens = prompt.map((p) => p.length);
  if (lens.some((n) => n !== lens[0])) {
    throw new Error(`batched prompts must encode to the same number of tokens (got ${lens.join(", ")}); the model has no padding mask`);
  }
  return prompt;
}

/** Token ids for every prompt a plan's branches read ("main" is `prompt`). */
export function branchPrompts(
  tokenizer: Tokenizer,
  plan: DecodingPlan | null,
  prompt: number[][],
  inputs: AskInput[],
  style: PromptStyle,
): Record<string, number[][]> {
  const prompts: Record<string, number[][]> = { main: prompt };
  for (const key of new Set(plan?.branches.map(promptKey) ?? []))
    if (key !== "main") prompts[key] = variantPrompts(tokenizer, key, inputs, style);
  return prompts;
}

/** Prompts of the contrast branches that read other text: no image (M3ID-style) or ICD's disturbance. */
function variantPrompts(tokenizer: Tokenizer, key: string, inputs: AskInput[], { template, suffix }: PromptStyle): number[][] {
  if (key === "noimage") return inputs.map((i) => encodePrompt(tokenizer, template, i.question, { suffix, image: false }));
  if (key === "icd") {
    return inputs.map((i) => {
      const ids = encodePrompt(tokenizer, template, i.question, { suffix, image: Boolean(i.image) });
      return [ids[0], ...tokenizer.encode(ICD_DISTURBANCE, { addBos: false }), ...ids.slice(1)];
    });
  }
  throw new Error(`no prompt variant '${key}'`);
}

/** Each input's image preprocessed for CLIP (null for text-only inputs). */
export function preprocessImages(
  inputs: AskInput[],
  processor: ProcessorConfig,
  mode: PreprocessMode,
): Promise<(PreprocessResult | null)[]> {
  const one = async (image: string | RgbImage) =>
    preprocessWithShape(typeof image === "string" ? await loadImage(image) : image, processor, mode);
  return Promise.all(inputs.map((i) => (i.image ? one(i.image) : null)));
}

/** The images as one `[N,3,H,W]` tensor (the caller owns it), or null when no input has one. */
export function pixelBatch(images: (PreprocessResult | null)[]): tf.Tensor4D | null {
  const present = images.filter((x): x is PreprocessResult => x !== null);
  if (!present.length) return null;
  return tf.tensor4d(concatFloat32(present.map((p) => p.data)), [present.length, 3, present[0].height, present[0].width]);
}
