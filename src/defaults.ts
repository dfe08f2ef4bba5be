// What a run uses when the caller names nothing: one table, read by the API, the CLI's flags, the eval
// answerer and the introspection tools (a default changed here changes everywhere).
import type { TemplateName } from "./text/templates.js";
import type { PreprocessMode } from "./vision/processor.js";

export interface Defaults {
  /** The CausalMM/VCD/LLaVA eval prompt format (conv_llava_v1). */
  template: TemplateName;
  /** llava-hf's CLIPImageProcessor (resize + center crop); "pad" is original LLaVA's expand2square. */
  mode: PreprocessMode;
  /** `ask`, `Llava.ask/stream/generate` and `generate()`. */
  maxNewTokens: number;
  /** `eval pope|mme`: answers are a word or a sentence (`eval chair` uses CHAIR_MAX_NEW_TOKENS). */
  evalMaxNewTokens: number;
}

export const DEFAULTS: Readonly<Defaults> = Object.freeze({
  template: "llava_v1",
  mode: "crop",
  maxNewTokens: 512,
  evalMaxNewTokens: 128,
});
