// Safetensors dtypes and the float conversions between F32, F16 and BF16.
// Everything here works on raw little-endian bit patterns; the conversions run over billions of
// values when loading a 7B checkpoint, so they are plain loops over typed arrays.

/** Dtypes this project can convert to float32 (and write). */
export type SafetensorsDtype = "F32" | "F16" | "BF16";

export const SUPPORTED_DTYPES: readonly SafetensorsDtype[] = ["F32", "F16", "BF16"];

/**
 * Bit widths of every dtype the safetensors format defines. Unsupported ones are still needed
 * to validate a file's layout (byte lengths, contiguity) and to give a precise error.
 */
export const DTYPE_BITS: Readonly<Record<string, number>> = {
  F64: 64,
  F32: 32,
  F16: 16,
  BF16: 16,
  I64: 64,
  I32: 32,
  I16: 16,
  I8: 8,
  U64: 64,
  U32: 32,
  U16: 16,
  U8: 8,
  BOOL: 8,
  C64: 64,
  F8_E4M3: 8,
  F8_E5M2: 8,
  F8_E8M0: 8,
  F6_E2M3: 6,
  F6_E3M2: 6,
  F4: 4,
};

export function isSupportedDtype(d: string): d is SafetensorsDtype {
  return d === "F32" || d === "F16" || d === "BF16";
}

export function dtypeSize(d: SafetensorsDtype): number {
  return d === "F32" ? 4 : 2;
}

// Float32Array/Uint16Array views reinterpret bytes in host order; safetensors is little-endian.
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function assertLittleEndianHost(): void {
  if (!HOST_LITTLE_ENDIAN) throw new Error("safetensors reader needs a little-endian host");
}

// --- F16 -> F32 ---------------------------------------------------------------------------

let f16Bits: Uint32Array | null = null;

/** Float32 bit pattern of one IEEE-754 binary16 value (exact: every half is a float). */
function halfToFloatBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf / nan (payload kept)
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0; // rebias 15 -> 127
  if (mant === 0) return sign >>> 0; // +-0
  // Subnormal: mant * 2^-24. Normalise so the leading 1 becomes the implicit bit.
  let e = 113; // exponent field of 2^-14 in float32
  let m = mant;
  while ((m & 0x400) === 0) {
    m <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((m & 0x3ff) << 13)) >>> 0;
}

/** 65536-entry table half bits -> float32 bits (256 KiB, fits in L2; built on first use). */
function f16BitsTable(): Uint32Array {
  if (f16Bits) return f16Bits;
  const bits = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) bits[h] = halfToFloatBits(h);
  f16Bits = bits;
  return bits;
}

/** The same table viewed as float32 values. */
export function f16LookupTable(): Float32Array {
  return new Float32Array(f16BitsTable().buffer);
}

// The widening loops below copy bit patterns as integers (never through a JS number, which
// could quiet a NaN) and read the source two halves per 32-bit load, which measured as fast as
// or faster than one 16-bit load per element. The low half of a little-endian word comes first.

/** out[outOffset + i] = float32(half src[i]) for all i. */
export function f16ToF32(src: Uint16Array, out: Float32Array, outOffset = 0): void {
  const table = f16BitsTable();
  const n = src.length;
  if (n === 0) return;
  const dst = new Uint32Array(out.buffer, out.byteOffset + outOffset * 4, n);
  const head = src.byteOffset % 4 === 0 ? 0 : 1; // a 32-bit view needs alignment
  if (head) dst[0] = table[src[0]];
  const pairs = (n - head) >> 1;
  const words = new Uint32Array(src.buffer, src.byteOffset + head * 2, pairs);
  for (let p = 0, j = head; p < pairs; p++, j += 2) {
    const w = words[p];
    dst[j] = table[w & 0xffff];
    dst[j + 1] = table[w >>> 16];
  }
  if (head + 2 * pairs < n) dst[n - 1] = table[src[n - 1]];
}

