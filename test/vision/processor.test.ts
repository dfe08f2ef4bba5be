// CLIPImageProcessor / LLaVA pad-mode parity with HF transformers 4.40.2 outputs, and config loading.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readNpy } from "../../src/weights/npy.js";
import {
  centerCrop,
  defaultProcessorConfig,
  expandToSquare,
  loadImage,
  loadProcessorConfig,
  padBackground,
  preprocess,
  preprocessWithShape,
  resizeBicubic,
  activeJpegDecoder,
  type RgbImage,
} from "../../src/vision/index.js";
import { describeFixtures } from "../helpers/fixtures.js";

function maxAbsDiff(a: Float32Array, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const pattern = (w: number, h: number): RgbImage => ({
  width: w,
  height: h,
  data: Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 7) % 256),
});

describe("processor building blocks", () => {
  it("pad background is int(mean * 255) = (122, 116, 104) for OpenAI CLIP", () => {
    expect(padBackground(defaultProcessorConfig().mean)).toEqual([122, 116, 104]);
  });

  it("expand2square centres the image with floor offsets", () => {
    const sq = expandToSquare(pattern(2, 5), [1, 2, 3]);
    expect([sq.width, sq.height]).toEqual([5, 5]);
    expect(Array.from(sq.data.subarray(0, 3))).toEqual([1, 2, 3]); // column 0: background
    expect(Array.from(sq.data.subarray(3, 6))).toEqual([0, 7, 14]); // image starts at x = (5-2)//2 = 1
    expect(Array.from(sq.data.subarray(9, 12))).toEqual([1, 2, 3]); // x = 3: background again
  });

  it("centre crop uses floor((orig - crop) / 2) and zero-pads small images like HF", () => {
    const img = pattern(5, 4);
    const c = centerCrop(img, 2, 2); // top = 1, left = 1
    expect(Array.from(c.data.subarray(0, 3))).toEqual(Array.from(img.data.subarray((1 * 5 + 1) * 3, (1 * 5 + 1) * 3 + 3)));
    // 1x1 -> 4x3: top = floor(-2/2) = -1, left = floor(-3/2) = -2, so the pixel lands at (2, 1).
    const bright = centerCrop({ width: 1, height: 1, data: new Uint8Array([9, 9, 9]) }, 4, 3);
    expect([bright.width, bright.height]).toEqual([4, 3]);
    expect(Array.from(bright.data).findIndex((v) => v === 9) / 3).toBe(1 * 4 + 2);
    expect(bright.data.filter((v) => v !== 0).length).toBe(3);
  });

  it("returns [3, crop, crop] for a tiny-model image size", () => {
    const cfg = defaultProcessorConfig(56);
    const out = preprocessWithShape(pattern(90, 60), cfg);
    expect([out.channels, out.height, out.width]).toEqual([3, 56, 56]);
    expect(out.data.length).toBe(3 * 56 * 56);
    expect(() => preprocess(pattern(4, 4), cfg, "squash" as "crop")).toThrow(/mode must be/);
  });

  it("rescale/normalize follow numpy's float32 rounding", () => {
    const cfg = defaultProcessorConfig(2);
    const out = preprocess({ width: 2, height: 2, data: new Uint8Array(12).fill(255) }, cfg);
    const x = Math.fround(255 * (1 / 255));
    expect(out[0]).toBe(Math.fround(Math.fround(x - Math.fround(cfg.mean[0])) / Math.fround(cfg.std[0])));
  });
});

