// Byte-level inspection of PNG and JPEG files, done before the pixel decoder runs. Three jobs:
//  - read the EXIF orientation ourselves and hide the EXIF block from jimp (which would otherwise
//    auto-rotate, unlike PIL's Image.open);
//  - remove PNG tRNS chunks, because pngjs zeroes the RGB of "transparent" pixels while PIL's
//    convert("RGB") keeps them;
//  - spot truncation that a tolerant decoder might paper over (PIL raises on it).
import { EXIF_PREFIX, exifPayloadOrientation, startsWith, tiffOrientation } from "./exif.js";

export const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const;
export const JPEG_SOI = [0xff, 0xd8, 0xff] as const;

const u16be = (b: Uint8Array, p: number): number => (b[p] << 8) | b[p + 1];
const u32be = (b: Uint8Array, p: number): number => u16be(b, p) * 65536 + u16be(b, p + 2);

/** Concatenates the byte ranges of `b` that are not listed in `drop` (sorted, non-overlapping). */
function without(b: Uint8Array, drop: Array<[number, number]>): Uint8Array {
  if (drop.length === 0) return b;
  const removed = drop.reduce((n, [s, e]) => n + e - s, 0);
  const out = new Uint8Array(b.length - removed);
  let src = 0;
  let dst = 0;
  for (const [s, e] of drop) {
    out.set(b.subarray(src, s), dst);
    dst += s - src;
    src = e;
  }
  out.set(b.subarray(src), dst);
  return out;
}

export interface JpegInfo {
  /** EXIF orientation of the first "Exif" APP1 segment (PIL uses the first one), else 1. */
  orientation: number;
  /** The file with every EXIF APP1 segment removed: same pixels, nothing for jimp to rotate by. */
  withoutExif: Uint8Array;
  /** False when no end-of-image marker follows the first scan: the file was cut short. */
  complete: boolean;
  /** From the first SOFn frame header; 0 when the file has none (or a DNL-defined height). */
  width: number;
  height: number;
  /** Components of the frame (1 grey, 3 YCbCr/RGB, 4 CMYK/YCCK); 0 without a frame header. */
  components: number;
  /** Adobe APP14 colour transform (0 none/CMYK, 1 YCbCr, 2 YCCK), or -1 without an Adobe segment. */
  adobeTransform: number;
  /** The frame is Huffman-coded (SOF0-3, 5-7), not arithmetic-coded (SOF9-11, 13-15). */
  huffman: boolean;
}

/** SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC). */
const isSof = (m: number): boolean => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
const ADOBE = [0x41, 0x64, 0x6f, 0x62, 0x65] as const;

export function inspectJpeg(b: Uint8Array): JpegInfo {
  let orientation = 0;
  const drop: Array<[number, number]> = [];
  const frame = { width: 0, height: 0, components: 0, adobeTransform: -1, huffman: true };
  let sos = -1;
  let pos = 2;
  while (pos + 4 <= b.length && b[pos] === 0xff) {
    while (pos + 1 < b.length && b[pos + 1] === 0xff) pos++; // fill bytes
    const marker = b[pos + 1];
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      pos += 2;
      continue;
    }
    if (marker === 0xda) {
      sos = pos;
      break;
    }
    if (marker === 0xd9) break;
    const end = pos + 2 + u16be(b, pos + 2);
    if (end > b.length) break;
    if (marker === 0xe1 && startsWith(b, pos + 4, EXIF_PREFIX)) {
      if (orientation === 0) orientation = exifPayloadOrientation(b, pos + 4, end);
      drop.push([pos, end]);
    }
    if (isSof(marker) && frame.components === 0 && end - pos >= 10) {
      frame.height = u16be(b, pos + 5);
      frame.width = u16be(b, pos + 7);
      frame.components = b[pos + 9];
      frame.huffman = marker < 0xc8;
    }
    if (marker === 0xee && frame.adobeTransform < 0 && end - pos >= 16 && startsWith(b, pos + 4, ADOBE)) frame.adobeTransform = b[pos + 15];
    pos = end;
  }
  return { orientation: orientation || 1, withoutExif: without(b, drop), complete: sos >= 0 && hasEoiAfter(b, sos), ...frame };
}

/** In entropy-coded data 0xFF is always followed by 0x00 or RSTn, so any FF D9 after SOS is an EOI. */
function hasEoiAfter(b: Uint8Array, from: number): boolean {
  for (let i = b.length - 2; i > from; i--) if (b[i] === 0xff && b[i + 1] === 0xd9) return true;
  return false;
}

export interface PngInfo {
  width: number;
  height: number;
  bitDepth: number;
  /** 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA. */
  colorType: number;
  /** From an eXIf chunk, else 1. */
  orientation: number;
  /** The file without tRNS chunks (see the header comment). */
  withoutTrns: Uint8Array;
  /** An IEND chunk was reached with every chunk complete; used to explain decoder errors. */
  complete: boolean;
  /** Bytes of compressed image data (all IDAT chunk payloads) present in the file. */
  idatBytes: number;
}

export function inspectPng(b: Uint8Array): PngInfo {
  if (b.length < 33 || u32be(b, 8) !== 13 || !startsWith(b, 12, [0x49, 0x48, 0x44, 0x52])) {
    throw new Error("corrupt PNG: missing or malformed IHDR chunk");
  }
  const info = { width: u32be(b, 16), height: u32be(b, 20), bitDepth: b[24], colorType: b[25], orientation: 1 };
  const drop: Array<[number, number]> = [];
  let complete = false;
  let idatBytes = 0;
  let pos = 8;
  while (pos + 12 <= b.length) {
    const end = pos + 12 + u32be(b, pos);
    if (end > b.length) break; // the decoder reports the truncation
    const type = String.fromCharCode(b[pos + 4], b[pos + 5], b[pos + 6], b[pos + 7]);
    if (type === "tRNS") drop.push([pos, end]);
    if (type === "IDAT") idatBytes += end - pos - 12;
    if (type === "eXIf") info.orientation = tiffOrientation(b, pos + 8, end - 4);
    pos = end;
    if (type === "IEND") {
      complete = true;
      break;
    }
  }
  return { ...info, withoutTrns: without(b, drop), complete, idatBytes };
}
