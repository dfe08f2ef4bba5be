// Loader bugs the fuzz campaign found, one test each (replay any of them with the command in
// docs/reliability.md). Each failed on the starting code: a hang, a silently accepted value, or
// minutes of decoding a 650-byte file.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseLlavaConfig } from "../../src/model/config.js";
import { Tokenizer } from "../../src/text/index.js";
import { decodeImage, ImageDecodeError, parseProcessorConfig } from "../../src/vision/index.js";
import { describeFixtures } from "../helpers/fixtures.js";

const DATA = join(dirname(fileURLToPath(import.meta.url)), "..", "vision", "data");

/** The file with its first SOF frame header rewritten to declare w × h. */
function withSofSize(b: Uint8Array, w: number, h: number): Uint8Array {
  const out = new Uint8Array(b);
  const v = new DataView(out.buffer);
  for (let p = 2; p + 9 < out.length; p += 2 + v.getUint16(p + 2)) {
    const m = out[p + 1];
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      v.setUint16(p + 5, h);
      v.setUint16(p + 7, w);
      return out;
    }
  }
  throw new Error("no SOF marker");
}

describe("JPEG whose header declares far more blocks than the file can hold", () => {
  it("is refused before decoding, naming the file and both sizes", async () => {
    // image #525 of seed 2: a 650-byte YCCK file declaring 4096 × 16384 (67 MP, under the pixel
    // limit) kept jpeg-js busy for > 30 s at 1.6 GB.
    const bytes = withSofSize(readFileSync(join(DATA, "ycck-adobe.jpg")), 4096, 16384);
    const err = await decodeImage(bytes, "damaged.jpg").catch((e) => e);
    expect(err).toBeInstanceOf(ImageDecodeError);
    expect(err.message).toMatch(/^damaged\.jpg: cannot decode JPEG: the header declares 4096 × 16384 pixels, which needs at least 131072 bytes of image data, but the file has \d+ bytes/);
  });

  it("still decodes the undamaged file", async () => {
    expect((await decodeImage(readFileSync(join(DATA, "ycck-adobe.jpg")), "ok.jpg")).width).toBe(32);
  });
});

describe("config.json values the fuzzer got through", () => {
  it("token ids must be safe integers (1e308 was accepted as an image token id)", () => {
    expect(() => parseLlavaConfig({ model_type: "llava", image_token_index: 1e308 }, "c.json")).toThrow(/^c\.json: 'image_token_index' must be a non-negative integer token id, got 1e\+308/);
    expect(() => parseLlavaConfig({ model_type: "llava", pad_token_id: 2 ** 53 }, "c.json")).toThrow(/'pad_token_id' must be/);
  });

  it("architectures must be a list of class names (a number was ignored)", () => {
    expect(() => parseLlavaConfig({ model_type: "llava", architectures: 4294967297 }, "c.json")).toThrow(/^c\.json: "architectures" must be a list of class names, got 4294967297/);
    expect(parseLlavaConfig({ model_type: "llava", architectures: ["LlavaForConditionalGeneration"] }).imageTokenIndex).toBe(32000);
  });
});

describe("preprocessor_config.json resample", () => {
  it("a non-PIL resample value is an error naming the file, not a silent bicubic", () => {
    for (const v of ["\u0000", [], 0, 7, 2.5]) {
      expect(() => parseProcessorConfig({ resample: v }, "p.json")).toThrow(/^p\.json: unsupported "resample"/);
    }
    expect(parseProcessorConfig({ resample: 2 }, "p.json").resample).toBe(2);
    expect(parseProcessorConfig({}, "p.json").resample).toBe(3);
  });
});

describeFixtures("tokenizer.json with a corrupt token id", (fixtures) => {
  const tj = JSON.parse(readFileSync(join(fixtures, "tokenizer", "tokenizer.json"), "utf8"));
  const withId = (token: string, id: unknown) => ({ ...tj, model: { ...tj.model, vocab: { ...tj.model.vocab, [token]: id } } });

  it("a huge id builds at once (the old vocab walk to id 1e9 took minutes)", () => {
    const t0 = performance.now();
    const tok = Tokenizer.fromJson(withId("Core", 1e9), {}, {}, "big.json");
    expect(tok.vocabSize).toBe(1e9 + 1);
    expect(performance.now() - t0).toBeLessThan(30_000);
  });

  it("ids that are not u32 integers are an error naming the file and the token", () => {
    for (const id of [-1, 1.5, "3", 2 ** 32]) {
      expect(() => Tokenizer.fromJson(withId("Core", id), {}, {}, "bad.json")).toThrow(/^bad\.json: model\.vocab entry "Core" has id .* not an integer in 0\.\.4294967295/);
    }
  });
});
