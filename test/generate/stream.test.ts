// Streaming: the concatenated text deltas equal the final text (= the full decode, cut before a
// stop string), including characters split over byte-fallback tokens.
import { beforeAll, expect, test } from "vitest";
import { describeFixtures } from "../helpers/fixtures.js";
import { generate, stream, type StreamEvent, type GenerateOptions, type GenerateResult } from "../../src/generate/generate.js";
import type { Tokenizer } from "../../src/text/tokenizer.js";
import { ScriptedSource, fixtureTokenizer } from "./fake-sources.js";

const V = 32064;
const EOS = 2;

async function collect(src: ScriptedSource, opts: GenerateOptions): Promise<{ events: StreamEvent[]; result: GenerateResult }> {
  const it = stream(src, opts);
  const events: StreamEvent[] = [];
  for (;;) {
    const r = await it.next();
    if (r.done) return { events, result: r.value };
    events.push(r.value);
  }
}

function textOf(events: StreamEvent[], row: number): string {
  return events
    .filter((e) => e.row === row)
    .map((e) => e.text)
    .join("");
}

const MULTIBYTE = [
  "Café 日本語 🎉 naïve — ok.\n\nNext line",
  "🐱🐶 emoji only 👩‍👩‍👧 family",
  "  leading spaces and trailing  ",
  "Ελληνικά, русский, العربية, עברית; ünïcödé ✓",
];

describeFixtures("stream", (fixtures) => {
  let tok: Tokenizer;
  const ids = (s: string) => tok.encode(s, { addBos: false });
  beforeAll(async () => {
    tok = await fixtureTokenizer(fixtures);
  });

  test.each(MULTIBYTE)("deltas concatenate to the full decode: %j", async (text) => {
    const script = [...ids(text), EOS];
    const { events, result } = await collect(new ScriptedSource([script], V), { tokenizer: tok, eosTokenIds: [EOS], maxNewTokens: 200 });
    expect(events.map((e) => e.tokenId)).toEqual(script);
    expect(textOf(events, 0)).toBe(result.text![0]);
    expect(result.text![0]).toBe(tok.decode(script));
    expect(result.text![0]).toBe(text); // encode adds the "▁" dummy prefix that decode strips
    for (const e of events) expect(e.text).not.toMatch(/\uFFFD/);
    expect(events.at(-1)!.finishReason).toBe("eos");
    expect(events.slice(0, -1).every((e) => e.finishReason === undefined)).toBe(true);
  });

  test("stream and generate agree; ending on length flushes held-back whitespace", async () => {
    const script = ids("Answer: yes  \n");
    const { events, result } = await collect(new ScriptedSource([script], V), { tokenizer: tok, maxNewTokens: script.length });
    expect(textOf(events, 0)).toBe(tok.decode(script));
    expect(result.tokens).toEqual(generate(new ScriptedSource([script], V), { tokenizer: tok, maxNewTokens: script.length }).tokens);
    expect(result.finishReasons).toEqual(["length"]);
  });

  test("no delta ever shows part of a stop string", async () => {
    const script = [...ids("It is a cat.\n### Human: more"), EOS];
    const { events, result } = await collect(new ScriptedSource([script], V), {
      tokenizer: tok,
      eosTokenIds: [EOS],
      stop: ["### Human:"],
      maxNewTokens: 100,
    });
    expect(result.text).toEqual(["It is a cat.\n"]);
    expect(textOf(events, 0)).toBe("It is a cat.\n");
    expect(events.some((e) => e.text.includes("#"))).toBe(false);
  });

  test("a held-back stop prefix that turns out not to be a stop is released", async () => {
    const script = [...ids("a ## b ### c")];
    const { events, result } = await collect(new ScriptedSource([script], V), { tokenizer: tok, stop: ["###"], maxNewTokens: 100 });
    expect(result.text).toEqual(["a ## b "]);
    expect(textOf(events, 0)).toBe("a ## b ");
  });

  test("batch: each row's deltas concatenate to its own text", async () => {
    const rows = [
      [...ids("Short 🎉"), EOS],
      [...ids("A longer answer, naïve — über"), EOS],
    ];
    const { events, result } = await collect(new ScriptedSource(rows, V), { tokenizer: tok, eosTokenIds: [EOS], maxNewTokens: 100 });
    expect(textOf(events, 0)).toBe(result.text![0]);
    expect(textOf(events, 1)).toBe(result.text![1]);
    expect(result.text).toEqual(["Short 🎉", "A longer answer, naïve — über"]);
  });

  test("yields to the event loop between tokens, and breaking out stops generation", async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const src = new ScriptedSource([ids("one two three four five six seven eight nine ten")], V);
    let n = 0;
    const start = Date.now();
    for await (const _ of stream(src, { maxNewTokens: 100 })) {
      await new Promise((r) => setTimeout(r, 2));
      if (++n === 4) break;
    }
    clearInterval(timer);
    expect(Date.now() - start).toBeGreaterThan(0);
    expect(ticks).toBeGreaterThan(0);
    expect(src.fed.length).toBe(3);
  });
});
