// Decompression bombs are refused from the header, CMYK/YCCK JPEGs decode like Pillow, and broken
// preprocessor configs name the file and the key. The CMYK/YCCK files and their Pillow 9.4
// `convert("RGB")` pixels (raw .rgb) were made with python3-PIL; see test/vision/data/README.md.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_MAX_IMAGE_PIXELS,
  ImageTooLargeError,
  decodeImage,
  maxImagePixels,
  parseProcessorConfig,
  setMaxImagePixels,
} from "../../src/vision/index.js";

const DATA = join(dirname(fileURLToPath(import.meta.url)), "data");

/** A PNG whose IHDR declares w × h; the IDAT holds only a few rows (a bomb needs no more to be refused). */
function pngHeader(w: number, h: number): Uint8Array {
  const ihdr = Buffer.alloc(25);
  ihdr.writeUInt32BE(13, 0);
  ihdr.write("IHDR", 4, "latin1");
  ihdr.writeUInt32BE(w, 8);
  ihdr.writeUInt32BE(h, 12);
  ihdr.set([8, 2, 0, 0, 0], 16);
  const idat = deflateSync(Buffer.alloc(64));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(idat.length);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    ihdr,
    len,
    Buffer.from("IDAT"),
    idat,
    Buffer.alloc(4),
  ]);
}

/** SOI + baseline SOF0 declaring w × h with 3 components, then SOS/EOI (no real scan data). */
function jpegHeader(w: number, h: number): Uint8Array {
  const sof = [0xff, 0xc0, 0, 17, 8, h >> 8, h & 255, w >> 8, w & 255, 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0];
  return Uint8Array.from([0xff, 0xd8, ...sof, 0xff, 0xda, 0, 8, 1, 1, 0, 0, 63, 0, 0, 0xff, 0xd9]);
}

describe("pixel limit (decompression bombs)", () => {
  it("defaults to Pillow's DecompressionBombError threshold, 2 × MAX_IMAGE_PIXELS", () => {
    expect(DEFAULT_MAX_IMAGE_PIXELS).toBe(178956970);
    expect(maxImagePixels()).toBe(DEFAULT_MAX_IMAGE_PIXELS);
  });

  it("a PNG declaring 20000 × 20000 is refused from its header, fast, naming the file", async () => {
    const t0 = performance.now();
    const err = await decodeImage(pngHeader(20000, 20000), "bomb.png").catch((e) => e);
    expect(err).toBeInstanceOf(ImageTooLargeError);
    expect(err.message).toMatch(/^bomb\.png: image is 20000 × 20000 = 400000000 pixels, above the limit of 178956970/);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it("a JPEG header claiming 65000 × 65000 gets a reason, not an empty message", async () => {
    await expect(decodeImage(jpegHeader(65000, 65000), "huge.jpg")).rejects.toThrow(
      /^huge\.jpg: image is 65000 × 65000 = 4225000000 pixels, above the limit/,
    );
    await expect(decodeImage(jpegHeader(0, 10), "empty.jpg")).rejects.toThrow(/empty\.jpg: .*declares an empty image \(0 × 10\)/);
  });

  it("the limit is per call (maxPixels) or process-wide (setMaxImagePixels, the CLI's --max-image-pixels)", async () => {
    const small = readFileSync(join(DATA, "cmyk-adobe.jpg")); // 32 × 24
    await expect(decodeImage(small, "s.jpg", { maxPixels: 700 })).rejects.toThrow(ImageTooLargeError);
    expect((await decodeImage(small, "s.jpg", { maxPixels: 768 })).width).toBe(32);
    try {
      setMaxImagePixels(100);
      await expect(decodeImage(small, "s.jpg")).rejects.toThrow(/above the limit of 100/);
      setMaxImagePixels(Infinity);
      // 400 MP declared: past the limit check, it fails as the corrupt file it is.
      await expect(decodeImage(pngHeader(20000, 20000), "bomb.png")).rejects.toThrow(/^bomb\.png: cannot decode PNG/);
    } finally {
      setMaxImagePixels(DEFAULT_MAX_IMAGE_PIXELS);
    }
    expect(() => setMaxImagePixels(0)).toThrow(/positive/);
  });
});

describe("CMYK and YCCK JPEGs (Adobe, inverted) match Pillow's convert('RGB')", () => {
  for (const name of ["cmyk-adobe", "ycck-adobe"]) {
    it(name, async () => {
      const img = await decodeImage(readFileSync(join(DATA, `${name}.jpg`)), name);
      const ref = readFileSync(join(DATA, `${name}.rgb`));
      expect([img.width, img.height]).toEqual([32, 24]);
      let max = 0;
      let sum = 0;
      for (let i = 0; i < ref.length; i++) {
        const d = Math.abs(ref[i] - img.data[i]);
        max = Math.max(max, d);
        sum += d;
      }
      // jpeg-js truncates where Pillow rounds (≤ 1 level); YCCK adds float vs fixed-point YCC (≤ 2).
      expect(max).toBeLessThanOrEqual(name === "cmyk-adobe" ? 1 : 2);
      expect(sum / ref.length).toBeLessThan(0.5);
    });
  }

  it("a 4-component JPEG without an Adobe segment is a clear error", async () => {
    const b = new Uint8Array(readFileSync(join(DATA, "cmyk-adobe.jpg")));
    const at = Buffer.from(b).indexOf("Adobe");
    b[at] = 0x58; // "Xdobe": no longer an Adobe APP14 segment
    await expect(decodeImage(b, "plain-cmyk.jpg")).rejects.toThrow(/^plain-cmyk\.jpg: .*CMYK.*without an Adobe APP14/);
  });
});

describe("preprocessor_config.json mistakes name the file and the key", () => {
  const f = "m/preprocessor_config.json";
  it("[] is not a config", () => {
    expect(() => parseProcessorConfig([] as never, f)).toThrow(/^m\/preprocessor_config\.json: expected a JSON object.*an array/);
  });
  it("do_resize and do_center_crop both false", () => {
    expect(() => parseProcessorConfig({ do_resize: false, do_center_crop: false }, f)).toThrow(
      /^m\/preprocessor_config\.json: "do_resize" and "do_center_crop" are both false/,
    );
  });
  it("wrongly typed values", () => {
    expect(() => parseProcessorConfig({ do_resize: "yes" }, f)).toThrow(/"do_resize" must be true or false/);
    expect(() => parseProcessorConfig({ rescale_factor: -1 }, f)).toThrow(/"rescale_factor" must be a positive number/);
    expect(() => parseProcessorConfig({ size: 33.5 }, f)).toThrow(/must be integers/);
  });
});
