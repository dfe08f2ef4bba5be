// Pixel-level drawing for the introspection pictures: colour maps, bilinear upsampling of a patch
// grid, alpha overlay, a vertical colour bar, and text via jimp's bundled bitmap fonts (Open Sans,
// ASCII only: other characters are drawn as '?').
import { Jimp, loadFont } from "jimp";
import { SANS_16_BLACK } from "jimp/fonts";
import type { RgbImage } from "../vision/index.js";

export type ColormapName = "viridis" | "inferno" | "gray";
export type Rgb = [number, number, number];

// Anchor colours sampled from matplotlib's maps at t = 0, 1/8, …, 1; linear in between.
const ANCHORS: Record<ColormapName, Rgb[]> = {
  viridis: [
    [68, 1, 84],
    [71, 44, 122],
    [59, 81, 139],
    [44, 113, 142],
    [33, 144, 141],
    [39, 173, 129],
    [92, 200, 99],
    [170, 220, 50],
    [253, 231, 37],
  ],
  inferno: [
    [0, 0, 4],
    [31, 12, 72],
    [85, 15, 109],
    [136, 34, 106],
    [186, 54, 85],
    [227, 89, 51],
    [249, 140, 10],
    [249, 201, 50],
    [252, 255, 164],
  ],
  gray: [
    [0, 0, 0],
    [255, 255, 255],
  ],
};

export const COLORMAPS = Object.keys(ANCHORS) as ColormapName[];

/** t ∈ [0,1] (clamped) → colour. */
export function colormap(name: ColormapName, t: number): Rgb {
  const a = ANCHORS[name];
  if (!a) throw new Error(`unknown colour map '${name}' (valid: ${COLORMAPS.join(", ")})`);
  const x = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0)) * (a.length - 1);
  const i = Math.min(a.length - 2, Math.floor(x));
  const f = x - i;
  return [0, 1, 2].map((c) => Math.round(a[i][c] + f * (a[i + 1][c] - a[i][c]))) as Rgb;
}

/**
 * A `g × g` map to `w × h` pixels, bilinear with pixel centres aligned (align_corners = false, edges
 * clamped): patch (r,c) is centred on pixel ((c + ½)·w/g, (r + ½)·h/g).
 */
export function upsampleBilinear(map: Float32Array, g: number, w: number, h: number): Float32Array {
  if (map.length !== g * g) throw new Error(`map has ${map.length} values, expected ${g}×${g}`);
  const out = new Float32Array(w * h);
  const coord = (i: number, n: number) => {
    if (g === 1) return { i0: 0, i1: 0, f: 0 };
    const s = Math.max(0, Math.min(g - 1, ((i + 0.5) * g) / n - 0.5));
    const i0 = Math.min(g - 2, Math.floor(s));
    return { i0, i1: i0 + 1, f: s - i0 };
  };
  const xs = Array.from({ length: w }, (_, x) => coord(x, w));
  for (let y = 0; y < h; y++) {
    const cy = coord(y, h);
    for (let x = 0; x < w; x++) {
      const cx = xs[x];
      const top = map[cy.i0 * g + cx.i0] * (1 - cx.f) + map[cy.i0 * g + cx.i1] * cx.f;
      const bot = map[cy.i1 * g + cx.i0] * (1 - cx.f) + map[cy.i1 * g + cx.i1] * cx.f;
      out[y * w + x] = top * (1 - cy.f) + bot * cy.f;
    }
  }
  return out;
}

/** [min, max] of finite values (max > min guaranteed for display scaling). */
export function range(values: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) continue;
    lo = Math.min(lo, values[i]);
    hi = Math.max(hi, values[i]);
  }
  if (!Number.isFinite(lo)) return [0, 1];
  return hi > lo ? [lo, hi] : [lo, lo + (Math.abs(lo) || 1)];
}

/** Nearest-neighbour integer upscale (patch borders stay sharp). */
export function scaleNearest(img: RgbImage, k: number): RgbImage {
  if (k === 1) return img;
  const w = img.width * k;
  const h = img.height * k;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (Math.floor(y / k) * img.width + Math.floor(x / k)) * 3;
      data.set(img.data.subarray(s, s + 3), (y * w + x) * 3);
    }
  }
  return { width: w, height: h, data };
}

/** `img` blended with the coloured values (same pixel count): (1−α)·img + α·colour(v). */
export function overlay(img: RgbImage, values: Float32Array, lo: number, hi: number, cmap: ColormapName, alpha: number): RgbImage {
  const data = new Uint8Array(img.data.length);
  for (let i = 0; i < values.length; i++) {
    const c = colormap(cmap, (values[i] - lo) / (hi - lo));
    for (let k = 0; k < 3; k++) data[i * 3 + k] = Math.round((1 - alpha) * img.data[i * 3 + k] + alpha * c[k]);
  }
  return { width: img.width, height: img.height, data };
}

/** A drawing surface: RGBA bitmap of a jimp image with a white background. */
export class Canvas {
  readonly img: InstanceType<typeof Jimp>;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.img = new Jimp({ width, height, color: 0xffffffff });
  }

  put(x: number, y: number, c: Rgb): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = (y * this.width + x) * 4;
    const d = this.img.bitmap.data;
    d[o] = c[0];
    d[o + 1] = c[1];
    d[o + 2] = c[2];
    d[o + 3] = 255;
  }

  fill(x: number, y: number, w: number, h: number, c: Rgb): void {
    for (let j = y; j < y + h; j++) for (let i = x; i < x + w; i++) this.put(i, j, c);
  }

  blit(src: RgbImage, x: number, y: number): void {
    for (let j = 0; j < src.height; j++) {
      for (let i = 0; i < src.width; i++) {
        const s = (j * src.width + i) * 3;
        this.put(x + i, y + j, [src.data[s], src.data[s + 1], src.data[s + 2]]);
      }
    }
  }

  /** Vertical colour bar, high values at the top, framed. */
  colourBar(x: number, y: number, w: number, h: number, cmap: ColormapName): void {
    for (let j = 0; j < h; j++) this.fill(x, y + j, w, 1, colormap(cmap, 1 - j / Math.max(1, h - 1)));
    this.frame(x - 1, y - 1, w + 2, h + 2);
  }

  frame(x: number, y: number, w: number, h: number, c: Rgb = [0, 0, 0]): void {
    this.fill(x, y, w, 1, c);
    this.fill(x, y + h - 1, w, 1, c);
    this.fill(x, y, 1, h, c);
    this.fill(x + w - 1, y, 1, h, c);
  }

  async text(x: number, y: number, s: string, maxWidth?: number): Promise<void> {
    this.img.print({ font: await font(), x, y, text: asciiOnly(s), maxWidth });
  }

  png(): Promise<Buffer> {
    return this.img.getBuffer("image/png");
  }
}

/** Height of a line of the caption font. */
export const LINE_HEIGHT = 18;

let fontPromise: ReturnType<typeof loadFont> | null = null;
function font(): ReturnType<typeof loadFont> {
  fontPromise ??= loadFont(SANS_16_BLACK);
  return fontPromise;
}

export function asciiOnly(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, "?");
}

/** Short number for labels: 3 significant digits. */
export function fmtNum(x: number): string {
  if (x === 0) return "0";
  const a = Math.abs(x);
  return a >= 1000 || a < 0.01 ? x.toExponential(1) : x.toPrecision(3);
}
