import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Tokenizer } from "../../src/text/index.js";
import { describeFixtures } from "../helpers/fixtures.js";

interface TokCase {
  name: string;
  tags: string[];
  text: string;
  hf_ids: number[];
  hf_decoded: string;
}

function loadCases(fixtures: string): TokCase[] {
  return (JSON.parse(readFileSync(join(fixtures, "tokenizer", "cases.json"), "utf8")) as { cases: TokCase[] }).cases;
}

describeFixtures("Tokenizer on the llava-hf fixture", (fixtures) => {
  const dir = join(fixtures, "tokenizer");
  let tok: Tokenizer;
  let cases: TokCase[];
  beforeAll(async () => {
    tok = await Tokenizer.fromDir(dir);
    cases = loadCases(fixtures);
  });

  it("has 69 cases", () => expect(cases.length).toBe(69));

  it("encodes every case exactly as HF tokenizers (with BOS)", () => {
    const bad = cases.filter((c) => JSON.stringify(tok.encode(c.text)) !== JSON.stringify(c.hf_ids));
    expect(bad.map((c) => c.name)).toEqual([]);
  });

  it("encodes without BOS when asked", () => {
    for (const c of cases) expect(tok.encode(c.text, { addBos: false })).toEqual(c.hf_ids.slice(1));
  });

  it("decodes every case exactly as HF tokenizers (skipping special tokens)", () => {
    const bad = cases.filter((c) => tok.decode(c.hf_ids) !== c.hf_decoded);
    expect(bad.map((c) => c.name)).toEqual([]);
  });

  it("resolves the special ids", () => {
    expect([tok.bosId, tok.eosId, tok.padId, tok.unkId, tok.imageTokenId]).toEqual([1, 2, 32001, 0, 32000]);
    expect(tok.imageToken).toBe("<image>");
    expect(tok.vocabSize).toBe(32002);
    expect(tok.tokenToId("<image>")).toBe(32000);
    expect(tok.idToToken(15043)).toBe("▁Hello");
    expect(tok.idToToken(-200)).toBeUndefined();
    expect(tok.idToToken(32063)).toBeUndefined();
  });

  it("keeps <image> as one token", () => {
    expect(tok.encode("<image>")).toEqual([1, 32000]);
    expect(tok.encode("a<image>b", { addBos: false })).toContain(32000);
  });

  it("keeps or drops special tokens on decode", () => {
    const ids = [1, 15043, 32000, 3186, 2];
    expect(tok.decode(ids)).toBe("Hello world");
    expect(tok.decode(ids, { skipSpecialTokens: false })).toBe("<s> Hello<image> world</s>");
  });

  it("decodes edge inputs without throwing", () => {
    expect(tok.decode([])).toBe("");
    expect(tok.decode([1, 2])).toBe("");
    // -200 and the unused embedding rows have no token; they are dropped like Rust tokenizers does.
    expect(tok.decode([15043, -200, 32050, 3186])).toBe("Hello world");
  });

  it("accepts the image id from the model config", () => {
    const t = Tokenizer.fromJson(readJson(join(dir, "tokenizer.json")), readJson(join(dir, "tokenizer_config.json")), {
      imageTokenId: 32000,
    });
    expect(t.imageTokenId).toBe(32000);
    expect(() => Tokenizer.fromJson(readJson(join(dir, "tokenizer.json")), {}, { imageTokenId: -200 })).toThrow(
      /-200 is not a vocabulary id/,
    );
    expect(() => Tokenizer.fromJson(readJson(join(dir, "tokenizer.json")), {}, { imageTokenId: 3186 })).toThrow(/single token/);
  });

  it("a tokenizer without <image> is named, with the problem, not an internal API", async () => {
    const d = mkdtempSync(join(tmpdir(), "tok-"));
    const tj = readJson(join(dir, "tokenizer.json")) as { added_tokens: Array<{ content: string }> };
    tj.added_tokens = tj.added_tokens.filter((a) => a.content !== "<image>");
    writeFileSync(join(d, "tokenizer.json"), JSON.stringify(tj));
    const msg = new RegExp(
      `^${d}/tokenizer\\.json: the image token id 32000 .* is not in this tokenizer's vocabulary .*no "<image>" token`,
    );
    await expect(Tokenizer.fromDir(d, { imageTokenId: 32000 })).rejects.toThrow(msg);
  });

  it("falls back to <s>/</s> and special_tokens_map.json without tokenizer_config.json", async () => {
    const d = mkdtempSync(join(tmpdir(), "tok-"));
    copyFileSync(join(dir, "tokenizer.json"), join(d, "tokenizer.json"));
    copyFileSync(join(dir, "special_tokens_map.json"), join(d, "special_tokens_map.json"));
    const t = await Tokenizer.fromDir(d);
    expect([t.bosId, t.eosId, t.padId, t.imageTokenId]).toEqual([1, 2, 32001, 32000]);
    expect(t.encode("Hello world!")).toEqual([1, 15043, 3186, 29991]);
  });

  it("measures encode speed on a long text", () => {
    const para = cases.find((c) => c.name === "long_paragraph")!.text;
    const text = Array.from({ length: 20 }, (_, i) => `${para} (${i})`).join("\n");
    const ids = tok.encode(text); // also warms up the JIT
    const enc = median(5, () => tok.encode(text));
    const prompt = median(20, () => tok.encode(para));
    const dec = median(5, () => tok.decode(ids));
    console.log(
      `[text] encode ${ids.length} tokens (${text.length} chars): median ${enc.toFixed(1)} ms = ` +
        `${Math.round(ids.length / (enc / 1000))} tokens/s; one ${tok.encode(para).length}-token paragraph ` +
        `${prompt.toFixed(2)} ms; decode all ${dec.toFixed(2)} ms`,
    );
    expect(tok.decode(ids)).toBe(text);
    expect(ids.length).toBeGreaterThan(3000);
  });
});

