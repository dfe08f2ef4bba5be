// HF CLIPImageProcessor (transformers 4.40) re-implemented on RgbImage, plus the original LLaVA
// "pad" path (expand2square). The processor's order is: resize shortest edge (PIL bicubic on uint8)
// -> centre crop -> rescale (uint8 * factor in float64, cast to float32) -> normalize ((x - mean) /
// std in float32) -> CHW. Each float step is rounded to float32 exactly where numpy rounds.
import { resizeImage, type ResampleFilter } from "./bicubic.js";
import { createImage, paste, type RgbImage } from "./image.js";
import type { ProcessorConfig } from "./processor-config.js";

export type PreprocessMode = "crop" | "pad";

/** PIL resampling codes as stored in preprocessor_config.json's `resample`. 0 (NEAREST) is not supported. */
const PIL_FILTERS: Record<number, ResampleFilter> = { 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming" };

/**
 * HF get_resize_output_image_size(default_to_square=False): the short side becomes `size`, the long
 * side `int(size * long / short)` (Python float maths, truncated).
 */
export function shortestEdgeSize(width: number, height: number, size: number): [number, number] {
  const [short, long] = width <= height ? [width, height] : [height, width];
  const newLong = Math.trunc((size * long) / short);
  return width <= height ? [size, newLong] : [newLong, size];
}

/**
 * HF center_crop: offsets floor((orig - crop) / 2); where the image is smaller than the crop it is
 * zero-padded so the result is always crop x crop (the same rows/columns HF's pad-then-slice picks).
 */
export function centerCrop(img: RgbImage, cropW: number, cropH: number): RgbImage {
  const top = Math.floor((img.height - cropH) / 2);
  const left = Math.floor((img.width - cropW) / 2);
  if (top === 0 && left === 0 && cropW === img.width && cropH === img.height) return img;
  const out = createImage(cropW, cropH);
  paste(out, img, -left, -top);
  return out;
}

/** LLaVA's background colour for pad mode: `tuple(int(x * 255) for x in image_mean)`. */
export function padBackground(mean: readonly number[]): [number, number, number] {
  return [Math.trunc(mean[0] * 255), Math.trunc(mean[1] * 255), Math.trunc(mean[2] * 255)];
}

/** Original LLaVA expand2square: centre the image on a square canvas of the background colour. */
export function expandToSquare(img: RgbImage, background: readonly [number, number, number]): RgbImage {
  if (img.width === img.height) return img;
  const side = Math.max(img.width, img.height);
  const canvas = createImage(side, side, background);
  paste(canvas, img, Math.floor((side - img.width) / 2), Math.floor((side - img.height) / 2));
  return canvas;
}

/** Resize + crop stage on uint8 pixels (what HF does before converting to float). */
export function resizeAndCrop(img: RgbImage, cfg: ProcessorConfig): RgbImage {
  let out = img;
  if (cfg.doResize) {
    const filter = PIL_FILTERS[cfg.resample ?? 3];
    if (!filter) throw new Error(`preprocess: unsupported PIL resample code ${cfg.resample} (supported: 1-5)`);
    const [w, h] = cfg.squareResize ? [cfg.size, cfg.size] : shortestEdgeSize(img.width, img.height, cfg.size);
    // Compute only what the centre crop keeps (same offsets as centerCrop): an extreme aspect
    // ratio must not build a gigabyte-sized intermediate. Axes shorter than the crop stay whole
    // and centerCrop pads them as before.
    const axis = (n: number): [number, number] =>
      cfg.doCenterCrop && n > cfg.cropSize ? [Math.floor((n - cfg.cropSize) / 2), cfg.cropSize] : [0, n];
    const [x, cw] = axis(w);
    const [y, chh] = axis(h);
    out = resizeImage(out, w, h, filter, { x, y, width: cw, height: chh });
  }
  if (cfg.doCenterCrop) out = centerCrop(out, cfg.cropSize, cfg.cropSize);
  return out;
}

/**
 * Per-channel lookup of the float32 value every uint8 level maps to. numpy: rescale does
 * `(u8.astype(float64) * factor).astype(float32)`; normalize then computes `(x - mean) / std` with
 * mean/std cast to float32, in float32 — one fround per numpy operation reproduces it exactly.
 */
function levelTable(cfg: ProcessorConfig): Float32Array {
  const table = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    const mean = Math.fround(cfg.mean[c]);
    const std = Math.fround(cfg.std[c]);
    for (let v = 0; v < 256; v++) {
      let x = cfg.doRescale ? Math.fround(v * cfg.rescaleFactor) : v;
      if (cfg.doNormalize) x = Math.fround(Math.fround(x - mean) / std);
      table[c * 256 + v] = x;
    }
  }
  return table;
}

/** HWC uint8 -> CHW float32 through the rescale/normalize table. */
function toChw(img: RgbImage, cfg: ProcessorConfig): Float32Array {
  const table = levelTable(cfg);
  const plane = img.width * img.height;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    out[i] = table[img.data[i * 3]];
    out[plane + i] = table[256 + img.data[i * 3 + 1]];
    out[2 * plane + i] = table[512 + img.data[i * 3 + 2]];
  }
  return out;
}

export interface PreprocessResult {
  data: Float32Array;
  channels: 3;
  height: number;
  width: number;
}

/** Like `preprocess`, also reporting the output height/width (crop x crop unless cropping is off). */
export function preprocessWithShape(img: RgbImage, cfg: ProcessorConfig, mode: PreprocessMode = "crop"): PreprocessResult {
  if (mode !== "crop" && mode !== "pad") throw new Error(`preprocess: mode must be "crop" or "pad", got ${String(mode)}`);
  const src = mode === "pad" ? expandToSquare(img, padBackground(cfg.mean)) : img;
  const ready = resizeAndCrop(src, cfg);
  return { data: toChw(ready, cfg), channels: 3, height: ready.height, width: ready.width };
}

/**
 * CLIP pixel values for one image: Float32Array laid out [3, cropSize, cropSize] (CHW).
 * mode "crop" = llava-hf CLIPImageProcessor; "pad" = original LLaVA expand2square, then the same.
 */
export function preprocess(img: RgbImage, cfg: ProcessorConfig, mode: PreprocessMode = "crop"): Float32Array {
  return preprocessWithShape(img, cfg, mode).data;
}
