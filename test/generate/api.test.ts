// The library API on the tiny-56 fixture model with the fixture tokenizer: prompts, images, results,
// streaming and load progress.
import { afterAll, beforeAll, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { describeFixtures } from "../helpers/fixtures.js";
import { loadLlava, Llava, type SourceRequest } from "../../src/api.js";
import { encodePrompt, ONE_WORD_SUFFIX } from "../../src/text/index.js";
import { loadImage, preprocess } from "../../src/vision/index.js";
import { generate } from "../../src/generate/generate.js";
import { ModelSource, type LogitsSource } from "../../src/generate/source.js";
import type { LoadProgress } from "../../src/weights/params.js";

/** Records what the API hands to its LogitsSource. */
class Recording extends Llava {
  prompts: number[][][] = [];
  protected override createSource(req: SourceRequest): LogitsSource {
    this.prompts.push(req.prompt);
    return super.createSource(req);
  }
}

describeFixtures("loadLlava / ask / stream", (fixtures) => {
  let m: Recording;
  const progress: LoadProgress[] = [];
  const photo = join(fixtures, "preprocess", "coffee.png");

  beforeAll(async () => {
    const base = await loadLlava(join(fixtures, "llava-tiny-56", "model-f32"), {
      backend: "cpu",
      tokenizerDir: join(fixtures, "tokenizer"),
      onProgress: (p) => progress.push(p),
    });
    m = new Recording(base.dir, base.model, base.tokenizer, base.processor, base.generation, base.loadMs);
  });
  afterAll(() => m?.dispose());

  test("load progress counts up to the total, naming files", () => {
    expect(progress.length).toBeGreaterThan(10);
    const last = progress.at(-1)!;
    expect(last.loadedBytes).toBe(last.totalBytes);
    expect(progress.every((p, i) => i === 0 || p.loadedBytes >= progress[i - 1].loadedBytes)).toBe(true);
    expect(last.file).toMatch(/model\.safetensors$/);
  });

  test("generation defaults come from generation_config.json", () => {
    expect(m.generation).toEqual({ bosTokenId: 1, eosTokenIds: [2], padTokenId: 32001 });
  });

  test("ask = the llava_v1 prompt + CLIP crop pixels through the plain loop", async () => {
    const before = tf.memory().numTensors;
    const res = await m.ask(photo, "What is this?", { maxNewTokens: 6 });
    expect(tf.memory().numTensors).toBe(before);
    const ids = encodePrompt(m.tokenizer, "llava_v1", "What is this?");
    expect(m.prompts.at(-1)).toEqual([ids]);
    const px = tf.tensor4d(preprocess(await loadImage(photo), m.processor, "crop"), [1, 3, 56, 56]);
    const src = new ModelSource(m.model, [ids], { pixels: px });
    const ref = generate(src, { maxNewTokens: 6, eosTokenIds: [2], tokenizer: m.tokenizer });
    src.dispose();
    px.dispose();
    expect(res.tokens).toEqual(ref.tokens[0]);
    expect(res.text).toBe(ref.text![0]);
    expect(res.settings).toMatchObject({ template: "llava_v1", mode: "crop", maxNewTokens: 6, temperature: 0 });
    expect(res.timings.loadMs).toBeGreaterThan(0);
    expect(res.timings.imageMs).toBeGreaterThan(0);
  });

  test("options reach the prompt; causal settings are recorded with the resolved plan", async () => {
    const causal = { cf: ["vision:uniform@sel"], gamma: 0.5 };
    const res = await m.ask(photo, "Is it a cup?", { template: "llava-hf", suffix: ONE_WORD_SUFFIX, mode: "pad", maxNewTokens: 2, causal });
    expect(m.prompts.at(-1)).toEqual([encodePrompt(m.tokenizer, "llava-hf", "Is it a cup?", { suffix: ONE_WORD_SUFFIX })]);
    expect(res.settings.causal).toMatchObject({ ...causal, plan: { branches: ["factual", "vision:uniform@1:s0"], gamma: 0.5 } });
  });

  test("stream deltas concatenate to ask's text; the return value is the result", async () => {
    const img = await loadImage(photo);
    const it = m.stream(img, "Describe the picture.", { maxNewTokens: 12 });
    let text = "";
    let r = await it.next();
    for (; !r.done; r = await it.next()) text += r.value.text;
    const full = await m.ask(img, "Describe the picture.", { maxNewTokens: 12 });
    expect(r.value.tokens).toEqual(full.tokens);
    expect(text).toBe(full.text);
  });

  test("a batch of equal-length prompts equals the single asks; unequal lengths are refused", async () => {
    const img = await loadImage(photo);
    const q = ["Is there a cup?", "Is there a dog?"];
    const batch = await m.generate(
      q.map((question) => ({ image: img, question })),
      { maxNewTokens: 4 },
    );
    for (const [i, question] of q.entries()) expect(batch.tokens[i]).toEqual((await m.ask(img, question, { maxNewTokens: 4 })).tokens);
    await expect(
      m.generate([
        { image: img, question: "Hi" },
        { image: img, question: "A much longer question here?" },
      ]),
    ).rejects.toThrow(/same number of tokens/);
  });

  test("text-only prompts work without an image", async () => {
    const res = await m.ask(null, "Say hello.", { maxNewTokens: 3 });
    expect(m.prompts.at(-1)![0]).not.toContain(32000);
    expect(res.tokens).toHaveLength(3);
  });
});
