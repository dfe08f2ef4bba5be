import { describe, expect, it } from "vitest";
import { bf16ToF32, decodeToFloat32, f16LookupTable, f16ToF32, floatBitsToBf16, floatBitsToHalf } from "../../src/weights/dtype.js";

const bitsOf = (x: number): number => new Uint32Array(new Float32Array([x]).buffer)[0];
const bitsOfArray = (a: Float32Array): number[] => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];
const floatOf = (bits: number): number => new Float32Array(new Uint32Array([bits]).buffer)[0];

/** Independent reference: the binary16 value by its textbook formula. */
function halfValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  if (exp === 0) return sign * mant * 2 ** -24;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

describe("F16 -> F32", () => {
  it("matches the textbook formula for all 65536 bit patterns", () => {
    const table = f16LookupTable();
    const bad: number[] = []; // one assertion at the end: 65536 expect() calls are slow
    for (let h = 0; h < 65536; h++) {
      const want = halfValue(h);
      if (Number.isNaN(want) ? !Number.isNaN(table[h]) : !Object.is(table[h], want)) bad.push(h);
    }
    expect(bad).toEqual([]);
  });

  it("handles the special values", () => {
    const src = new Uint16Array([0x0000, 0x8000, 0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x7c00, 0xfc00, 0x7e00]);
    const out = new Float32Array(src.length);
    f16ToF32(src, out);
    expect(Object.is(out[1], -0)).toBe(true);
    expect([...out.subarray(0, 10)]).toEqual([0, -0, 1, -2, 65504, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, Infinity, -Infinity]);
    expect(Number.isNaN(out[10])).toBe(true);
  });
});

describe("widening loops (pairwise 32-bit reads)", () => {
  it("handle any source alignment, odd lengths and output offsets", () => {
    const base = new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7c00, 0x3555, 0x8400, 0x4248]);
    const table = f16LookupTable();
    for (const start of [0, 1, 2]) {
      for (let len = 0; len <= base.length - start; len++) {
        const src = base.subarray(start, start + len); // byteOffset 0, 2 or 4
        const h = new Float32Array(len + 3).fill(99);
        const b = new Float32Array(len + 3).fill(99);
        f16ToF32(src, h, 3);
        bf16ToF32(src, b, 3);
        expect([...h]).toEqual([99, 99, 99, ...[...src].map((x) => table[x])]);
        expect(bitsOfArray(b)).toEqual([99, 99, 99].map(bitsOf).concat([...src].map((x) => (x << 16) >>> 0)));
      }
    }
  });
});

describe("F32 -> F16 (round to nearest even)", () => {
  it("round-trips every non-NaN half exactly", () => {
    const table = f16LookupTable();
    const bad: number[] = [];
    for (let h = 0; h < 65536; h++) {
      if (!Number.isNaN(table[h]) && floatBitsToHalf(bitsOf(table[h])) !== h) bad.push(h);
    }
    expect(bad).toEqual([]);
  });

  it("rounds midpoints to even and near-midpoints to nearest, incl. subnormals", () => {
    const table = f16LookupTable();
    const bad: number[] = [];
    for (let h = 0; h < 0x7bff; h++) {
      const mid = (table[h] + table[h + 1]) / 2; // exact in float32 (12 significant bits)
      const m = bitsOf(mid);
      const even = h % 2 === 0 ? h : h + 1;
      const ok =
        floatBitsToHalf(m) === even &&
        floatBitsToHalf(m - 1) === h &&
        floatBitsToHalf(m + 1) === h + 1 &&
        floatBitsToHalf(bitsOf(-mid)) === (even | 0x8000);
      if (!ok) bad.push(h);
    }
    expect(bad).toEqual([]);
  });

  it("overflows to inf at 65520 and keeps inf/nan/zero", () => {
    expect(floatBitsToHalf(bitsOf(65519.99))).toBe(0x7bff);
    expect(floatBitsToHalf(bitsOf(65520))).toBe(0x7c00);
    expect(floatBitsToHalf(bitsOf(-1e10))).toBe(0xfc00);
    expect(floatBitsToHalf(bitsOf(Infinity))).toBe(0x7c00);
    expect(floatBitsToHalf(bitsOf(-0))).toBe(0x8000);
    expect(floatBitsToHalf(bitsOf(2 ** -25))).toBe(0); // tie with 0: even
    expect(floatBitsToHalf(bitsOf(1e-30))).toBe(0);
    const nan = floatBitsToHalf(0x7f800001);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x3ff).not.toBe(0);
  });
});

describe("BF16", () => {
  it("widens by shifting and round-trips every non-NaN pattern", () => {
    const src = new Uint16Array(65536).map((_, i) => i);
    const out = new Float32Array(65536);
    bf16ToF32(src, out);
    const outBits = new Uint32Array(out.buffer); // read bits directly: a JS number may quiet a NaN
    const bad: number[] = [];
    for (let b = 0; b < 65536; b++) {
      if (outBits[b] !== (b << 16) >>> 0) bad.push(b);
      if (!Number.isNaN(out[b]) && floatBitsToBf16(bitsOf(out[b])) !== b) bad.push(b);
    }
    expect(bad).toEqual([]);
  });

  it("rounds to nearest even", () => {
    expect(floatBitsToBf16(bitsOf(1 + 2 ** -8))).toBe(0x3f80); // tie -> 1.0 (even)
    expect(floatBitsToBf16(bitsOf(1 + 3 * 2 ** -8))).toBe(0x3f82); // tie -> even mantissa 2
    expect(floatBitsToBf16(bitsOf(1 + 2 ** -8 + 2 ** -20))).toBe(0x3f81); // above tie -> up
    expect(floatBitsToBf16(bitsOf(-(1 + 2 ** -8)))).toBe(0xbf80);
    expect(floatBitsToBf16(0x7f7fffff)).toBe(0x7f80); // max float rounds to inf
    expect(Number.isNaN(floatOf(floatBitsToBf16(0x7f800001) << 16))).toBe(true); // NaN stays NaN
  });
});

describe("decodeToFloat32", () => {
  it("decodes misaligned byte slices of each dtype", () => {
    const f32 = new Float32Array([1.5, -2, 3.25]);
    const buf = new Uint8Array(1 + 12);
    buf.set(new Uint8Array(f32.buffer), 1);
    expect([...decodeToFloat32("F32", buf.subarray(1))]).toEqual([1.5, -2, 3.25]);
    const halves = new Uint8Array([0xff, 0x00, 0x3c, 0x00, 0xc0]); // 1.0, -2.0 as F16 at offset 1
    expect([...decodeToFloat32("F16", halves.subarray(1))]).toEqual([1, -2]);
    const bf = new Uint8Array([0xff, 0x80, 0x3f, 0x00, 0xc0]); // 1.0, -2.0 as BF16 at offset 1
    expect([...decodeToFloat32("BF16", bf.subarray(1))]).toEqual([1, -2]);
    expect(() => decodeToFloat32("F16", new Uint8Array(3))).toThrow(/multiple of 2/);
  });
});