/** BF16 is the upper half of a float32, so widening is a 16-bit shift of the bit pattern. */
export function bf16ToF32(src: Uint16Array, out: Float32Array, outOffset = 0): void {
  const n = src.length;
  if (n === 0) return;
  const dst = new Uint32Array(out.buffer, out.byteOffset + outOffset * 4, n);
  const head = src.byteOffset % 4 === 0 ? 0 : 1;
  if (head) dst[0] = src[0] << 16;
  const pairs = (n - head) >> 1;
  const words = new Uint32Array(src.buffer, src.byteOffset + head * 2, pairs);
  for (let p = 0, j = head; p < pairs; p++, j += 2) {
    const w = words[p];
    dst[j] = w << 16;
    dst[j + 1] = w & 0xffff0000;
  }
  if (head + 2 * pairs < n) dst[n - 1] = src[n - 1] << 16;
}

// --- F32 -> F16 / BF16 (round to nearest, ties to even) -------------------------------------

/** Half bits for a float32 bit pattern `x` (unsigned 32-bit). */
export function floatBitsToHalf(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const abs = x & 0x7fffffff;
  if (abs >= 0x7f800000) {
    if (abs === 0x7f800000) return sign | 0x7c00;
    return sign | 0x7e00 | ((abs >>> 13) & 0x3ff); // NaN stays NaN (quiet bit set)
  }
  // 65520 (0x477ff000) is the tie between 65504 (odd mantissa) and 2^16, so it rounds up to inf.
  if (abs >= 0x477ff000) return sign | 0x7c00;
  if (abs >= 0x38800000) {
    // Normal half: rebias the exponent by subtracting 112 << 23, drop 13 mantissa bits.
    let h = (abs - 0x38000000) >>> 13;
    const rem = abs & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++; // a carry bumps the exponent: right
    return sign | h;
  }
  // 2^-25 is the tie between 0 and the smallest subnormal: even wins, so it (and below) is 0.
  if (abs <= 0x33000000) return sign;
  // Subnormal half = m * 2^-24; float value is (1.mant) * 2^(e-127).
  const m = (abs & 0x7fffff) | 0x800000;
  const shift = 126 - (abs >>> 23); // 14..24
  let h = m >>> shift;
  const rem = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rem > half || (rem === half && (h & 1) === 1)) h++; // may carry into the smallest normal
  return sign | h;
}

/** BF16 bits for a float32 bit pattern `x` (unsigned 32-bit). */
export function floatBitsToBf16(x: number): number {
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff; // keep NaN a NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

export function f32ToF16(src: Float32Array, out: Uint16Array): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) out[i] = floatBitsToHalf(bits[i]);
}

export function f32ToBf16(src: Float32Array, out: Uint16Array): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) out[i] = floatBitsToBf16(bits[i]);
}

// --- bytes -> Float32Array ----------------------------------------------------------------

/**
 * Decodes little-endian tensor bytes of a supported dtype. `bytes` may sit at any byte offset
 * (e.g. a slice of a Node Buffer); misaligned input is copied once so typed views are legal.
 */
export function decodeToFloat32(dtype: SafetensorsDtype, bytes: Uint8Array): Float32Array {
  assertLittleEndianHost();
  const size = dtypeSize(dtype);
  if (bytes.byteLength % size !== 0) {
    throw new Error(`${dtype} data has ${bytes.byteLength} bytes, not a multiple of ${size}`);
  }
  const n = bytes.byteLength / size;
  if (dtype === "F32") {
    const out = new Float32Array(n);
    new Uint8Array(out.buffer).set(bytes); // copy: the result must not alias the caller's buffer
    return out;
  }
  const aligned = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
  const src = new Uint16Array(aligned.buffer, aligned.byteOffset, n);
  const out = new Float32Array(n);
  if (dtype === "F16") f16ToF32(src, out);
  else bf16ToF32(src, out);
  return out;
}
