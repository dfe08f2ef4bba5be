// Decoding must reproduce PIL's `Image.open(p).convert("RGB")`: exact for PNG, measured for JPEG
// (jimp's jpeg-js is not libjpeg-turbo), EXIF orientation off by default, clear errors.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { readNpy } from "../../src/weights/npy.js";
import { activeJpegDecoder, decodeImage, loadImage, type RgbImage } from "../../src/vision/index.js";
import { describeFixtures } from "../helpers/fixtures.js";

// ---- a minimal PNG writer, so edge cases need no binary fixtures ----
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const v of b) c = CRC_TABLE[(c ^ v) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Uint8Array): Buffer {
  const td = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(data.length);
  const tail = Buffer.alloc(4);
  tail.writeUInt32BE(crc32(td));
  return Buffer.concat([head, td, tail]);
}
/** rows: already bit-packed scanlines (no filter byte). */
function png(w: number, h: number, depth: number, colorType: number, rows: number[][], extra: Buffer[] = []): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([depth, colorType, 0, 0, 0], 8);
  const raw = Buffer.from(rows.flatMap((r) => [0, ...r]));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    ...extra,
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", new Uint8Array(0)),
  ]);
}
const be16 = (v: number): number[] => [v >> 8, v & 255];
const pixels = (img: RgbImage): number[][] =>
  Array.from({ length: img.width * img.height }, (_, i) => Array.from(img.data.subarray(i * 3, i * 3 + 3)));

describe("decodeImage: PNG colour types follow PIL convert('RGB')", () => {
  it("16-bit greyscale is clipped to 0..255 (PIL opens it as mode I)", async () => {
    const img = await decodeImage(png(3, 1, 16, 0, [[...be16(7), ...be16(300), ...be16(65535)]]), "g16.png");
    expect(pixels(img)).toEqual([
      [7, 7, 7],
      [255, 255, 255],
      [255, 255, 255],
    ]);
  });

  it("16-bit RGB keeps the high byte (no rounding)", async () => {
    const img = await decodeImage(png(1, 1, 16, 2, [[...be16(0x12ff), ...be16(0x8080), ...be16(0xff7f)]]), "rgb16.png");
    expect(pixels(img)).toEqual([[0x12, 0x80, 0xff]]);
  });

  it("low bit depths scale to 0..255; palette entries are used as is", async () => {
    const g2 = await decodeImage(png(4, 1, 2, 0, [[0b00011011]]), "g2.png");
    expect(pixels(g2).map((p) => p[0])).toEqual([0, 85, 170, 255]);
    const plte = chunk("PLTE", new Uint8Array([10, 20, 30, 40, 50, 60]));
    const p1 = await decodeImage(png(3, 1, 1, 3, [[0b10100000]], [plte]), "p1.png");
    expect(pixels(p1)).toEqual([
      [40, 50, 60],
      [10, 20, 30],
      [40, 50, 60],
    ]);
  });

  it("tRNS transparency does not blacken pixels, RGBA alpha is dropped not composited", async () => {
    const trns = chunk("tRNS", new Uint8Array([0, 60]));
    const g = await decodeImage(png(2, 1, 8, 0, [[60, 61]], [trns]), "trns.png");
    expect(pixels(g)).toEqual([
      [60, 60, 60],
      [61, 61, 61],
    ]);
    const rgba = await decodeImage(png(2, 1, 8, 6, [[200, 100, 50, 0, 1, 2, 3, 128]]), "rgba.png");
    expect(pixels(rgba)).toEqual([
      [200, 100, 50],
      [1, 2, 3],
    ]);
    const la = await decodeImage(png(1, 1, 8, 4, [[99, 0]]), "la.png");
    expect(pixels(la)).toEqual([[99, 99, 99]]);
  });
});

