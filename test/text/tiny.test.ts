// The project will train its own small model with its own tokenizer.json. These tests build two
// such vocabularies (BPE + Metaspace, and word-level) with ids laid out unlike Llama's, to make
// sure nothing in src/text assumes bos = 1 or <image> = 32000.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildPrompt, encodePrompt, StreamDecoder, Tokenizer, tokenizerImageToken } from "../../src/text/index.js";

const SPECIALS = ["<pad>", "<unk>", "<s>", "</s>", "<image>"]; // ids 0..4
const added = SPECIALS.map((content, id) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
}));

/** A BPE over single characters plus a few merges, with Metaspace as pre-tokenizer and decoder. */
function tinyBpe(): object {
  const chars = ["▁", ..."abcdefghijklmnopqrstuvwxyzAEINORSTU:?.\n"];
  const merges: [string, string][] = [
    ["▁", "h"],
    ["e", "l"],
    ["el", "l"],
    ["▁h", "ell"],
    ["▁hell", "o"],
    ["▁", "w"],
    ["o", "r"],
  ];
  const pieces = [...SPECIALS, ...chars, ...merges.map(([a, b]) => a + b)];
  const vocab = Object.fromEntries(pieces.map((p, i) => [p, i]));
  const metaspace = { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true };
  return {
    version: "1.0",
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: metaspace,
    post_processor: null,
    decoder: metaspace,
    model: { type: "BPE", vocab, merges, unk_token: "<unk>", byte_fallback: false, fuse_unk: false },
  };
}

/** A word-level vocabulary split on whitespace; no decoder, so decode joins with spaces. */
function tinyWordLevel(): object {
  const words = ["USER:", "ASSISTANT:", "is", "there", "a", "cat", "?", "yes", "no"];
  const vocab = Object.fromEntries([...SPECIALS, ...words].map((w, i) => [w, i]));
  return {
    version: "1.0",
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: "WhitespaceSplit" },
    post_processor: null,
    decoder: null,
    model: { type: "WordLevel", vocab, unk_token: "<unk>" },
  };
}

function writeDir(tokJson: object, config?: object): string {
  const d = mkdtempSync(join(tmpdir(), "tinytok-"));
  writeFileSync(join(d, "tokenizer.json"), JSON.stringify(tokJson));
  if (config) writeFileSync(join(d, "tokenizer_config.json"), JSON.stringify(config));
  return d;
}

describe("tiny BPE vocabulary", () => {
  it("loads from a directory with no tokenizer_config.json and finds its own special ids", async () => {
    const tok = await Tokenizer.fromDir(writeDir(tinyBpe()));
    expect([tok.padId, tok.unkId, tok.bosId, tok.eosId, tok.imageTokenId]).toEqual([0, 1, 2, 3, 4]);
    expect(tok.vocabSize).toBe(5 + 40 + 7);
  });

  it("encodes with BOS although the file has no post-processor, and round-trips", () => {
    const tok = Tokenizer.fromJson(tinyBpe());
    const ids = tok.encode("hello world");
    expect(ids[0]).toBe(2);
    expect(ids[1]).toBe(tok.tokenToId("▁hello"));
    expect(tok.decode(ids)).toBe("hello world");
    expect(tok.encode("hello", { addBos: false })).toEqual([tok.tokenToId("▁hello")]);
  });

  it("keeps <image> as one id inside a llava-hf prompt", () => {
    const tok = Tokenizer.fromJson(tinyBpe(), { bos_token: "<s>", eos_token: "</s>" });
    const ids = encodePrompt(tok, "llava-hf", "is there a cat?");
    expect(ids.filter((id) => id === 4)).toHaveLength(1);
    expect(ids).not.toContain(1); // no <unk>: every character of the template is in the vocab
    // As with llava-hf, the text after <image> is its own segment and gets its own "▁".
    expect(tok.idToToken(ids[ids.indexOf(4) + 1]!)).toBe("▁");
    expect(tok.decode(ids)).toBe("USER:  \nis there a cat? ASSISTANT:");
    const orig = tokenizerImageToken(tok, buildPrompt("llava-hf", "is there a cat?"));
    expect(orig.filter((id) => id === -200)).toHaveLength(1);
    expect(orig[0]).toBe(2);
  });

  it("streams exactly", () => {
    const tok = Tokenizer.fromJson(tinyBpe());
    const ids = tok.encode("hello world\nis there a cat? no.");
    const dec = new StreamDecoder(tok);
    const out = ids.map((id) => dec.push(id)).join("") + dec.flush();
    expect(out).toBe(tok.decode(ids));
    expect(out).toBe("hello world\nis there a cat? no.");
  });
});

describe("tiny word-level vocabulary", () => {
  it("encodes words, maps unknown words to <unk>, and honours a config image id", () => {
    const tok = Tokenizer.fromJson(tinyWordLevel(), { bos_token: "<s>", eos_token: "</s>" }, { imageTokenId: 4 });
    expect(tok.imageTokenId).toBe(4);
    expect(tok.encode("is there a dog ?")).toEqual([2, 7, 8, 9, 1, 11]);
    expect(tok.decode([2, 7, 8, 9, 10, 11, 3])).toBe("is there a cat ?");
  });

  it("streams exactly", () => {
    const tok = Tokenizer.fromJson(tinyWordLevel());
    const ids = [2, 12, 4, 13, 12, 3];
    const dec = new StreamDecoder(tok);
    expect(ids.map((id) => dec.push(id)).join("") + dec.flush()).toBe("yes no yes");
  });

  it("reports a missing BOS token clearly", () => {
    const tj = tinyWordLevel() as { added_tokens: { content: string }[]; model: { vocab: Record<string, number> } };
    delete tj.model.vocab["<s>"];
    tj.added_tokens = tj.added_tokens.filter((t) => t.content !== "<s>");
    expect(() => Tokenizer.fromJson(tj)).toThrow(/no bos_token "<s>"/);
  });
});
