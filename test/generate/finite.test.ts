// Non-finite logits are an error naming the step, never a silent answer of token 0 (NaN weights) or
// an empty answer (a cutoff that leaves no token).
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { generate, NonFiniteLogitsError } from "../../src/generate/generate.js";
import type { LogitsSource } from "../../src/generate/source.js";
import { loadLlava } from "../../src/api.js";
import { describeFixtures } from "../helpers/fixtures.js";

/** Peaks on token 1 every step; at step `badStep` the row is replaced by `bad(V)`. */
function source(badStep: number, bad: (v: number) => Float32Array): LogitsSource {
  let step = 0;
  const row = (): Float32Array => {
    if (step === badStep) return bad(8);
    const r = new Float32Array(8);
    r[1] = 5;
    return r;
  };
  return {
    batchSize: 1,
    vocabSize: 8,
    prefill: () => [row()],
    step: () => {
      step++;
      return [row()];
    },
    dispose: () => {},
  };
}

describe("finite-logit check in the decoding loop", () => {
  test("NaN at step 2 is a NonFiniteLogitsError naming step 2", () => {
    const err = (() => {
      try {
        generate(
          source(2, (v) => new Float32Array(v).fill(NaN)),
          { maxNewTokens: 5 },
        );
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(NonFiniteLogitsError);
    expect((err as NonFiniteLogitsError).step).toBe(2);
    expect((err as Error).message).toMatch(/^non-finite logits at decoding step 2 \(row 0\): token 0 scores NaN/);
  });
  test("+Infinity and an all −Infinity row are errors; a partly −Infinity row is fine", () => {
    expect(() =>
      generate(
        source(0, (v) => {
          const r = new Float32Array(v);
          r[3] = Infinity;
          return r;
        }),
        { maxNewTokens: 3 },
      ),
    ).toThrow(/step 0 .*token 3 scores \+Infinity/);
    expect(() =>
      generate(
        source(1, (v) => new Float32Array(v).fill(-Infinity)),
        { maxNewTokens: 3 },
      ),
    ).toThrow(/step 1 .*every one of the 8 tokens scores −Infinity/);
    const partly = generate(
      source(1, (v) => {
        const r = new Float32Array(v).fill(-Infinity);
        r[4] = 0;
        return r;
      }),
      { maxNewTokens: 3 },
    );
    expect(partly.tokens[0]).toEqual([1, 4, 1]);
  });
});

/** A copy of the tiny-56 model whose final RMSNorm weight is all NaN (or with a patched config). */
function brokenModel(
  fixtures: string,
  opts: { nanTensor?: RegExp; config?: (c: { text_config: Record<string, unknown> }) => void },
): string {
  const src = join(fixtures, "llava-tiny-56", "model-f32");
  const dir = mkdtempSync(join(tmpdir(), "nan-model-"));
  const cfg = JSON.parse(readFileSync(join(src, "config.json"), "utf8"));
  opts.config?.(cfg);
  writeFileSync(join(dir, "config.json"), JSON.stringify(cfg));
  copyFileSync(join(src, "generation_config.json"), join(dir, "generation_config.json"));
  const bytes = readFileSync(join(src, "model.safetensors"));
  if (opts.nanTensor) {
    const n = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString("utf8"));
    const name = Object.keys(header).find((k) => opts.nanTensor!.test(k))!;
    const [start, end] = header[name].data_offsets as [number, number];
    for (let p = 8 + n + start; p < 8 + n + end; p += 4) bytes.writeFloatLE(NaN, p);
  }
  writeFileSync(join(dir, "model.safetensors"), bytes);
  return dir;
}

describeFixtures("non-finite models are errors, not answers", (fixtures) => {
  const tokenizerDir = join(fixtures, "tokenizer");
  test("NaN weights: ask rejects with the step instead of decoding token 0", async () => {
    const m = await loadLlava(brokenModel(fixtures, { nanTensor: /language_model.*\.norm\.weight$/ }), { backend: "cpu", tokenizerDir });
    try {
      await expect(m.ask(null, "hi", { maxNewTokens: 4 })).rejects.toThrow(/non-finite logits at decoding step 0/);
    } finally {
      m.dispose();
    }
  });
  test("rms_norm_eps: -1 and rope_theta: 0 are refused at load, naming config.json", async () => {
    for (const [key, v] of [
      ["rms_norm_eps", -1],
      ["rope_theta", 0],
    ] as const) {
      const dir = brokenModel(fixtures, { config: (c) => (c.text_config[key] = v) });
      await expect(loadLlava(dir, { backend: "cpu", tokenizerDir })).rejects.toThrow(
        new RegExp(`config\\.json.*'${key}' must be a positive number`),
      );
    }
  });
});

describeFixtures("non-finite logits name where the values first became non-finite", (fixtures) => {
  const tokenizerDir = join(fixtures, "tokenizer");
  const photo = join(fixtures, "preprocess", "coffee.png");
  const nanIn = async (
    tensor: RegExp,
    ask: (m: Awaited<ReturnType<typeof loadLlava>>) => Promise<unknown>,
  ): Promise<NonFiniteLogitsError> => {
    const m = await loadLlava(brokenModel(fixtures, { nanTensor: tensor }), { backend: "cpu", tokenizerDir });
    const live = tf.memory().numTensors;
    try {
      const err = await ask(m).then(
        () => null,
        (e) => e,
      );
      expect(err).toBeInstanceOf(NonFiniteLogitsError);
      expect(tf.memory().numTensors).toBe(live); // the trace frees what it ran
      return err as NonFiniteLogitsError;
    } finally {
      m.dispose();
    }
  };
  test("a NaN weight in text layer 1, the final norm or lm_head: the error names it", async () => {
    const plain = (m: Awaited<ReturnType<typeof loadLlava>>) => m.ask(null, "hi", { maxNewTokens: 2 });
    const l1 = await nanIn(/language_model\.model\.layers\.1\.mlp\.down_proj\.weight$/, plain);
    expect(l1.origin).toMatchObject({ tower: "text", layer: 1, numLayers: 2 });
    expect(l1.message).toMatch(
      /^non-finite logits at decoding step 0 \(row 0\): token 0 scores NaN; values first become non-finite in text layer 1 \(of 2\)/,
    );
    expect((await nanIn(/language_model\.model\.norm\.weight$/, plain)).message).toMatch(
      /non-finite in the LLM's final norm \(model\.norm\)/,
    );
    expect((await nanIn(/language_model\.lm_head\.weight$/, plain)).message).toMatch(/non-finite in lm_head:/);
  });
  test("a NaN in vision layer 0 names the vision tower; the CausalMM path traces its factual branch", async () => {
    const v0 = await nanIn(/vision_model\.encoder\.layers\.0\.mlp\.fc2\.weight$/, (m) =>
      m.ask(photo, "What is this?", { maxNewTokens: 2 }),
    );
    expect(v0.origin).toMatchObject({ tower: "vision", layer: 0, numLayers: 3 });
    expect(v0.message).toMatch(/values first become non-finite in vision layer 0 \(of 3\)/);
    const cf = await nanIn(/language_model\.model\.layers\.0\.self_attn\.o_proj\.weight$/, (m) =>
      m.ask(photo, "What is this?", { maxNewTokens: 2, causal: { cf: ["text:uniform@1"] } }),
    );
    expect(cf.message).toMatch(/values first become non-finite in text layer 0 \(of 2\)/);
  });
});
