// Stops (EOS, max new tokens, stop strings) and rows that finish independently, through the real
// llava tokenizer from the fixtures and scripted scores.
import { beforeAll, expect, test } from "vitest";
import { describeFixtures } from "../helpers/fixtures.js";
import { generate } from "../../src/generate/generate.js";
import type { Tokenizer } from "../../src/text/tokenizer.js";
import { ScriptedSource, fixtureTokenizer } from "./fake-sources.js";

const V = 32064;
const EOS = 2;
const PAD = 32001;

describeFixtures("stops", (fixtures) => {
  let tok: Tokenizer;
  const ids = (s: string) => tok.encode(s, { addBos: false });
  beforeAll(async () => {
    tok = await fixtureTokenizer(fixtures);
  });

  test("EOS ends the row; the EOS id is kept in tokens, not in text", () => {
    const script = [...ids("Two cats."), EOS, ...ids(" More")];
    const res = generate(new ScriptedSource([script], V), { tokenizer: tok, eosTokenIds: [EOS], maxNewTokens: 50 });
    expect(res.tokens[0]).toEqual(script.slice(0, script.indexOf(EOS) + 1));
    expect(res.text).toEqual(["Two cats."]);
    expect(res.finishReasons).toEqual(["eos"]);
  });

  test("several EOS ids (generation_config may list more than one)", () => {
    const res = generate(new ScriptedSource([[...ids("a b c"), 29889]], V), { eosTokenIds: [EOS, 29889], maxNewTokens: 50 });
    expect(res.tokens[0].at(-1)).toBe(29889);
    expect(res.finishReasons).toEqual(["eos"]);
  });

  test("max new tokens ends the row with reason length; no step is run after the last token", () => {
    const src = new ScriptedSource([ids("one two three four five six")], V);
    const res = generate(src, { tokenizer: tok, eosTokenIds: [EOS], maxNewTokens: 3 });
    expect(res.tokens[0]).toEqual(ids("one two three four five six").slice(0, 3));
    expect(res.finishReasons).toEqual(["length"]);
    expect(src.fed.length).toBe(2);
    expect(generate(new ScriptedSource([[5]], V), { maxNewTokens: 0 }).tokens).toEqual([[]]);
  });

  test("a stop string ends the row and is cut from the text", () => {
    const res = generate(new ScriptedSource([ids("Hello world. ### tail")], V), { tokenizer: tok, stop: ["###"], maxNewTokens: 50 });
    expect(res.text).toEqual(["Hello world. "]);
    expect(res.tokens[0]).toEqual(ids("Hello world. ###"));
    expect(res.finishReasons).toEqual(["stop"]);
  });

  test("stop strings spanning tokens, the earliest of several, and whitespace-only ones", () => {
    const run = (text: string, stop: string[]) =>
      generate(new ScriptedSource([[...ids(text), EOS]], V), { tokenizer: tok, stop, eosTokenIds: [EOS], maxNewTokens: 80 });
    expect(run("Hello world again", ["lo wor"]).text).toEqual(["Hel"]);
    expect(run("a cat. USER: next", ["USER:", "cat"]).text).toEqual(["a "]);
    const para = run("First.\n\nSecond.", ["\n\n"]);
    expect(para.text).toEqual(["First."]);
    expect(para.finishReasons).toEqual(["stop"]);
    expect(run("no stop here", ["zzz"]).finishReasons).toEqual(["eos"]);
  });

  test("stop strings need a tokenizer and must not be empty", () => {
    expect(() => generate(new ScriptedSource([[5]], V), { stop: ["x"] })).toThrow(/tokenizer/);
    expect(() => generate(new ScriptedSource([[5]], V), { tokenizer: tok, stop: [""] })).toThrow(/empty/);
  });

  test("rows finish independently: a finished row is fed the pad token and the loop ends with the last row", () => {
    const short = [...ids("Yes"), EOS];
    const long = [...ids("No, there is a dog."), EOS];
    const src = new ScriptedSource([short, long], V);
    const res = generate(src, { tokenizer: tok, eosTokenIds: [EOS], padTokenId: PAD, maxNewTokens: 50 });
    expect(res.tokens).toEqual([short, long]);
    expect(res.text).toEqual(["Yes", "No, there is a dog."]);
    expect(res.finishReasons).toEqual(["eos", "eos"]);
    expect(src.fed.length).toBe(long.length - 1);
    expect(src.fed.slice(short.length).every((f) => f[0] === PAD)).toBe(true);
    expect(src.fed.map((f) => f[1])).toEqual(long.slice(0, -1));
    expect(res.timings.decodeTokens).toBe(2 * src.fed.length);
  });

  test("the pad token defaults to the first EOS id", () => {
    const src = new ScriptedSource([[EOS], [7, 8, EOS]], V);
    generate(src, { eosTokenIds: [EOS], maxNewTokens: 10 });
    expect(src.fed.map((f) => f[0])).toEqual([EOS, EOS]);
  });
});
