// The shipped lab model (weights/llava-lab) loads like a downloaded llava-hf checkpoint and answers
// held-out POPE questions (random split, scenes never seen in training) far above chance.
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadModel } from "../../src/model/load.js";
import { Tokenizer } from "../../src/text/index.js";
import { loadProcessorConfig } from "../../src/vision/index.js";
import { evaluateSplit } from "../../src/lab/evaluate.js";
import { makeLab } from "../../src/lab/make.js";

const MODEL = resolve(dirname(fileURLToPath(import.meta.url)), "../../weights/llava-lab");

describe.skipIf(!existsSync(join(MODEL, "model.safetensors")))("shipped lab model", () => {
  it("loads via loadModel and beats chance on 50 held-out random-split questions", async () => {
    const model = await loadModel(MODEL, { backend: "wasm" });
    const tok = await Tokenizer.fromDir(MODEL, { imageTokenId: model.config.imageTokenIndex });
    const proc = loadProcessorConfig(MODEL, model.config.vision.imageSize);
    expect(model.numImageTokens).toBe(16);
    // Test scenes of seed 0 are the held-out split of the recipe's dataset (training used "train" keys).
    const data = mkdtempSync(join(tmpdir(), "labheld-"));
    await makeLab({ out: data, seed: 0, train: 0, test: 25 });
    const score = await evaluateSplit(model, tok, proc, data, "random", 50);
    model.dispose();
    expect(score.questions).toBe(50);
    expect(score.other).toBe(0);
    // Chance is 0.5; 0.7 on 50 balanced questions is ~2.8 standard deviations above it.
    expect(score.accuracy).toBeGreaterThanOrEqual(0.7);
  });
});
