import { describe, expect, it } from "vitest";
import { formatCfSpec, parseCfSpec, parseCfSpecs, selectedVisionLayer } from "../../src/causal/spec.js";
import type { Intervention } from "../../src/causal/counterfactual.js";

// LLaVA-1.5-7B shapes: CLIP ViT-L/14-336 (24 layers, 16 heads), LLaMA-7B (32 layers, 32 heads).
const dims = { visionLayers: 24, textLayers: 32, visionHeads: 16, textHeads: 32, visionFeatureLayer: -2 };

describe("parseCfSpec", () => {
  it.each<[string, Intervention]>([
    ["vision:uniform@sel", { module: "vision", layers: [22], type: "uniform" }],
    ["text:random@8-16", { module: "text", layers: [8, 9, 10, 11, 12, 13, 14, 15, 16], type: "random" }],
    ["text:reversed@0,2,5-7:h0,3", { module: "text", layers: [0, 2, 5, 6, 7], heads: [0, 3], type: "reversed" }],
    ["text:shuffle@last:s42", { module: "text", layers: [31], type: "shuffle", seed: 42 }],
    ["vision:random@2:h0-2:s-5", { module: "vision", layers: [2], heads: [0, 1, 2], type: "random", seed: -5 }],
  ])("%s", (s, want) => expect(parseCfSpec(s, dims)).toEqual(want));

  it("@all covers every layer of the module that runs (vision: up to the feature layer)", () => {
    expect(parseCfSpec("vision:shuffle@all", dims).layers).toEqual(Array.from({ length: 23 }, (_, i) => i));
    expect(parseCfSpec("text:uniform@all", dims).layers.length).toBe(32);
  });

  it("sel follows vision_feature_layer", () => {
    expect(selectedVisionLayer(3, -2)).toBe(1); // llava-tiny: hidden_states[-2] = output of layer 1
    expect(selectedVisionLayer(24, -1)).toBe(23);
    expect(selectedVisionLayer(24, 5)).toBe(4);
    expect(() => selectedVisionLayer(24, 0)).toThrow(/not the output of a vision layer/);
  });

  it.each([
    ["nonsense", /expected <module>:<type>@<layers>.*modules: vision, text; types: uniform, reversed, random, shuffle/],
    ["audio:uniform@0", /unknown module 'audio'.*valid: vision, text/],
    ["text:mean@0", /unknown counterfactual type 'mean'.*valid: uniform, reversed, random, shuffle/],
    ["text:given@0", /only available through the API/],
    ["text:uniform@32", /text layer 32 out of range \(valid: 0–31/],
    ["vision:uniform@0:h16", /vision head 16 out of range \(valid: 0–15/],
    ["text:uniform@sel", /'sel' names a vision layer.*0–31/],
    ["text:uniform@3-1", /end before start/],
    ["text:uniform@a", /bad text layer 'a'.*0–31/],
    ["text:uniform@0:x1", /unknown option 'x1'.*h<heads>.*s<seed>/],
    ["both", /parseCfSpecs/],
    ["text:uniform@0:h0:h1", /'h1' in 'text:uniform@0:h0:h1': heads given twice/],
    ["text:random@0:s1:s2", /'s2' in 'text:random@0:s1:s2': the seed given twice/],
    [
      "vision:uniform@23",
      /vision layer 23 in 'vision:uniform@23' comes after the vision feature layer: vision_feature_layer -2 is the output of layer 22 \(= sel\).*valid: 0–22/,
    ],
    ["vision:uniform@20-23", /vision layer 23 .* comes after the vision feature layer/],
    ["vision:uniform@last", /vision layer 23 .* comes after the vision feature layer/],
  ])("%s → clear error", (s, msg) => expect(() => parseCfSpec(s, dims)).toThrow(msg));
});

describe("parseCfSpecs", () => {
  it("both = vision@sel + text@all, uniform by default", () => {
    const [v, t] = parseCfSpecs("both", dims);
    expect(v).toEqual({ module: "vision", layers: [22], type: "uniform" });
    expect(t.module).toBe("text");
    expect(t.layers.length).toBe(32);
    expect(parseCfSpecs("both:reversed", dims).map((iv) => iv.type)).toEqual(["reversed", "reversed"]);
    expect(parseCfSpecs("text:uniform@0", dims)).toEqual([{ module: "text", layers: [0], type: "uniform" }]);
    expect(() => parseCfSpecs("both:mean", dims)).toThrow(/valid: uniform, reversed, random, shuffle/);
  });
});

describe("formatCfSpec", () => {
  it.each([
    "vision:uniform@sel",
    "text:random@8-16",
    "text:reversed@0,2,5-7:h0,3",
    "vision:shuffle@all",
    "text:shuffle@last:s42",
    "text:random@1,3,5:h0-31:s0",
  ])("round-trips %s", (s) => {
    const iv = parseCfSpec(s, dims);
    const text = formatCfSpec(iv);
    expect(parseCfSpec(text, dims)).toEqual(iv);
    expect(formatCfSpec(parseCfSpec(text, dims))).toBe(text);
  });

  it("writes compact ranges and refuses 'given'", () => {
    expect(formatCfSpec({ module: "text", layers: [7, 0, 1, 2, 5], heads: [3], type: "uniform", seed: 2 })).toBe(
      "text:uniform@0-2,5,7:h3:s2",
    );
    expect(() => formatCfSpec({ module: "text", layers: [0], type: "given" })).toThrow(/no command-line form/);
  });
});
