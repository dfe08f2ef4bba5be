// PNG/JPEG -> RGB uint8, matching PIL's `Image.open(path).convert("RGB")`: alpha is dropped (not
// composited), EXIF orientation is NOT applied unless asked for, greyscale/palette expand to RGB.
import { readFile } from "node:fs/promises";
import { JPEG_SOI, PNG_SIGNATURE, inspectJpeg, inspectPng, type PngInfo } from "./containers.js";
import { startsWith } from "./exif.js";
import { applyOrientation, rgbaToRgb, type RgbImage } from "./image.js";
import { wasmJpegDecoder } from "./jpeg-wasm.js";

export type JpegDecoderChoice = "auto" | "jpeg-js" | "mozjpeg";

export interface DecodeOptions {
  /** Rotate/flip per the EXIF Orientation tag like PIL's `ImageOps.exif_transpose`. Default false. */
  applyExifOrientation?: boolean;
  /**
   * "auto" (default): the mozjpeg wasm decoder from `@jsquash/jpeg` if installed (bit-exact with
   * PIL's libjpeg-turbo on our fixtures), else jimp's jpeg-js. Or force one of them.
   */
  jpegDecoder?: JpegDecoderChoice;
  /**
   * Refuse images with more pixels than this, read from the file header before any pixel is
   * decoded (a decompression-bomb guard). Default: `maxImagePixels()`, which starts at Pillow's
   * limit (2 × `Image.MAX_IMAGE_PIXELS` = 178 956 970). `Infinity` turns the check off.
   */
  maxPixels?: number;
}

/** Pillow raises DecompressionBombError above 2 × MAX_IMAGE_PIXELS = 2 × ⌊2^30 / 4 / 3⌋ pixels. */
export const DEFAULT_MAX_IMAGE_PIXELS = 2 * Math.floor((1024 * 1024 * 1024) / 4 / 3);
let processMaxPixels = DEFAULT_MAX_IMAGE_PIXELS;

/** The default pixel limit of this process (like Pillow's module-level `Image.MAX_IMAGE_PIXELS`). */
export function maxImagePixels(): number {
  return processMaxPixels;
}

/** Sets the process-wide default pixel limit (the CLI's `--max-image-pixels`); `Infinity` disables it. */
export function setMaxImagePixels(n: number): void {
  if (!(n > 0)) throw new Error(`the image pixel limit must be a positive number, got ${n}`);
  processMaxPixels = n;
}

/** An image the decoders refuse: unreadable, unsupported, corrupt, truncated or too large. */
export class ImageDecodeError extends Error {
  override name = "ImageDecodeError";
}

/** Thrown before decoding when the header declares more pixels than the limit. */
export class ImageTooLargeError extends ImageDecodeError {
  override name = "ImageTooLargeError";
}

function checkPixels(name: string, fmt: string, width: number, height: number, limit: number): void {
  if (width === 0 || height === 0)
    throw new ImageDecodeError(`${name}: cannot decode ${fmt}: the header declares an empty image (${width} × ${height})`);
  const pixels = width * height;
  if (pixels > limit) {
    throw new ImageTooLargeError(
      `${name}: image is ${width} × ${height} = ${pixels} pixels, above the limit of ${limit} ` +
        `(a possible decompression bomb; raise it with --max-image-pixels or the maxPixels option)`,
    );
  }
}

/**
 * Every 8 × 8 block of a Huffman-coded JPEG costs at least one bit (its DC code), so a file smaller
 * than blocks / 8 bytes cannot hold the frame its header declares: a damaged header or a truncated
 * file. Refusing it here spares decoding a mostly missing image of up to the pixel limit (jpeg-js
 * takes minutes and gigabytes on a 1 KB file declaring 4096 × 16384). Pillow would return the
 * missing blocks grey; this file was damaged either way.
 */
function checkJpegDataSize(name: string, info: { width: number; height: number; huffman: boolean }, fileBytes: number): void {
  if (!info.huffman) return;
  const blocks = Math.ceil(info.width / 8) * Math.ceil(info.height / 8);
  const minBytes = Math.ceil(blocks / 8);
  if (fileBytes < minBytes) {
    throw new ImageDecodeError(
      `${name}: cannot decode JPEG: the header declares ${info.width} × ${info.height} pixels, which needs at least ` +
        `${minBytes} bytes of image data, but the file has ${fileBytes} bytes (damaged header or truncated file)`,
    );
  }
}

