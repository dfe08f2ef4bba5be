// Pillow-exact resampling: synthetic properties (no fixtures) and bit-exact agreement with the
// fixture's PIL resize of every input.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readNpy } from "../../src/weights/npy.js";
import { resizeBicubic, resizeImage, shortestEdgeSize, type RgbImage } from "../../src/vision/index.js";
import { describeFixtures } from "../helpers/fixtures.js";

function gradient(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      data[i] = (x * 37 + y * 11) & 255;
      data[i + 1] = (x * x + 3 * y) & 255;
      data[i + 2] = ((x ^ y) * 9) & 255;
    }
  }
  return { width: w, height: h, data };
}

describe("resizeBicubic (synthetic)", () => {
  it("returns an equal copy at the identity size", () => {
    const img = gradient(17, 9);
    const out = resizeBicubic(img, 17, 9);
    expect(out.data).toEqual(img.data);
    expect(out.data).not.toBe(img.data);
  });

  it("keeps a constant image constant when scaling up and down", () => {
    const flat: RgbImage = { width: 10, height: 7, data: new Uint8Array(10 * 7 * 3).fill(200) };
    for (const [w, h] of [
      [23, 15],
      [3, 2],
      [10, 30],
      [1, 1],
    ]) {
      const out = resizeBicubic(flat, w, h);
      expect(out.width * out.height * 3).toBe(out.data.length);
      expect(out.data.every((v) => v === 200)).toBe(true);
    }
  });

  it("matches values produced by Pillow for a 2-pixel step (upscale 2x)", () => {
    // Image.fromarray([[0, 255]]).resize((4, 1), BICUBIC) -> [0, 53, 202, 255] (Pillow 11.3).
    const img: RgbImage = { width: 2, height: 1, data: new Uint8Array([0, 0, 0, 255, 255, 255]) };
    const out = resizeBicubic(img, 4, 1);
    expect(Array.from(out.data.filter((_, i) => i % 3 === 0))).toEqual([0, 53, 202, 255]);
  });

  it("matches values produced by Pillow for a small image, up/down/one axis", () => {
    // The 5x3 pattern below, resized with Pillow 11.3 BICUBIC (values copied from its output).
    const src: RgbImage = { width: 5, height: 3, data: new Uint8Array(45) };
    for (let y = 0; y < 3; y++) {
      for (let x = 0; x < 5; x++) {
        src.data.set([(x * 61 + y * 23) % 256, (x * x * 17 + 40 * y) % 256, (x + y) % 2 ? 255 : 0], (y * 5 + x) * 3);
      }
    }
    const expected: Record<string, number[]> = {
      "2x2": [62, 39, 124, 168, 98, 124, 99, 95, 124, 138, 154, 124],
      "3x3": [22, 3, 106, 122, 81, 126, 222, 77, 106, 45, 43, 149, 155, 121, 129, 96, 117, 149, 68, 83, 106, 178, 161, 126, 119, 157, 106],
      "5x6": [
        0, 0, 0, 59, 13, 255, 120, 64, 0, 181, 149, 255, 255, 12, 0, 4, 7, 54, 65, 24, 201, 126, 75, 54, 187, 160, 201, 199, 23, 54, 16, 28,
        216, 77, 45, 39, 138, 96, 216, 199, 181, 39, 61, 44, 216, 30, 52, 216, 91, 69, 39, 152, 120, 216, 213, 205, 39, 0, 68, 216, 42, 73,
        54, 103, 90, 201, 164, 141, 54, 225, 226, 201, 25, 89, 54, 48, 84, 0, 109, 101, 255, 170, 152, 0, 231, 237, 255, 36, 100, 0,
      ],
    };
    for (const [size, want] of Object.entries(expected)) {
      const [w, h] = size.split("x").map(Number);
      expect(Array.from(resizeBicubic(src, w, h).data), size).toEqual(want);
    }
    expect(resizeBicubic(src, 7, 4).data.slice(0, 12)).toEqual(new Uint8Array([0, 0, 0, 29, 4, 163, 77, 26, 212, 121, 66, 0]));
  });

  it("only resamples the axis whose size changes", () => {
    const img = gradient(12, 5);
    const out = resizeBicubic(img, 12, 9);
    // A vertical-only resize must leave every column's first and last sample ordering intact and
    // must equal resizing the transposed problem column by column: check one column by hand.
    const col = (im: RgbImage, x: number): number[] => Array.from({ length: im.height }, (_, y) => im.data[(y * im.width + x) * 3]);
    const single: RgbImage = { width: 1, height: 5, data: new Uint8Array(col(img, 4).flatMap((v) => [v, v, v])) };
    expect(col(out, 4)).toEqual(col(resizeBicubic(single, 1, 9), 0));
  });

  it("downscales with a widened window (box-like averaging of a checkerboard)", () => {
    const w = 64;
    const data = new Uint8Array(w * w * 3);
    for (let i = 0; i < w * w; i++) data.fill(((i % w) + Math.floor(i / w)) % 2 ? 255 : 0, i * 3, i * 3 + 3);
    const out = resizeBicubic({ width: w, height: w, data }, 8, 8);
    for (const v of out.data) expect(Math.abs(v - 127.5)).toBeLessThan(3);
  });

  it("rejects non-positive or fractional sizes", () => {
    expect(() => resizeBicubic(gradient(4, 4), 0, 4)).toThrow(/positive integers/);
    expect(() => resizeBicubic(gradient(4, 4), 2.5, 4)).toThrow(/positive integers/);
  });

  it("supports Pillow's other convolution filters", () => {
    const img = gradient(9, 6);
    for (const f of ["bilinear", "lanczos", "box", "hamming"] as const) {
      const out = resizeImage(img, 5, 11, f);
      expect(out.data.length).toBe(5 * 11 * 3);
    }
  });
});

describe("shortestEdgeSize", () => {
  it("follows HF get_resize_output_image_size (int truncation)", () => {
    expect(shortestEdgeSize(451, 300, 336)).toEqual([505, 336]);
    expect(shortestEdgeSize(640, 427, 336)).toEqual([503, 336]);
    expect(shortestEdgeSize(300, 451, 336)).toEqual([336, 505]);
    expect(shortestEdgeSize(512, 512, 336)).toEqual([336, 336]);
    expect(shortestEdgeSize(500, 375, 336)).toEqual([448, 336]);
  });
});

describeFixtures("resizeBicubic vs PIL (fixtures)", (root) => {
  const dir = join(root, "preprocess");
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as {
    inputs: Record<string, { base: string; resized_wh: [number, number] }>;
  };
  for (const [file, entry] of Object.entries(manifest.inputs)) {
    it(`${file}: resizing .rgb.npy reproduces .resized.npy bit for bit`, () => {
      const rgb = readNpy(join(dir, `${entry.base}.rgb.npy`));
      const ref = readNpy(join(dir, `${entry.base}.resized.npy`));
      const img: RgbImage = { height: rgb.shape[0], width: rgb.shape[1], data: rgb.data as Uint8Array };
      const [w, h] = shortestEdgeSize(img.width, img.height, 336);
      expect([w, h]).toEqual(entry.resized_wh);
      const out = resizeBicubic(img, w, h);
      expect(ref.shape).toEqual([h, w, 3]);
      let diffs = 0;
      for (let i = 0; i < out.data.length; i++) if (out.data[i] !== ref.data[i]) diffs++;
      expect(diffs).toBe(0);
    });
  }
});
