// CausalMM's vision branches and the sweep's vision rows run through the model's own image path
// (LlavaModel.encodeImages, entered from a shared CLIP trunk), so a change to it reaches every run: here
// the method is replaced on one model instance by one that records its inputs and zeroes the features.
import { afterAll, beforeAll, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { describeFixtures } from "../helpers/fixtures.js";
import { initBackend } from "../../src/backend.js";
import { loadLlava, type Llava } from "../../src/api.js";
import { encodeVariants } from "../../src/causal/images.js";
import { buildPlan } from "../../src/causal/presets.js";
import { CausalSource } from "../../src/causal/source.js";
import { variantKey, type VisionVariant } from "../../src/causal/plan.js";
import { runSweep } from "../../src/introspect/sweep.js";
import { encodePrompt } from "../../src/text/index.js";
import type { ImageEncodeOptions, VisionStart } from "../../src/model/llava.js";

describeFixtures("the image path", (fixtures) => {
  let llava: Llava;
  let pixels: tf.Tensor4D;
  /** Per call of the replaced encodeImages: the CLIP hidden state it started from (0 = the pixels). */
  let starts: number[] = [];
  beforeAll(async () => {
    await initBackend("cpu");
    llava = await loadLlava(join(fixtures, "llava-tiny-56", "model-f32"), { tokenizerDir: join(fixtures, "tokenizer") });
    const size = llava.model.config.vision.imageSize;
    pixels = tf.randomNormal([1, 3, size, size], 0, 1, "float32", 3) as tf.Tensor4D;
    const model = llava.model;
    const original = model.encodeImages.bind(model);
    model.encodeImages = (input: tf.Tensor4D | VisionStart, opts?: ImageEncodeOptions) => {
      starts.push("hidden" in input ? input.index : 0);
      const out = original(input, opts);
      return { ...out, features: tf.zerosLike(out.features) };
    };
  });
  afterAll(() => {
    pixels?.dispose();
    llava?.dispose();
  });

  test("encodeVariants: the intervened CLIP variants are encodeImages' features", () => {
    starts = [];
    const variants: VisionVariant[] = [
      { kind: "clip", interventions: [{ module: "vision", layers: [1], type: "uniform" }] },
      { kind: "clip", interventions: [{ module: "vision", layers: [0], type: "reversed" }] },
    ];
    const max = tf.tidy(() =>
      Math.max(...[...encodeVariants(llava.model, pixels, variants).values()].map((f) => f.abs().max().dataSync()[0])),
    );
    expect(max).toBe(0);
    expect(starts).toEqual([0]); // both variants in one batched call, from the trunk before layer 0
    const rows = tf.tidy(() => encodeVariants(llava.model, pixels, variants.slice(0, 1)).get(variantKey(variants[0]))!.shape[0]);
    expect(rows).toBe(1);
    expect(starts).toEqual([0, 1]);
  });

  test("a CausalMM decode with a vision branch encodes every image through encodeImages", () => {
    starts = [];
    const ids = [encodePrompt(llava.tokenizer, "llava_v1", "Is there a cat?", { image: true })];
    const src = new CausalSource(llava.model, {
      plan: buildPlan({ cf: ["vision:uniform@1"] }, llava.model.config),
      prompts: { main: ids },
      pixels,
    });
    src.prefill();
    src.dispose();
    expect(starts.length).toBeGreaterThan(0);
    expect(starts.every((s) => s === 1)).toBe(true);
  });

  test("the sweep's vision rows go through encodeImages", async () => {
    starts = [];
    const q = { id: 1, image: join(fixtures, "preprocess", "chelsea.png"), text: "Is there a cat in the image?" };
    await runSweep(llava, [q], {
      modules: ["vision"],
      types: ["uniform"],
      draws: 1,
      seed: 0,
      batch: 4,
      template: "llava_v1",
      suffix: "",
      mode: "crop",
      groups: { vision: [[1]] },
    });
    // the factual features (from the pixels), then the intervened row from the trunk before layer 1
    expect(starts).toEqual([0, 1]);
  });
});
