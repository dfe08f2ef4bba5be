// The in-memory image type shared by the vision pipeline, plus the pixel-moving helpers that are
// not resampling (EXIF orientation, pasting onto a canvas, RGBA -> RGB).

/** 8-bit RGB image, row-major HWC: pixel (x, y) channel c is at `(y * width + x) * 3 + c`. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export function createImage(width: number, height: number, fill?: readonly [number, number, number]): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`image size must be positive integers, got ${width}x${height}`);
  }
  const data = new Uint8Array(width * height * 3);
  if (fill && fill.some((v) => v !== 0)) {
    data.set(fill, 0);
    // Double the filled prefix each step: O(log n) bulk copies instead of one set() per pixel.
    for (let n = 3; n < data.length; n *= 2) data.copyWithin(n, 0, Math.min(n, data.length - n));
  }
  return { width, height, data };
}

/**
 * Drops every channel after the first three. PIL's `convert("RGB")` from RGBA/LA discards alpha
 * rather than compositing over a background, so this is the whole conversion.
 */
export function rgbaToRgb(src: ArrayLike<number>, width: number, height: number, channels = 4): RgbImage {
  const out = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; j < out.length; i += channels, j += 3) {
    out[j] = src[i];
    out[j + 1] = src[i + 1];
    out[j + 2] = src[i + 2];
  }
  return { width, height, data: out };
}

/**
 * Source coordinates for destination pixel (x, y) under EXIF orientation `o`, for a source of
 * size w x h. Mirrors what PIL's `ImageOps.exif_transpose` does: 2 FLIP_LEFT_RIGHT, 3 ROTATE_180,
 * 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE, 6 ROTATE_270 (90° clockwise), 7 TRANSVERSE, 8 ROTATE_90.
 */
function orientationSource(o: number, x: number, y: number, w: number, h: number): [number, number] {
  switch (o) {
    case 2:
      return [w - 1 - x, y];
    case 3:
      return [w - 1 - x, h - 1 - y];
    case 4:
      return [x, h - 1 - y];
    case 5:
      return [y, x];
    case 6:
      return [y, h - 1 - x];
    case 7:
      return [w - 1 - y, h - 1 - x];
    case 8:
      return [w - 1 - y, x];
    default:
      return [x, y];
  }
}

/** Returns the image as it should be displayed for EXIF orientation `o` (1..8; others: unchanged). */
export function applyOrientation(img: RgbImage, o: number): RgbImage {
  if (!Number.isInteger(o) || o < 2 || o > 8) return img;
  const swap = o >= 5; // orientations 5..8 exchange width and height
  const W = swap ? img.height : img.width;
  const H = swap ? img.width : img.height;
  const out = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const [sx, sy] = orientationSource(o, x, y, img.width, img.height);
      const s = (sy * img.width + sx) * 3;
      const d = (y * W + x) * 3;
      out[d] = img.data[s];
      out[d + 1] = img.data[s + 1];
      out[d + 2] = img.data[s + 2];
    }
  }
  return { width: W, height: H, data: out };
}

/** Copies `img` into `canvas` with its top-left corner at (left, top); parts outside are clipped. */
export function paste(canvas: RgbImage, img: RgbImage, left: number, top: number): void {
  for (let y = 0; y < img.height; y++) {
    const cy = y + top;
    if (cy < 0 || cy >= canvas.height) continue;
    const x0 = Math.max(0, -left);
    const x1 = Math.min(img.width, canvas.width - left);
    if (x1 <= x0) continue;
    const src = img.data.subarray((y * img.width + x0) * 3, (y * img.width + x1) * 3);
    canvas.data.set(src, (cy * canvas.width + x0 + left) * 3);
  }
}