/** Median wall time of `n` runs, in ms. */
function median(n: number, f: () => unknown): number {
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    f();
    t.push(performance.now() - t0);
  }
  return t.sort((a, b) => a - b)[Math.floor(n / 2)]!;
}

describe("Tokenizer file errors", () => {
  it("names the missing tokenizer.json", async () => {
    const d = mkdtempSync(join(tmpdir(), "tok-"));
    await expect(Tokenizer.fromDir(d)).rejects.toThrow(`tokenizer file not found: ${join(d, "tokenizer.json")}`);
  });

  it("names a corrupt tokenizer.json", async () => {
    const d = mkdtempSync(join(tmpdir(), "tok-"));
    writeFileSync(join(d, "tokenizer.json"), '{"model": {"vocab": ');
    await expect(Tokenizer.fromDir(d)).rejects.toThrow(`corrupt JSON in ${join(d, "tokenizer.json")}`);
  });

  it("names a tokenizer.json without a model", async () => {
    const d = mkdtempSync(join(tmpdir(), "tok-"));
    writeFileSync(join(d, "tokenizer.json"), '{"version": "1.0"}');
    await expect(Tokenizer.fromDir(d)).rejects.toThrow(/tokenizer\.json is not a Hugging Face tokenizer\.json/);
  });

  it("names a corrupt tokenizer_config.json", async () => {
    const d = mkdtempSync(join(tmpdir(), "tok-"));
    writeFileSync(join(d, "tokenizer.json"), "{}");
    writeFileSync(join(d, "tokenizer_config.json"), "{oops");
    await expect(Tokenizer.fromDir(d)).rejects.toThrow(/corrupt JSON in .*tokenizer_config\.json/);
  });
});

function readJson(path: string): object {
  return JSON.parse(readFileSync(path, "utf8")) as object;
}
