import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  buildPrompt,
  encodePrompt,
  encodePromptOriginal,
  ONE_WORD_SUFFIX,
  SINGLE_WORD_PHRASE_SUFFIX,
  tokenizerImageToken,
  Tokenizer,
  type PromptOptions,
  type TemplateName,
} from "../../src/text/index.js";
import { describeFixtures } from "../helpers/fixtures.js";

interface TokCase {
  name: string;
  tags: string[];
  text: string;
  hf_ids: number[];
  llava_original_ids?: number[];
}

const SYSTEM =
  "A chat between a curious human and an artificial intelligence assistant. " +
  "The assistant gives helpful, detailed, and polite answers to the human's questions.";

/** How each template-built fixture prompt was made (the cases file only stores the text). */
const BUILT: Record<string, { template: TemplateName; question: string; opts?: PromptOptions }> = {
  llava_v1_snowboard_one_word: { template: "llava_v1", question: "Is there a snowboard in the image?", opts: { suffix: ONE_WORD_SUFFIX } },
  llava_v1_pope_dining_table: {
    template: "llava_v1",
    question: "Is there a dining table in the image?",
    opts: { suffix: ONE_WORD_SUFFIX },
  },
  llava_v1_pope_person: { template: "llava_v1", question: "Is there a person in the image?", opts: { suffix: ONE_WORD_SUFFIX } },
  llava_v1_pope_traffic_light: {
    template: "llava_v1",
    question: "Is there a traffic light in the image?",
    opts: { suffix: ONE_WORD_SUFFIX },
  },
  vicuna_v1_pope_single_word_phrase: {
    template: "vicuna_v1",
    question: "Is there a car in the image?",
    opts: { suffix: SINGLE_WORD_PHRASE_SUFFIX },
  },
  llava_v1_describe: { template: "llava_v1", question: "Describe this image in detail." },
  llava_hf_chat_template: { template: "llava-hf", question: "What are the things I should be cautious about when I visit this place?" },
};

describe("buildPrompt", () => {
  it("renders llava_v1 exactly as conv_llava_v1.get_prompt()", () => {
    expect(buildPrompt("llava_v1", "Is there a cat in the image?", { suffix: ONE_WORD_SUFFIX })).toBe(
      `${SYSTEM} USER: <image>\nIs there a cat in the image? Please answer this question with one word. ASSISTANT:`,
    );
  });

  it("renders llava-hf and the no-image variants", () => {
    expect(buildPrompt("llava-hf", "What is it?")).toBe("USER: <image>\nWhat is it? ASSISTANT:");
    expect(buildPrompt("llava-hf", "Hi", { image: false })).toBe("USER: Hi ASSISTANT:");
    expect(buildPrompt("llava_v1", "Hi", { image: false })).toBe(`${SYSTEM} USER: Hi ASSISTANT:`);
    expect(buildPrompt("llava-hf", "Q", { imageToken: "<img>" })).toBe("USER: <img>\nQ ASSISTANT:");
  });

  it("has the exact suffix texts of the eval scripts", () => {
    expect(ONE_WORD_SUFFIX).toBe(" Please answer this question with one word.");
    expect(SINGLE_WORD_PHRASE_SUFFIX).toBe("\nAnswer the question using a single word or phrase.");
  });

  it("rejects unknown templates", () => {
    expect(() => buildPrompt("llava_v2" as TemplateName, "q")).toThrow(/unknown prompt template "llava_v2"/);
  });
});

describeFixtures("prompt ids against the llava-hf fixture", (fixtures) => {
  let tok: Tokenizer;
  let cases: TokCase[];
  beforeAll(async () => {
    tok = await Tokenizer.fromDir(join(fixtures, "tokenizer"));
    cases = (JSON.parse(readFileSync(join(fixtures, "tokenizer", "cases.json"), "utf8")) as { cases: TokCase[] }).cases;
  });

  it("covers all 12 <image> prompts, 7 of them built from templates", () => {
    const imageCases = cases.filter((c) => c.text.includes("<image>"));
    expect(imageCases.length).toBe(12);
    expect(imageCases.every((c) => c.llava_original_ids)).toBe(true);
    expect(Object.keys(BUILT).every((n) => cases.some((c) => c.name === n))).toBe(true);
  });

  it("rebuilds each template case's text from template + question", () => {
    for (const [name, b] of Object.entries(BUILT)) {
      expect(buildPrompt(b.template, b.question, b.opts), name).toBe(cases.find((c) => c.name === name)!.text);
    }
  });

  it("encodePrompt gives hf_ids (image = 32000) for each template case", () => {
    for (const [name, b] of Object.entries(BUILT)) {
      expect(encodePrompt(tok, b.template, b.question, b.opts), name).toEqual(cases.find((c) => c.name === name)!.hf_ids);
    }
  });

  it("encodePromptOriginal gives llava_original_ids (image = -200) for each template case", () => {
    for (const [name, b] of Object.entries(BUILT)) {
      const c = cases.find((x) => x.name === name)!;
      expect(encodePromptOriginal(tok, b.template, b.question, b.opts), name).toEqual(c.llava_original_ids);
    }
  });

  it("tokenizerImageToken matches llava_original_ids on every <image> case, incl. multi-image", () => {
    for (const c of cases.filter((x) => x.llava_original_ids)) {
      expect(tokenizerImageToken(tok, c.text), c.name).toEqual(c.llava_original_ids);
      // and the HF ids are the same sequence with 32000 in place of -200
      expect(
        c.hf_ids.map((id) => (id === 32000 ? -200 : id)),
        c.name,
      ).toEqual(c.llava_original_ids);
    }
  });

  it("puts the image right after 'USER: ' and a '▁' before the newline", () => {
    const ids = encodePrompt(tok, "llava-hf", "Is there a dog?");
    const at = ids.indexOf(32000);
    expect(ids.slice(0, at)).toEqual(tok.encode("USER: "));
    expect(ids.slice(at + 1, at + 3)).toEqual([29871, 13]);
    expect(tok.decode(ids.slice(-5))).toBe("ASSISTANT:");
  });

  it("refuses a question that smuggles in a second image", () => {
    expect(() => encodePrompt(tok, "llava-hf", "a <image> b")).toThrow(/2 image tokens, expected 1/);
    expect(encodePrompt(tok, "llava-hf", "no image", { image: false })).not.toContain(32000);
  });
});
