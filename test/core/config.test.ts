import { describe, expect, test } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadLlavaConfig, numImageTokens, parseLlavaConfig, selectedHiddenIndex } from "../../src/model/config.js";

describe("config.json parsing", () => {
  test("missing keys take HF's class defaults (LLaVA-1.5-7B when configs are absent)", () => {
    const c = parseLlavaConfig({ architectures: ["LlavaForConditionalGeneration"], model_type: "llava" });
    expect(c.vision).toMatchObject({
      hiddenSize: 1024,
      numLayers: 24,
      numHeads: 16,
      imageSize: 336,
      patchSize: 14,
      hiddenAct: "quick_gelu",
      layerNormEps: 1e-5,
    });
    expect(c.text).toMatchObject({
      hiddenSize: 4096,
      numLayers: 32,
      numHeads: 32,
      numKvHeads: 32,
      headDim: 128,
      rmsNormEps: 1e-6,
      ropeTheta: 10000,
      vocabSize: 32000,
    });
    expect(c).toMatchObject({
      imageTokenIndex: 32000,
      visionFeatureLayer: -2,
      visionFeatureSelectStrategy: "default",
      projectorHiddenAct: "gelu",
    });
    expect(selectedHiddenIndex(c)).toBe(23);
    expect(numImageTokens(c)).toBe(576);
  });

  test("a partial vision_config falls back to CLIPVisionConfig defaults, num_key_value_heads to the head count", () => {
    const c = parseLlavaConfig({
      model_type: "llava",
      vision_config: { hidden_size: 64, num_attention_heads: 4 },
      text_config: { num_attention_heads: 8, hidden_size: 64 },
    });
    expect(c.vision).toMatchObject({ imageSize: 224, patchSize: 32, numLayers: 12, intermediateSize: 3072, headDim: 16 });
    expect(c.text.numKvHeads).toBe(8);
    expect(c.text.headDim).toBe(8);
  });

  test("grouped-query attention and explicit head_dim are honoured", () => {
    const c = parseLlavaConfig({
      model_type: "llava",
      text_config: { hidden_size: 5120, num_attention_heads: 40, num_key_value_heads: 8 },
    });
    expect(c.text).toMatchObject({ numHeads: 40, numKvHeads: 8, headDim: 128 });
  });

  test("unknown architectures and bad values are clear errors", () => {
    expect(() => parseLlavaConfig({ model_type: "llava_next", architectures: ["LlavaNextForConditionalGeneration"] })).toThrow(
      /unsupported architecture "LlavaNextForConditionalGeneration"/,
    );
    expect(() => parseLlavaConfig({ model_type: "llava", text_config: { model_type: "mistral" } })).toThrow(/text model_type "mistral"/);
    expect(() => parseLlavaConfig({ model_type: "llava", text_config: { num_attention_heads: 32, num_key_value_heads: 5 } })).toThrow(
      /not a multiple/,
    );
    expect(() => parseLlavaConfig({ model_type: "llava", vision_feature_layer: [-2, -5] })).toThrow(/one integer/);
    expect(() => parseLlavaConfig({ model_type: "llava", vision_feature_select_strategy: "cls" })).toThrow(/supported: default, full/);
  });

  test("file errors name the file", () => {
    const dir = mkdtempSync(join(tmpdir(), "cfg-"));
    expect(() => loadLlavaConfig(dir)).toThrow(new RegExp(`${dir}/config.json: cannot read`));
    writeFileSync(join(dir, "config.json"), "{ not json");
    expect(() => loadLlavaConfig(dir)).toThrow(/config.json: invalid JSON/);
  });

  test("values that would silently give NaN or empty answers are refused, naming config.json and the key", () => {
    const dir = mkdtempSync(join(tmpdir(), "cfg-"));
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ text_config: { rms_norm_eps: -1 } }, /'rms_norm_eps' must be a positive number, got -1/],
      [{ text_config: { rms_norm_eps: 0 } }, /'rms_norm_eps' must be a positive number/],
      [{ text_config: { rope_theta: 0 } }, /'rope_theta' must be a positive number, got 0/],
      [{ vision_config: { layer_norm_eps: -1e-5 } }, /'layer_norm_eps' must be a positive number/],
      [{ text_config: { max_position_embeddings: 0 } }, /'max_position_embeddings' must be a positive integer/],
      [{ text_config: { max_position_embeddings: 1.5 } }, /'max_position_embeddings' must be a positive integer/],
      [{ text_config: { hidden_size: 2 ** 40 } }, /'hidden_size' \d+ is implausibly large/],
      [{ pad_token_id: "0" }, /'pad_token_id' must be a non-negative integer token id, got "0"/],
      [{ text_config: { pad_token_id: -1 } }, /'pad_token_id' must be a non-negative integer/],
      [{ image_token_index: 3.5 }, /'image_token_index' must be a non-negative integer/],
      [{ text_config: { attention_bias: "false" } }, /'attention_bias' must be true or false/],
      [{ text_config: [] }, /'text_config' must be a JSON object/],
    ];
    for (const [patch, msg] of bad) {
      writeFileSync(join(dir, "config.json"), JSON.stringify({ model_type: "llava", ...patch }));
      expect(() => loadLlavaConfig(dir), JSON.stringify(patch)).toThrow(new RegExp(`^${dir}/config.json.*` + msg.source));
    }
    expect(parseLlavaConfig({ model_type: "llava", pad_token_id: 32001 }).padTokenId).toBe(32001);
    expect(parseLlavaConfig({ model_type: "llava", pad_token_id: null }).padTokenId).toBe(null);
  });

  test("a config without model_type says so", () => {
    expect(() => parseLlavaConfig({ architectures: ["LlavaForConditionalGeneration"] }, "m/config.json")).toThrow(
      /^m\/config\.json: missing "model_type"/,
    );
  });
});
