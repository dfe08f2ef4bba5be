// Images: the fixture photos (PNG, baseline and EXIF JPEG), the repo's CMYK/YCCK JPEGs, and small
// synthetic PNG, GIF and WebP files and bombs (headers declaring 20000 × 20000 or 65000 × 65000).
// Mutations: header bytes, any bytes, truncation, and rewritten dimensions (PNG with a fixed CRC).
// The loader run is what `ask` does with an image: decode, then CLIP preprocessing at 336.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32, deflateSync } from "node:zlib";
import { inspectJpeg } from "../../../src/vision/containers.js";
import { loadImage } from "../../../src/vision/decode.js";
import { preprocess } from "../../../src/vision/processor.js";
import { defaultProcessorConfig } from "../../../src/vision/processor-config.js";
import { concat, mutateBytes } from "./mutate.js";
import type { Rng } from "./rng.js";
import { enc, type FuzzCase, type Target } from "./target.js";

interface Img {
  name: string;
  bytes: Uint8Array;
}

const REPO_DATA = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..", "test", "vision", "data");

function chunk(type: string, data: Uint8Array): Uint8Array {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = concat(enc(type), data);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  return concat(len, body, crc);
}

function png(w: number, h: number, colorType: number, depth: number, raw: Uint8Array): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([depth, colorType, 0, 0, 0], 8);
  const parts = [Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr)];
  if (colorType === 3)
    parts.push(
      chunk(
        "PLTE",
        Uint8Array.from({ length: 12 }, (_, i) => i * 20),
      ),
    );
  parts.push(chunk("IDAT", deflateSync(raw)), chunk("IEND", new Uint8Array(0)));
  return concat(...parts);
}

function synthetic(): Img[] {
  const rgbRows = Uint8Array.from({ length: 16 * (1 + 16 * 3) }, (_, i) => (i % 49 === 0 ? 0 : (i * 7) & 255));
  const palRows = Uint8Array.from({ length: 8 * (1 + 8) }, (_, i) => (i % 9 === 0 ? 0 : i % 4));
  const gif = Uint8Array.from([
    ...enc("GIF89a"),
    2,
    0,
    2,
    0,
    0x80,
    0,
    0,
    0,
    0,
    0,
    255,
    255,
    255,
    0x2c,
    0,
    0,
    0,
    0,
    2,
    0,
    2,
    0,
    0,
    2,
    2,
    0x44,
    0x01,
    0,
    0x3b,
  ]);
  const vp8l = Uint8Array.from([0x2f, 0x01, 0x40, 0x00, 0x00, 0x07, 0x10, 0x11, 0x11, 0x08]);
  const webp = concat(enc("RIFF"), Uint8Array.from([22, 0, 0, 0]), enc("WEBPVP8L"), Uint8Array.from([vp8l.length, 0, 0, 0]), vp8l);
  const sof = [0xff, 0xc0, 0, 17, 8, 65000 >> 8, 65000 & 255, 65000 >> 8, 65000 & 255, 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0];
  const jpegBomb = Uint8Array.from([0xff, 0xd8, ...sof, 0xff, 0xda, 0, 8, 1, 1, 0, 0, 63, 0, 0, 0xff, 0xd9]);
  return [
    { name: "rgb16.png", bytes: png(16, 16, 2, 8, rgbRows) },
    { name: "palette8.png", bytes: png(8, 8, 3, 2, palRows) },
    { name: "bomb-20000.png", bytes: png(20000, 20000, 2, 8, new Uint8Array(64)) },
    { name: "bomb-65000.jpg", bytes: jpegBomb },
    { name: "tiny.gif", bytes: gif },
    { name: "tiny.webp", bytes: webp },
  ];
}

async function base(fixtures: string): Promise<Img[]> {
  const photos = ["camera.png", "logo.png", "chelsea_exif6.jpg", "coffee_420.jpg", "rocket.jpg", "truncated.jpg"].map((name) => ({
    name,
    bytes: new Uint8Array(readFileSync(join(fixtures, "preprocess", name))),
  }));
  const cmyk = ["cmyk-adobe.jpg", "ycck-adobe.jpg"].map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(REPO_DATA, name))) }));
  return [...photos, ...cmyk, ...synthetic()];
}

const DIMS = [0, 1, 2, 3, 255, 256, 1000, 4096, 13377, 16384, 20000, 40000, 65535, 0x7fffffff, 0xffffffff];

/** Rewrites the declared width/height (PNG IHDR with its CRC recomputed, JPEG SOF, GIF screen, WebP). */
function setDims(img: Img, rng: Rng): { bytes: Uint8Array; what: string } | null {
  const b = new Uint8Array(img.bytes);
  const w = rng.pick(DIMS);
  const h = rng.chance(0.3) ? w : rng.pick(DIMS);
  const v = new DataView(b.buffer);
  if (b[0] === 0x89 && b.length > 33) {
    v.setUint32(16, w >>> 0);
    v.setUint32(20, h >>> 0);
    v.setUint32(29, crc32(b.subarray(12, 29)) >>> 0);
    return { bytes: b, what: `PNG IHDR ${w} × ${h} (CRC fixed)` };
  }
  if (b[0] === 0xff && b[1] === 0xd8) {
    for (let p = 2; p + 9 < b.length && b[p] === 0xff;) {
      const m = b[p + 1];
      if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
        v.setUint16(p + 5, h & 0xffff);
        v.setUint16(p + 7, w & 0xffff);
        return { bytes: b, what: `JPEG SOF ${w & 0xffff} × ${h & 0xffff}` };
      }
      p += 2 + v.getUint16(p + 2);
    }
    return null;
  }
  if (b[0] === 0x47 && b.length > 10) {
    v.setUint16(6, w & 0xffff, true);
    v.setUint16(8, h & 0xffff, true);
    return { bytes: b, what: `GIF screen ${w & 0xffff} × ${h & 0xffff}` };
  }
  return null;
}

function declaredPixels(b: Uint8Array): number {
  if (b[0] === 0x89 && b.length >= 24) {
    const v = new DataView(b.buffer, b.byteOffset);
    return v.getUint32(16) * v.getUint32(20);
  }
  if (b[0] === 0xff && b[1] === 0xd8) {
    const info = inspectJpeg(b);
    return info.width * info.height;
  }
  return 0;
}

function make(imgs: Img[], rng: Rng): FuzzCase {
  const img = rng.pick(imgs);
  const ext = img.name.slice(img.name.lastIndexOf("."));
  const kind = rng.int(10);
  let bytes: Uint8Array;
  let what: string;
  let header = true;
  const dims = kind < 3 ? setDims(img, rng) : null;
  if (dims) ({ bytes, what } = dims);
  else if (kind < 7) ({ value: bytes, what } = mutateBytes(img.bytes, rng, 0, Math.min(img.bytes.length, 256)));
  else if (kind < 9) {
    ({ value: bytes, what } = mutateBytes(img.bytes, rng));
    header = false;
  } else {
    const cut = rng.int(img.bytes.length);
    bytes = img.bytes.slice(0, cut);
    what = `truncate to ${cut} of ${img.bytes.length} bytes`;
  }
  return { files: { [`image${ext}`]: bytes }, what: `${img.name}: ${what}`, header, declaredPixels: declaredPixels(bytes) };
}

async function run(dir: string): Promise<void> {
  const { readdirSync } = await import("node:fs");
  const file = join(dir, readdirSync(dir)[0]);
  const img = await loadImage(file);
  preprocess(img, defaultProcessorConfig(336));
}

export const images: Target<Img[]> = { name: "image", timeoutMs: 30_000, base, make, run };
