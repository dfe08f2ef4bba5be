import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { StreamDecoder, Tokenizer } from "../../src/text/index.js";
import { describeFixtures } from "../helpers/fixtures.js";

interface TokCase {
  name: string;
  text: string;
  hf_ids: number[];
}

/** Streams ids one by one; checks the per-step invariants and returns the deltas. */
function stream(tok: Tokenizer, ids: number[], skipSpecialTokens = true): string[] {
  const dec = new StreamDecoder(tok, { skipSpecialTokens });
  const full = tok.decode(ids, { skipSpecialTokens });
  const deltas: string[] = [];
  for (const id of ids) {
    deltas.push(dec.push(id));
    // Everything emitted so far is final: a prefix of the complete decode.
    expect(full.startsWith(dec.text)).toBe(true);
  }
  deltas.push(dec.flush());
  expect(deltas.join("")).toBe(full);
  expect(dec.text).toBe(full);
  return deltas;
}

/** True when a delta would show a broken character: U+FFFD or a lone surrogate. */
function broken(s: string): boolean {
  return (
    /\uFFFD|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/u.test(s) ||
    /[\uD800-\uDBFF]$/.test(s) ||
    /^[\uDC00-\uDFFF]/.test(s)
  );
}

/** Small deterministic PRNG so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

describeFixtures("StreamDecoder on the llava-hf tokenizer", (fixtures) => {
  let tok: Tokenizer;
  let cases: TokCase[];
  beforeAll(async () => {
    tok = await Tokenizer.fromDir(join(fixtures, "tokenizer"));
    cases = (JSON.parse(readFileSync(join(fixtures, "tokenizer", "cases.json"), "utf8")) as { cases: TokCase[] }).cases;
  });

  const texts: Record<string, string> = {
    ascii: "The quick brown fox jumps over the lazy dog.",
    accented: "Ünïcödé café naïve résumé Łódź Straße",
    cjk: "日本語のテキストです。한국어 텍스트 你好，世界 𠀀𪛖",
    emoji: "🦙 emoji 😀👍🏽 family 👨‍👩‍👧 flag 🇫🇷",
    mixed: "Yes — a 🦙 on a café table (日本語), 3.14 € and 한국어!\n\nSecond line\twith tab ",
    leadingSpaces: "   starts with spaces\n",
  };
  for (const [name, text] of Object.entries(texts)) {
    it(`streams ${name} text exactly and never emits half a character`, () => {
      for (const addBos of [true, false]) {
        const deltas = stream(tok, tok.encode(text, { addBos }));
        expect(deltas.filter(broken)).toEqual([]);
        expect(deltas.join("")).toBe(text); // Prepend("▁") on encode and Strip on decode cancel out
      }
    });
  }

  it("streams every fixture case exactly, with and without special tokens", () => {
    for (const c of cases) {
      stream(tok, c.hf_ids, true);
      stream(tok, c.hf_ids, false);
    }
  });

  it("holds byte-fallback pieces until the character is complete", () => {
    const ids = tok.encode("a🦙", { addBos: false }); // "▁a" then <0xF0><0x9F><0xA6><0x99>
    expect(ids.length).toBe(5);
    expect(stream(tok, ids)).toEqual(["a", "", "", "", "🦙", ""]);
  });

  it("strips the leading space of the first token only", () => {
    const ids = tok.encode("Hello world"); // <s> ▁Hello ▁world
    expect(stream(tok, ids)).toEqual(["", "Hello", " world", ""]);
    // an answer continuing after a prompt token keeps its space; after skipped specials it is stripped
    expect(stream(tok, [2, 3869, 29892])).toEqual(["", "Yes", ",", ""]);
  });

  it("emits a leftover incomplete character as U+FFFD on flush, as decode() does", () => {
    const dec = new StreamDecoder(tok);
    expect(dec.push(tok.tokenToId("<0xF0>")!)).toBe("");
    expect(dec.flush()).toBe(tok.decode([tok.tokenToId("<0xF0>")!]));
  });

  it("survives random id sequences (bytes, spaces, specials) across window re-anchoring", () => {
    const next = rng(7);
    const pool = [1, 2, 32000, 29871, 13, 259, 1678, 15043, 3186, 29991, 30010, 31000];
    const pick = (): number => {
      const r = next();
      if (r < 0.35) return 3 + Math.floor(next() * 256); // <0x00>..<0xFF>
      if (r < 0.7) return pool[Math.floor(next() * pool.length)]!;
      return Math.floor(next() * 32002);
    };
    for (let run = 0; run < 20; run++) {
      const ids = Array.from({ length: 40 + Math.floor(next() * 400) }, pick);
      stream(tok, ids, run % 2 === 0);
    }
  });

  it("streams a long generation exactly, in bounded time per token", () => {
    const para = cases.find((c) => c.name === "long_paragraph")!.text;
    const text = Array.from({ length: 6 }, (_, i) => `${para} 🦙 日本語 (${i})`).join("\n");
    const ids = tok.encode(text);
    const t0 = performance.now();
    const dec = new StreamDecoder(tok);
    let out = "";
    for (const id of ids) out += dec.push(id);
    out += dec.flush();
    const ms = performance.now() - t0;
    console.log(`[text] stream: ${ids.length} tokens in ${ms.toFixed(1)} ms = ${((1000 * ms) / ids.length).toFixed(1)} µs/token`);
    expect(out).toBe(tok.decode(ids));
  });
});