describe("EXIF orientation (PNG eXIf chunk)", () => {
  // 3x2 image whose pixel ids are y*3+x; expected id orders come from PIL's ImageOps.exif_transpose.
  const expected: Record<number, [number, number, number[]]> = {
    1: [3, 2, [0, 1, 2, 3, 4, 5]],
    2: [3, 2, [2, 1, 0, 5, 4, 3]],
    3: [3, 2, [5, 4, 3, 2, 1, 0]],
    4: [3, 2, [3, 4, 5, 0, 1, 2]],
    5: [2, 3, [0, 3, 1, 4, 2, 5]],
    6: [2, 3, [3, 0, 4, 1, 5, 2]],
    7: [2, 3, [5, 2, 4, 1, 3, 0]],
    8: [2, 3, [2, 5, 1, 4, 0, 3]],
  };
  const rows = [0, 1].map((y) => [0, 1, 2].flatMap((x) => [(y * 3 + x) * 10, 0, 0]));
  const tiff = (o: number, little: boolean): Buffer => {
    const b = Buffer.alloc(26);
    b.write(little ? "II" : "MM", 0, "latin1");
    const w16 = (v: number, at: number): number => (little ? b.writeUInt16LE(v, at) : b.writeUInt16BE(v, at));
    const w32 = (v: number, at: number): number => (little ? b.writeUInt32LE(v, at) : b.writeUInt32BE(v, at));
    w16(42, 2);
    w32(8, 4);
    w16(1, 8);
    w16(0x0112, 10);
    w16(3, 12);
    w32(1, 14);
    w16(o, 18);
    return b;
  };
  for (const [o, [w, h, ids]] of Object.entries(expected)) {
    it(`orientation ${o}: ignored by default, applied like exif_transpose on request`, async () => {
      for (const little of [true, false]) {
        const file = png(3, 2, 8, 2, rows, [chunk("eXIf", tiff(Number(o), little))]);
        const plain = await decodeImage(file, "o.png");
        expect([plain.width, plain.height, pixels(plain).map((p) => p[0] / 10)]).toEqual([3, 2, [0, 1, 2, 3, 4, 5]]);
        const turned = await decodeImage(file, "o.png", { applyExifOrientation: true });
        expect([turned.width, turned.height, pixels(turned).map((p) => p[0] / 10)]).toEqual([w, h, ids]);
      }
    });
  }
});