/** Deflate cannot compress better than 1032:1 (zlib's documented maximum); a little margin on top. */
const MAX_DEFLATE_RATIO = 1100;
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/**
 * The pixels a PNG header declares need at least ⌈w·channels·depth/8⌉·h bytes once inflated; when
 * the file's IDAT data could not inflate to that much, the header is damaged or the file truncated.
 * pngjs would otherwise return a mostly empty image (19 s and 1.1 GB for a 8 × 8 palette file whose
 * header was rewritten to 4096 × 40000).
 */
function checkPngDataSize(name: string, info: PngInfo): void {
  const rowBytes = Math.ceil((info.width * (PNG_CHANNELS[info.colorType] ?? 1) * info.bitDepth) / 8);
  const minRaw = rowBytes * info.height;
  if (minRaw > MAX_DEFLATE_RATIO * info.idatBytes + 1024) {
    throw new ImageDecodeError(
      `${name}: cannot decode PNG: the header declares ${info.width} × ${info.height} pixels (${minRaw} bytes of ` +
        `image data), more than the file's ${info.idatBytes} bytes of compressed data can hold (damaged header or truncated file)`,
    );
  }
}

type RawBitmap = { width: number; height: number; data: ArrayLike<number> };

/** Which JPEG decoder "auto" resolves to in this installation. */
export async function activeJpegDecoder(): Promise<"mozjpeg" | "jpeg-js"> {
  return (await wasmJpegDecoder()) ? "mozjpeg" : "jpeg-js";
}

export async function loadImage(path: string, opts: DecodeOptions = {}): Promise<RgbImage> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === "ENOENT" ? "no such file" : err.code === "EISDIR" ? "is a directory" : err.message;
    throw new ImageDecodeError(`${path}: cannot read image file (${why})`);
  }
  return decodeImage(bytes, path, opts);
}

/** Decodes PNG or JPEG bytes; `name` (usually the path) is used in error messages. */
export async function decodeImage(bytes: Uint8Array, name: string, opts: DecodeOptions = {}): Promise<RgbImage> {
  if (bytes.length === 0) throw new ImageDecodeError(`${name}: cannot decode image: the file is empty (0 bytes)`);
  const limit = opts.maxPixels ?? processMaxPixels;
  let decoded: { img: RgbImage; orientation: number };
  if (startsWith(bytes, 0, PNG_SIGNATURE)) decoded = await decodePng(bytes, name, limit);
  else if (startsWith(bytes, 0, JPEG_SOI)) decoded = await decodeJpeg(bytes, name, opts.jpegDecoder ?? "auto", limit);
  else throw new ImageDecodeError(`${name}: cannot decode image: ${describeUnknown(bytes)}`);
  return opts.applyExifOrientation ? applyOrientation(decoded.img, decoded.orientation) : decoded.img;
}

function describeUnknown(b: Uint8Array): string {
  const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));
  const known: Array<[string, number[], number]> = [
    ["GIF", ascii("GIF8"), 0],
    ["BMP", ascii("BM"), 0],
    ["WebP", ascii("WEBP"), 8],
    ["TIFF", ascii("II*\0"), 0],
    ["TIFF", ascii("MM\0*"), 0],
  ];
  for (const [fmt, sig, at] of known) {
    if (startsWith(b, at, sig)) return `${fmt} files are not supported (only PNG and JPEG)`;
  }
  const head = Array.from(b.subarray(0, 8), (v) => v.toString(16).padStart(2, "0")).join(" ");
  return `not a PNG or JPEG file (unrecognised signature: ${head})`;
}

async function jimpBitmap(bytes: Uint8Array, options?: Record<string, unknown>): Promise<RawBitmap> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // jimp's option type is a union keyed by MIME type; ours are plain decoder options.
  // loaded on first use: jimp costs about 0.15 s of start-up that commands refused early never need
  const { Jimp } = await import("jimp");
  const img = await Jimp.fromBuffer(buf, options as Parameters<typeof Jimp.fromBuffer>[1]);
  return img.bitmap as RawBitmap;
}

async function decodePng(bytes: Uint8Array, name: string, limit: number): Promise<{ img: RgbImage; orientation: number }> {
  let info: PngInfo;
  try {
    info = inspectPng(bytes);
  } catch (e) {
    throw new ImageDecodeError(`${name}: cannot decode PNG: ${(e as Error).message}`);
  }
  checkPixels(name, "PNG", info.width, info.height, limit);
  checkPngDataSize(name, info);
  let raw: RawBitmap;
  try {
    // skipRescale: keep 16-bit and 1/2/4-bit samples raw so we can scale them as PIL does.
    raw = await jimpBitmap(info.withoutTrns, { "image/png": { skipRescale: true } });
  } catch (e) {
    // pngjs' own message for a short file is cryptic ("read requests waiting on finished stream").
    const why = info.complete ? `corrupt PNG (${(e as Error).message})` : "file is truncated (it ends before the IEND chunk)";
    throw new ImageDecodeError(`${name}: cannot decode PNG: ${why}`);
  }
  return { img: pngToRgb(raw, info.bitDepth, info.colorType), orientation: info.orientation };
}

