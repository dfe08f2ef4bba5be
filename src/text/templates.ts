// LLaVA-1.5 prompt templates and the two ways of turning a prompt into ids.
//
// Text facts (checked against haotian-liu/LLaVA `llava/conversation.py`, VCD and CausalMM
// `experiments/eval/object_hallucination_vqa_llava*.py`):
//   - conv_llava_v1 / conv_vicuna_v1 use SeparatorStyle.TWO, sep " ", sep2 "</s>", roles
//     USER/ASSISTANT. With one user turn and an open assistant turn get_prompt() renders
//     `{system} USER: {msg} ASSISTANT:` (no trailing space, no "</s>").
//   - The message is `<image>\n` + question (mm_use_im_start_end is false for LLaVA-1.5), and the
//     VCD/CausalMM scripts append " Please answer this question with one word." to it.
//   - LLaVA's own POPE/MME question files already end in "\nAnswer the question using a single
//     word or phrase." and its eval uses conv-mode vicuna_v1 (system prompt says "user").
//   - llava-hf's chat template renders `USER: <image>\n{text} ASSISTANT:` with no system prompt.
import type { Tokenizer } from "./tokenizer.js";

/**
 * `llava_v1`: conv_llava_v1 (default conv-mode of the VCD/CausalMM eval scripts).
 * `vicuna_v1`: conv_vicuna_v1 (LLaVA-1.5's own model_vqa_loader evals); same layout, "user" wording.
 * `llava-hf`: the llava-hf/llava-1.5-7b-hf chat template.
 */
export type TemplateName = "llava_v1" | "vicuna_v1" | "llava-hf";

export const TEMPLATE_NAMES: readonly TemplateName[] = ["llava_v1", "vicuna_v1", "llava-hf"];

/** Appended to the question by the VCD and CausalMM POPE/MME scripts (note the leading space). */
export const ONE_WORD_SUFFIX = " Please answer this question with one word.";

/** Ends every question in LLaVA-1.5's own POPE/MME question files (note the leading newline). */
export const SINGLE_WORD_PHRASE_SUFFIX = "\nAnswer the question using a single word or phrase.";

/** The placeholder LLaVA puts in prompt text; the tokenizer may use a different string. */
export const IMAGE_PLACEHOLDER = "<image>";

/** Original LLaVA's IMAGE_TOKEN_INDEX: the id tokenizer_image_token puts where the image goes. */
export const LLAVA_IMAGE_TOKEN_INDEX = -200;

const SYSTEM_HUMAN =
  "A chat between a curious human and an artificial intelligence assistant. " +
  "The assistant gives helpful, detailed, and polite answers to the human's questions.";
const SYSTEM_USER =
  "A chat between a curious user and an artificial intelligence assistant. " +
  "The assistant gives helpful, detailed, and polite answers to the user's questions.";

interface TemplateSpec {
  /** Text before the first role; for SeparatorStyle.TWO this is system + sep. */
  head: string;
  user: string;
  assistant: string;
  /** Separator after the user message (sep of SeparatorStyle.TWO). */
  sep: string;
}

const TEMPLATES: Record<TemplateName, TemplateSpec> = {
  llava_v1: { head: SYSTEM_HUMAN + " ", user: "USER", assistant: "ASSISTANT", sep: " " },
  vicuna_v1: { head: SYSTEM_USER + " ", user: "USER", assistant: "ASSISTANT", sep: " " },
  "llava-hf": { head: "", user: "USER", assistant: "ASSISTANT", sep: " " },
};

export interface PromptOptions {
  /** Appended verbatim to the question, e.g. ONE_WORD_SUFFIX. Default "". */
  suffix?: string;
  /** Put `<image>\n` before the question. Default true. */
  image?: boolean;
  /** The image placeholder string. Default "<image>". */
  imageToken?: string;
}

export function isTemplateName(name: string): name is TemplateName {
  return (TEMPLATE_NAMES as readonly string[]).includes(name);
}

