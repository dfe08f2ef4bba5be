// The lab tokenizer: a word-level HF tokenizer.json that src/text loads like any other, with the
// special tokens where llava-hf keeps them, and every template/suffix word in its vocabulary.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encodePrompt, ONE_WORD_SUFFIX, SINGLE_WORD_PHRASE_SUFFIX, TEMPLATE_NAMES, Tokenizer } from "../../src/text/index.js";
import { labVocabInfo, writeLabTokenizer } from "../../src/lab/vocab.js";
import { encodeConversation } from "../../src/lab/data.js";
import { caption, sampleScene } from "../../src/lab/scenes.js";
import { DEFAULT_KNOBS } from "../../src/lab/world.js";

async function labTokenizer(): Promise<Tokenizer> {
  const dir = mkdtempSync(join(tmpdir(), "labtok-"));
  writeLabTokenizer(dir);
  return Tokenizer.fromDir(dir);
}

describe("lab tokenizer", () => {
  it("loads through src/text with <unk> <s> </s> first and <image> <pad> last", async () => {
    const tok = await labTokenizer();
    const info = labVocabInfo();
    expect([tok.unkId, tok.bosId, tok.eosId]).toEqual([0, 1, 2]);
    expect([tok.imageTokenId, tok.padId, tok.vocabSize]).toEqual([info.imageTokenId, info.padTokenId, info.vocabSize]);
    expect(info.vocabSize).toBeLessThan(400);
    for (const id of [0, 1, 2, info.imageTokenId, info.padTokenId]) expect(tok.isSpecial(id)).toBe(true);
  });

  it("encodes every template and suffix without <unk>, with one image token", async () => {
    const tok = await labTokenizer();
    for (const t of TEMPLATE_NAMES) {
      for (const suffix of ["", ONE_WORD_SUFFIX, SINGLE_WORD_PHRASE_SUFFIX]) {
        const ids = encodePrompt(tok, t, "Is there a kite in the image?", { suffix });
        expect(ids).not.toContain(tok.unkId);
        expect(ids.filter((i) => i === tok.imageTokenId)).toHaveLength(1);
      }
    }
  });

  it("round-trips answers and captions (words joined by spaces)", async () => {
    const tok = await labTokenizer();
    expect(tok.decode(tok.encode("Yes"))).toBe("Yes");
    const cap = caption(sampleScene(0, "train", 1, DEFAULT_KNOBS));
    const ids = tok.encode(cap, { addBos: false });
    expect(ids).not.toContain(tok.unkId);
    expect(tok.decode(ids).replace(/ ([,.])/g, "$1")).toBe(cap);
  });

  it("trains only on answer tokens and their </s>", async () => {
    const tok = await labTokenizer();
    const s = encodeConversation(
      tok,
      [
        { question: "Is there a box in the image?", answer: "No" },
        { question: "Describe the image briefly.", answer: "A red box on sand." },
      ],
      0,
    );
    const trained = s.ids.filter((_, j) => s.trained[j]);
    expect(tok.decode(trained, { skipSpecialTokens: false })).toBe("No </s> A red box on sand . </s>");
    expect(s.ids.slice(0, encodePrompt(tok, "llava_v1", "Is there a box in the image?").length)).toEqual(
      encodePrompt(tok, "llava_v1", "Is there a box in the image?"),
    );
  });
});