describe("decode errors name the file and the problem", () => {
  const dir = mkdtempSync(join(tmpdir(), "causalmm-vision-"));
  it("zero-byte file", async () => {
    const p = join(dir, "empty.jpg");
    writeFileSync(p, new Uint8Array(0));
    await expect(loadImage(p)).rejects.toThrow(`${p}: cannot decode image: the file is empty (0 bytes)`);
  });
  it("text file named .png", async () => {
    const p = join(dir, "notes.png");
    writeFileSync(p, "hello, I am not an image\n");
    await expect(loadImage(p)).rejects.toThrow(new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: .*not a PNG or JPEG`));
  });
  it("missing path", async () => {
    const p = join(dir, "nope", "missing.png");
    await expect(loadImage(p)).rejects.toThrow(`${p}: cannot read image file (no such file)`);
  });
  it("unsupported but recognised format", async () => {
    await expect(decodeImage(Buffer.from("GIF89a........"), "x.gif")).rejects.toThrow(/x\.gif: .*GIF files are not supported/);
  });
  it("truncated PNG", async () => {
    const file = png(
      4,
      4,
      8,
      2,
      Array.from({ length: 4 }, () => new Array(12).fill(7)),
    );
    await expect(decodeImage(file.subarray(0, file.length - 20), "cut.png")).rejects.toThrow(
      "cut.png: cannot decode PNG: file is truncated",
    );
    const bad = Buffer.from(file);
    bad[bad.length - 30] ^= 0xff; // inside IDAT: CRC mismatch / bad deflate data
    await expect(decodeImage(bad, "bad.png")).rejects.toThrow(/^bad\.png: cannot decode PNG: corrupt PNG \(/);
  });
});

describeFixtures("decode vs PIL (fixtures)", (root) => {
  const dir = join(root, "preprocess");
  const ref = (base: string): RgbImage => {
    const a = readNpy(join(dir, `${base}.rgb.npy`));
    return { height: a.shape[0], width: a.shape[1], data: a.data as Uint8Array };
  };
  const diff = (a: RgbImage, b: RgbImage): { max: number; mean: number; frac: number } => {
    expect([a.width, a.height]).toEqual([b.width, b.height]);
    let max = 0,
      sum = 0,
      px = 0;
    for (let i = 0; i < a.width * a.height; i++) {
      let d = 0;
      for (let c = 0; c < 3; c++) d = Math.max(d, Math.abs(a.data[i * 3 + c] - b.data[i * 3 + c]));
      for (let c = 0; c < 3; c++) sum += Math.abs(a.data[i * 3 + c] - b.data[i * 3 + c]);
      max = Math.max(max, d);
      if (d) px++;
    }
    return { max, mean: sum / a.data.length, frac: px / (a.width * a.height) };
  };

  for (const name of ["chelsea", "coffee", "camera", "logo"]) {
    it(`${name}.png decodes exactly like PIL`, async () => {
      expect(diff(await loadImage(join(dir, `${name}.png`)), ref(name)).max).toBe(0);
    });
  }

  // jpeg-js vs libjpeg-turbo, measured: rocket (4:4:4) max 3, coffee_420 (4:2:0) max 32.
  const jpegBounds: Array<[string, string, number]> = [
    ["rocket.jpg", "rocket", 3],
    ["coffee_420.jpg", "coffee_420_jpg", 32],
    ["chelsea_exif6.jpg", "chelsea_exif6_jpg", 3],
  ];
  for (const [file, base, bound] of jpegBounds) {
    it(`${file}: within the measured jpeg-js bounds (exact with the mozjpeg decoder)`, async () => {
      const d = diff(await loadImage(join(dir, file)), ref(base));
      if ((await activeJpegDecoder()) === "mozjpeg") expect(d.max).toBe(0);
      else {
        expect(d.max).toBeLessThanOrEqual(bound);
        expect(d.mean).toBeLessThan(1.5);
      }
      const forced = diff(await loadImage(join(dir, file), { jpegDecoder: "jpeg-js" }), ref(base));
      expect(forced.max).toBeLessThanOrEqual(bound);
    });
  }

  it("chelsea_exif6.jpg: stored orientation by default, rotated 90° clockwise on request", async () => {
    const stored = await loadImage(join(dir, "chelsea_exif6.jpg"));
    expect([stored.width, stored.height]).toEqual([451, 300]);
    const turned = await loadImage(join(dir, "chelsea_exif6.jpg"), { applyExifOrientation: true });
    expect([turned.width, turned.height]).toEqual([300, 451]);
    // Independent rotation of the reference: destination (x, y) <- source (y, H - 1 - x).
    const r = ref("chelsea_exif6_jpg");
    const rot = new Uint8Array(r.data.length);
    for (let y = 0; y < r.width; y++) {
      for (let x = 0; x < r.height; x++)
        rot.set(
          r.data.subarray(((r.height - 1 - x) * r.width + y) * 3, ((r.height - 1 - x) * r.width + y) * 3 + 3),
          (y * r.height + x) * 3,
        );
    }
    expect(diff(turned, { width: r.height, height: r.width, data: rot }).max).toBeLessThanOrEqual(3);
  });

  it("truncated.jpg gives a clear error naming the file", async () => {
    const p = join(dir, "truncated.jpg");
    await expect(loadImage(p)).rejects.toThrow(`${p}: cannot decode JPEG: file is truncated`);
  });

  it("a JPEG missing only its end-of-image marker is an error, as in PIL", async () => {
    const bytes = readFileSync(join(dir, "rocket.jpg"));
    await expect(decodeImage(bytes.subarray(0, bytes.length - 2), "rocket-cut.jpg")).rejects.toThrow(
      /^rocket-cut\.jpg: cannot decode JPEG: file is truncated/,
    );
  });
});