describe("loadProcessorConfig", () => {
  it("defaults to llava-hf values when the model dir has no preprocessor_config.json", () => {
    const cfg = loadProcessorConfig(undefined);
    expect(cfg).toMatchObject({ size: 336, cropSize: 336, doResize: true, doCenterCrop: true, doRescale: true, doNormalize: true });
    expect(loadProcessorConfig(mkdtempSync(join(tmpdir(), "cmm-")), 56)).toMatchObject({ size: 56, cropSize: 56 });
  });

  it("reads HF fields, including int and {height,width} forms", () => {
    const dir = mkdtempSync(join(tmpdir(), "cmm-"));
    writeFileSync(
      join(dir, "preprocessor_config.json"),
      JSON.stringify({
        size: 224,
        crop_size: { height: 224, width: 224 },
        image_mean: [0.5, 0.5, 0.5],
        image_std: 0.5,
        do_center_crop: false,
        rescale_factor: 0.5,
        resample: 2,
      }),
    );
    expect(loadProcessorConfig(dir)).toMatchObject({
      size: 224,
      cropSize: 224,
      mean: [0.5, 0.5, 0.5],
      std: [0.5, 0.5, 0.5],
      doCenterCrop: false,
      rescaleFactor: 0.5,
      resample: 2,
    });
    writeFileSync(
      join(dir, "preprocessor_config.json"),
      JSON.stringify({ crop_size: { height: 56, width: 56 }, size: { shortest_edge: 56 } }),
    );
    expect(() => loadProcessorConfig(dir, 336)).toThrow(/crop_size 56 does not match the model's image size 336/);
    writeFileSync(join(dir, "preprocessor_config.json"), "{ not json");
    expect(() => loadProcessorConfig(dir)).toThrow(/preprocessor_config\.json: cannot read or parse/);
  });
});

describeFixtures("CLIP preprocessing vs HF (fixtures)", (root) => {
  const dir = join(root, "preprocess");
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as {
    inputs: Record<string, { base: string; format: string }>;
    processor_config: Record<string, unknown>;
  };
  const cfg = defaultProcessorConfig();

  it("the fixture's processor_config parses to the same settings as the defaults", () => {
    const d = mkdtempSync(join(tmpdir(), "cmm-"));
    writeFileSync(join(d, "preprocessor_config.json"), JSON.stringify(manifest.processor_config));
    expect(loadProcessorConfig(d, 336)).toEqual(cfg);
  });

  for (const [file, entry] of Object.entries(manifest.inputs)) {
    for (const mode of ["crop", "pad"] as const) {
      it(`${file} (${mode}): from the fixture's PIL pixels, within 1e-6 of HF`, () => {
        const rgb = readNpy(join(dir, `${entry.base}.rgb.npy`));
        const img: RgbImage = { height: rgb.shape[0], width: rgb.shape[1], data: rgb.data as Uint8Array };
        const ref = readNpy(join(dir, `${entry.base}.${mode}.npy`));
        expect(ref.shape).toEqual([1, 3, 336, 336]);
        expect(maxAbsDiff(preprocess(img, cfg, mode), ref.data)).toBeLessThanOrEqual(1e-6);
      });
      if (entry.format === "JPEG") {
        // jpeg-js pixels differ from libjpeg-turbo's by a few levels; measured worst case after
        // normalisation: 0.057 (4:4:4) and 0.441 (4:2:0). Exact with the mozjpeg decoder.
        it(`${file} (${mode}): end to end from the file, within the decoder's tolerance`, async () => {
          const ref = readNpy(join(dir, `${entry.base}.${mode}.npy`));
          const bound = (await activeJpegDecoder()) === "mozjpeg" ? 1e-6 : file.includes("420") ? 0.5 : 0.07;
          expect(maxAbsDiff(preprocess(await loadImage(join(dir, file)), cfg, mode), ref.data)).toBeLessThanOrEqual(bound);
        });
      }
      if (entry.format === "PNG") {
        it(`${file} (${mode}): end to end from the file, within 1e-6 of HF`, async () => {
          const ref = readNpy(join(dir, `${entry.base}.${mode}.npy`));
          expect(maxAbsDiff(preprocess(await loadImage(join(dir, file)), cfg, mode), ref.data)).toBeLessThanOrEqual(1e-6);
        });
      }
    }
  }

  it("llava-tiny golden: preprocess_input.png -> preprocess_pixel_values.npy", async () => {
    const golden = join(root, "llava-tiny", "golden");
    const img = await loadImage(join(golden, "preprocess_input.png"));
    expect([img.width, img.height]).toEqual([500, 375]);
    const ref = readNpy(join(golden, "preprocess_pixel_values.npy"));
    expect(maxAbsDiff(preprocess(img, loadProcessorConfig(undefined, 336)), ref.data)).toBeLessThanOrEqual(1e-6);
  });

  it("image size 56 (tiny-56 model) runs the same pipeline at 56", async () => {
    const img = await loadImage(join(dir, "chelsea.png"));
    const out = preprocessWithShape(img, loadProcessorConfig(undefined, 56));
    expect([out.height, out.width]).toEqual([56, 56]);
    const resized = resizeBicubic(img, 84, 56); // int(56 * 451 / 300) = 84
    const cropped = centerCrop(resized, 56, 56);
    const again = preprocess(cropped, { ...loadProcessorConfig(undefined, 56), doResize: false, doCenterCrop: false });
    expect(maxAbsDiff(out.data, again)).toBe(0);
  });
});
