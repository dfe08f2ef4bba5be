// Public surface of the text layer: tokenizer, streaming detokenizer, LLaVA prompt templates.
export { Tokenizer } from "./tokenizer.js";
export type { EncodeOptions, DecodeOptions, TokenizerOptions } from "./tokenizer.js";
export { StreamDecoder } from "./stream.js";
export type { StreamOptions } from "./stream.js";
export {
  buildPrompt,
  encodePrompt,
  encodePromptOriginal,
  tokenizerImageToken,
  isTemplateName,
  TEMPLATE_NAMES,
  ONE_WORD_SUFFIX,
  SINGLE_WORD_PHRASE_SUFFIX,
  IMAGE_PLACEHOLDER,
  LLAVA_IMAGE_TOKEN_INDEX,
} from "./templates.js";
export type { TemplateName, PromptOptions } from "./templates.js";
