// The lab's own word-level tokenizer, written as a Hugging Face tokenizer.json. Its words are every
// word of the llava_v1 / vicuna_v1 prompt templates, the evaluation suffixes and the synthetic
// world's questions and captions, so prompts built by src/text (unchanged) never hit <unk>.
// Layout follows Llama: <unk>=0, <s>=1, </s>=2, then words; <image> and <pad> come last, as the
// tokens llava-hf appended to Llama's vocabulary.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildPrompt, ONE_WORD_SUFFIX, SINGLE_WORD_PHRASE_SUFFIX, TEMPLATE_NAMES } from "../text/templates.js";
import { BACKGROUNDS, CLASSES, COLOUR_NAMES } from "./world.js";
import { CAPTION_QUESTION, popeQuestion } from "./pope.js";

const HEAD = ["<unk>", "<s>", "</s>"];
const TAIL = ["<image>", "<pad>"];

/** The pieces HF's `Whitespace` pre-tokenizer cuts text into (`\w+|[^\w\s]+`). */
export function words(text: string): string[] {
  return text.match(/\w+|[^\w\s]+/g) ?? [];
}

/** Every text the lab model reads or writes, from which the vocabulary is collected. */
function corpus(): string[] {
  const texts = TEMPLATE_NAMES.map((t) => buildPrompt(t, "", { suffix: ONE_WORD_SUFFIX + SINGLE_WORD_PHRASE_SUFFIX, image: false }));
  texts.push(CAPTION_QUESTION, "Yes No yes no A a and on , .");
  for (const c of CLASSES) texts.push(popeQuestion(c));
  texts.push(COLOUR_NAMES.join(" "), BACKGROUNDS.map((b) => b.name).join(" "));
  return texts;
}

/** Words in first-seen order (deterministic, so ids never move between runs). */
export function labWords(): string[] {
  const seen = new Set<string>();
  for (const t of corpus()) for (const w of words(t)) seen.add(w);
  return [...seen];
}

export function labTokenizerJson(): object {
  const tokens = [...HEAD, ...labWords(), ...TAIL];
  const vocab = Object.fromEntries(tokens.map((t, i) => [t, i]));
  const special = [...HEAD, ...TAIL].map((content) => ({
    id: vocab[content],
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: special,
    normalizer: null,
    pre_tokenizer: { type: "Whitespace" },
    post_processor: null,
    // No decoder: word-level decode joins tokens with single spaces.
    decoder: null,
    model: { type: "WordLevel", vocab, unk_token: "<unk>" },
  };
}

export interface LabVocabInfo {
  vocabSize: number;
  imageTokenId: number;
  padTokenId: number;
  bosTokenId: number;
  eosTokenId: number;
}

export function labVocabInfo(): LabVocabInfo {
  const n = HEAD.length + labWords().length + TAIL.length;
  return { vocabSize: n, imageTokenId: n - 2, padTokenId: n - 1, bosTokenId: 1, eosTokenId: 2 };
}

/** Writes tokenizer.json and tokenizer_config.json into a model directory. */
export function writeLabTokenizer(dir: string): void {
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(labTokenizerJson(), null, 1) + "\n");
  const config = {
    tokenizer_class: "PreTrainedTokenizerFast",
    bos_token: "<s>",
    eos_token: "</s>",
    unk_token: "<unk>",
    pad_token: "<pad>",
    image_token: "<image>",
    add_bos_token: true,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    model_max_length: 512,
    padding_side: "left",
  };
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(config, null, 2) + "\n");
}
