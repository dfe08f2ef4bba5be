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
    expect(err.message).toMatch(
      new RegExp(
        /^damaged\.jpg: cannot decode JPEG: the header declares 4096 × 16384 pixels, /.source +
          /which needs at least 131072 bytes of image data, but the file has \d+ bytes/.source,
      ),
    );
  });

  it("still decodes the undamaged file", async () => {
    expect((await decodeImage(readFileSync(join(DATA, "ycck-adobe.jpg")), "ok.jpg")).width).toBe(32);
  });
});

describe("config.json values the fuzzer got through", () => {
  it("token ids must be safe integers (1e308 was accepted as an image token id)", () => {
    expect(() => parseLlavaConfig({ model_type: "llava", image_token_index: 1e308 }, "c.json")).toThrow(
      /^c\.json: 'image_token_index' must be a non-negative integer token id, got 1e\+308/,
    );
    expect(() => parseLlavaConfig({ model_type: "llava", pad_token_id: 2 ** 53 }, "c.json")).toThrow(/'pad_token_id' must be/);
  });

  it("architectures must be a list of class names (a number was ignored)", () => {
    expect(() => parseLlavaConfig({ model_type: "llava", architectures: 4294967297 }, "c.json")).toThrow(
      /^c\.json: "architectures" must be a list of class names, got 4294967297/,
    );
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
      expect(() => Tokenizer.fromJson(withId("Core", id), {}, {}, "bad.json")).toThrow(
        /^bad\.json: model\.vocab entry "Core" has id .* not an integer in 0\.\.4294967295/,
      );
    }
  });
});

describe("resize + centre crop of an extreme aspect ratio", () => {
  it("computes only the crop window, bit-identical to resizing everything then cropping", async () => {
    const { createImage, resizeImage, centerCrop, preprocess, defaultProcessorConfig } = await import("../../src/vision/index.js");
    let s = 7;
    const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 16) & 255;
    for (const [w, h, ow, oh] of [
      [40, 30, 90, 70],
      [33, 50, 20, 61],
      [64, 64, 64, 30],
      [17, 9, 17, 20],
      [9, 17, 40, 17],
      [20, 16, 20, 16],
    ]) {
      const img = createImage(w, h);
      for (let i = 0; i < img.data.length; i++) img.data[i] = rnd();
      for (const f of ["bicubic", "bilinear", "lanczos", "box", "hamming"] as const) {
        const full = centerCrop(resizeImage(img, ow, oh, f), 16, 16);
        const win = resizeImage(img, ow, oh, f, { x: Math.floor((ow - 16) / 2), y: Math.floor((oh - 16) / 2), width: 16, height: 16 });
        expect(Buffer.from(win.data).equals(Buffer.from(full.data)), `${w}x${h} -> ${ow}x${oh} ${f}`).toBe(true);
      }
    }
    // image #79 of seed 13: a JPEG declaring 3 × 16384 became a 336 × 1 835 008 intermediate (1.8 GB, > 30 s).
    const tall = createImage(3, 16384, [10, 20, 30]);
    const out = preprocess(tall, defaultProcessorConfig(336));
    expect(out.length).toBe(3 * 336 * 336);
  });
});

describe("preprocessor_config.json sizes that cannot produce the model's input", () => {
  it("a huge size is refused (shortest_edge 344064 crashed the resizer with a RangeError)", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { loadProcessorConfig } = await import("../../src/vision/index.js");
    expect(() => parseProcessorConfig({ size: { shortest_edge: 344064 }, crop_size: 336 }, "p.json")).toThrow(
      /^p\.json: size and crop_size must be at most 16384/,
    );
    const dir = mkdtempSync(join(tmpdir(), "pp-"));
    writeFileSync(join(dir, "preprocessor_config.json"), JSON.stringify({ do_center_crop: false, size: { shortest_edge: 336 } }));
    expect(() => loadProcessorConfig(dir, 336)).toThrow(
      /preprocessor_config\.json: "do_center_crop" is false, so the resize alone must give the model's 336 × 336 input/,
    );
    writeFileSync(join(dir, "preprocessor_config.json"), JSON.stringify({ do_center_crop: false, size: { height: 336, width: 336 } }));
    expect(loadProcessorConfig(dir, 336).squareResize).toBe(true);
  });
});

describeFixtures("tokenizer.json with a damaged post-processor", (fixtures) => {
  it("fails at load naming the file (was a bare TypeError from the library at the first encode)", () => {
    // tokenizer.json #1196 of seed 3
    const tj = JSON.parse(readFileSync(join(fixtures, "tokenizer", "tokenizer.json"), "utf8"));
    tj.post_processor.single = null;
    expect(() => Tokenizer.fromJson(tj, {}, {}, "pp.json")).toThrow(
      /^pp\.json: the tokenizer failed to encode \(.*\); is tokenizer\.json damaged\?/,
    );
  });
});

describe("MME eval_tool results with a broken pairing", () => {
  it("an odd number of lines names the results file (mme-questions #2111 of seed 4)", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { readMmeResults } = await import("../../src/eval/mme-data.js");
    const { scoreMme } = await import("../../src/eval/mme-score.js");
    const dir = mkdtempSync(join(tmpdir(), "mme-"));
    writeFileSync(
      join(dir, "existence.txt"),
      "a.jpg\tIs there a dog?\tYes\tyes\nb.jpg\tIs there a cat?\tNo\tno\nb.jpg\tIs there a cat?\tNo\tno\n",
    );
    expect(() => scoreMme(readMmeResults(dir))).toThrow(
      new RegExp(`^${join(dir, "existence.txt")}: existence: 3 lines; MME needs two questions per image`),
    );
    writeFileSync(join(dir, "existence.txt"), "\n");
    expect(() => readMmeResults(dir)).toThrow(new RegExp(`^${join(dir, "existence.txt")}: no result lines`));
  });
});

describe("PNG whose header declares more pixels than its compressed data can hold", () => {
  it("is refused before decoding, naming the file (seed 4 found one: 19 s and 1.1 GB, then accepted as garbage)", async () => {
    const { crc32, deflateSync } = await import("node:zlib");
    const chunk = (type: string, data: Uint8Array): Buffer => {
      const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(data.length);
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(body) >>> 0);
      return Buffer.concat([len, body, crc]);
    };
    const png = (w: number, h: number): Buffer => {
      const ihdr = Buffer.alloc(13);
      ihdr.writeUInt32BE(w, 0);
      ihdr.writeUInt32BE(h, 4);
      ihdr.set([2, 3, 0, 0, 0], 8); // 2-bit palette
      const rows = Buffer.alloc(8 * 3); // 8 rows of 2 bytes + filter byte: an 8 × 8 image
      return Buffer.concat([
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
        chunk("IHDR", ihdr),
        chunk("PLTE", Buffer.alloc(12, 200)),
        chunk("IDAT", deflateSync(rows)),
        chunk("IEND", Buffer.alloc(0)),
      ]);
    };
    expect((await decodeImage(png(8, 8), "ok.png")).width).toBe(8);
    const err = await decodeImage(png(4096, 40000), "damaged.png").catch((e) => e);
    expect(err).toBeInstanceOf(ImageDecodeError);
    expect(err.message).toMatch(
      new RegExp(
        /^damaged\.png: cannot decode PNG: the header declares 4096 × 40000 pixels \(40960000 bytes of image data\), /.source +
          /more than the file's \d+ bytes of compressed data can hold/.source,
      ),
    );
  });
});