/**
 * pngjs hands back RGBA with raw sample values. PIL's rules: 16-bit RGB/RGBA/LA keep the high
 * byte; 16-bit greyscale opens as mode I and convert("RGB") clips it to 0..255; 1/2/4-bit grey is
 * scaled to 0..255 (x255, x85, x17); palette entries are already 8-bit.
 */
function pngToRgb(raw: RawBitmap, depth: number, colorType: number): RgbImage {
  const { width, height, data } = raw;
  const n = width * height;
  const out = new Uint8Array(n * 3);
  let map: (v: number) => number = (v) => v;
  if (depth === 16) map = colorType === 0 ? (v) => Math.min(v, 255) : (v) => v >> 8;
  else if (depth < 8 && colorType !== 3) map = (v) => (v * 255) / ((1 << depth) - 1);
  for (let i = 0; i < n; i++) {
    out[i * 3] = map(data[i * 4]);
    out[i * 3 + 1] = map(data[i * 4 + 1]);
    out[i * 3 + 2] = map(data[i * 4 + 2]);
  }
  return { width, height, data: out };
}

/**
 * jimp's jpeg-js, with its own resolution/memory caps lifted to our pixel limit (already checked).
 * For Adobe CMYK/YCCK files it inverts the stored samples (Adobe writes them inverted, which is why
 * Pillow opens them with rawmode "CMYK;I") and computes R = (255−K) − C·(255−K)/255, Pillow's
 * cmyk2rgb formula; jpeg-js truncates where Pillow rounds, so channels may differ by 1 level.
 */
function decodeWithJpegJs(bytes: Uint8Array, limit: number): Promise<RawBitmap> {
  const mp = Number.isFinite(limit) ? Math.ceil(limit / 1e6) + 1 : 1e9;
  return jimpBitmap(bytes, { "image/jpeg": { maxResolutionInMP: mp, maxMemoryUsageInMB: Math.ceil(mp * 16) } });
}

async function decodeJpeg(
  bytes: Uint8Array,
  name: string,
  choice: JpegDecoderChoice,
  limit: number,
): Promise<{ img: RgbImage; orientation: number }> {
  const info = inspectJpeg(bytes);
  if (info.components === 0)
    throw new ImageDecodeError(
      `${name}: cannot decode JPEG: no frame header (SOF marker) before the image data (corrupt or truncated file)`,
    );
  checkPixels(name, "JPEG", info.width, info.height, limit);
  checkJpegDataSize(name, info, bytes.length);
  // PIL raises "image file is truncated" here; tolerant decoders would return grey-filled rows.
  if (!info.complete)
    throw new ImageDecodeError(`${name}: cannot decode JPEG: file is truncated (no end-of-image marker after the image data)`);
  const cmyk = info.components === 4;
  if (cmyk && info.adobeTransform < 0) {
    throw new ImageDecodeError(`${name}: cannot decode JPEG: 4-component (CMYK) JPEG without an Adobe APP14 segment is not supported`);
  }
  // libjpeg cannot convert CMYK/YCCK to RGB, so mozjpeg refuses them; jpeg-js applies the same
  // formula as Pillow's cmyk2rgb (see decodeWithJpegJs).
  const wasm = choice === "jpeg-js" || cmyk ? null : await wasmJpegDecoder();
  if (choice === "mozjpeg" && !wasm && !cmyk) {
    throw new ImageDecodeError(`${name}: jpegDecoder "mozjpeg" needs the optional package @jsquash/jpeg, which is not installed`);
  }
  let raw: RawBitmap;
  try {
    raw = wasm ? await wasm(info.withoutExif) : await decodeWithJpegJs(info.withoutExif, limit);
  } catch (e) {
    const why = (e as Error).message || "the decoder gave no reason";
    throw new ImageDecodeError(`${name}: cannot decode JPEG (corrupt or truncated: ${why})`);
  }
  return { img: rgbaToRgb(raw.data, raw.width, raw.height), orientation: info.orientation };
}