/** Renders a single-turn prompt that ends with "ASSISTANT:", ready for generation. */
export function buildPrompt(template: TemplateName, question: string, opts: PromptOptions = {}): string {
  const spec = TEMPLATES[template];
  if (!spec) throw new Error(`unknown prompt template "${template}" (known: ${TEMPLATE_NAMES.join(", ")})`);
  const image = (opts.image ?? true) ? (opts.imageToken ?? IMAGE_PLACEHOLDER) + "\n" : "";
  const message = image + question + (opts.suffix ?? "");
  return `${spec.head}${spec.user}: ${message}${spec.sep}${spec.assistant}:`;
}

/**
 * Ids as llava-hf / HF `tokenizers` produce them: BOS, then the prompt with each `<image>` as the
 * single id `tok.imageTokenId` (32000 for llava-hf). The text after each image gets its own
 * leading "▁" (29871) because HF normalizes each segment between added tokens separately.
 */
export function encodePrompt(tok: Tokenizer, template: TemplateName, question: string, opts: PromptOptions = {}): number[] {
  const wantsImage = opts.image ?? true;
  if (wantsImage && tok.imageTokenId === null) {
    throw new Error(
      `${tok.source}: this tokenizer has no "<image>" token (library callers: pass imageTokenId, or use encodePromptOriginal)`,
    );
  }
  const imageToken = opts.imageToken ?? tok.imageToken ?? IMAGE_PLACEHOLDER;
  const ids = tok.encode(buildPrompt(template, question, { ...opts, imageToken }));
  // A question that itself contains "<image>" would add image slots the caller did not ask for.
  const slots = ids.filter((id) => id === tok.imageTokenId).length;
  if (slots !== (wantsImage ? 1 : 0)) {
    throw new Error(`prompt encodes to ${slots} image tokens, expected ${wantsImage ? 1 : 0}`);
  }
  return ids;
}

/** Ids as original LLaVA's `tokenizer_image_token` builds them for the same prompt. */
export function encodePromptOriginal(
  tok: Tokenizer,
  template: TemplateName,
  question: string,
  opts: PromptOptions & { imageIndex?: number } = {},
): number[] {
  const imageToken = opts.imageToken ?? IMAGE_PLACEHOLDER;
  return tokenizerImageToken(tok, buildPrompt(template, question, { ...opts, imageToken }), opts.imageIndex, imageToken);
}

/**
 * Port of LLaVA's `llava/mm_utils.py::tokenizer_image_token`:
 *   1. split the prompt on "<image>" and tokenize every chunk with BOS (an empty chunk is [BOS]);
 *   2. if the first chunk starts with BOS, emit that BOS once ("offset" = 1);
 *   3. join the chunks with the image index, dropping the first `offset` ids of every chunk.
 * So only the first BOS survives and each image becomes one `imageIndex` (-200). Note the chunk
 * after an image starts with "▁" (29871) from SentencePiece's dummy prefix, like HF's ids.
 * LLaVA tokenizes chunks with SentencePiece; on text without `<s>`/`</s>`/`<unk>` strings that
 * gives the same ids as this tokenizer.
 */
export function tokenizerImageToken(
  tok: Tokenizer,
  prompt: string,
  imageIndex: number = LLAVA_IMAGE_TOKEN_INDEX,
  imageToken: string = IMAGE_PLACEHOLDER,
): number[] {
  const chunks = prompt.split(imageToken).map((c) => (c.length > 0 ? tok.encode(c, { addBos: true }) : [tok.bosId]));
  const offset = chunks[0]!.length > 0 && chunks[0]![0] === tok.bosId ? 1 : 0;
  const ids: number[] = offset ? [tok.bosId] : [];
  chunks.forEach((chunk, i) => {
    if (i > 0) ids.push(imageIndex);
    ids.push(...chunk.slice(offset));
  });
  return ids;
}
