// Fast seeded random weights written straight as F16/BF16/F32 bit patterns, for multi-gigabyte
// random checkpoints (a 7B model is 7 billion values: a float RNG plus a float→half conversion per
// value would take minutes; this takes a few integer ops per value).
//
// Values: a random sign, one of four octaves [2^(E−k), 2^(E−k+1)) (k = 0..3, equally likely) and a
// uniformly random mantissa. Zero mean; the standard deviation is ≈ 0.88·2^E, and E is chosen from
// the requested scale. Not Gaussian — a stand-in with the right order of magnitude, no zeros, no
// infinities. The generator is xorshift32, one step per 32-bit word (two 16-bit values or one F32).
import { hashKey, type KeyPart } from "../util/rng.js";
import type { SafetensorsDtype } from "../weights/dtype.js";

/** Standard deviation of the value distribution above, in units of 2^E. */
const STD_PER_OCTAVE = 0.88;

/** Octave E for a wanted standard deviation, kept inside the dtype's normal range. */
function octave(scale: number, dtype: SafetensorsDtype): number {
  if (!(scale > 0) || !Number.isFinite(scale)) throw new Error(`random weights: scale must be a positive number, got ${scale}`);
  const e = Math.round(Math.log2(scale / STD_PER_OCTAVE));
  const [lo, hi] = dtype === "F16" ? [-11, 14] : [-123, 126];
  if (e < lo || e > hi) throw new Error(`random weights: scale ${scale} is outside ${dtype}'s range`);
  return e;
}

/** A stream of random words for one tensor, from a key such as (seed, tensor name). */
export class RandomBits {
  private x: number;

  constructor(key: readonly KeyPart[]) {
    this.x = hashKey(key)[0] | 0 || 0x2545f491; // xorshift32 must not start at 0
  }

  /**
   * Fills `out` (whose byte length is a multiple of 4) with values of `dtype` of standard deviation
   * ≈ `scale`. Successive calls continue the stream, so a tensor can be produced chunk by chunk.
   */
  fill(out: Uint32Array, dtype: SafetensorsDtype, scale: number): void {
    const e = octave(scale, dtype);
    if (dtype === "F32") this.fillF32(out, e);
    else if (dtype === "F16") this.fill16(out, (15 + e) << 10, 0x83ff, 0x0c00);
    else this.fill16(out, (127 + e) << 7, 0x807f, 0x0180);
  }

  // One 16-bit value from 16 random bits r: keep the sign and mantissa bits (keep), and take the
  // two bits just above the mantissa (kBits = k << mantissaWidth) off the exponent field of 2^E (base).
  private fill16(out: Uint32Array, base: number, keep: number, kBits: number): void {
    let x = this.x;
    for (let i = 0; i < out.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      const a = x & 0xffff;
      const b = x >>> 16;
      out[i] = (a & keep) | (base - (a & kBits)) | (((b & keep) | (base - (b & kBits))) << 16);
    }
    this.x = x;
  }

  private fillF32(out: Uint32Array, e: number): void {
    const base = (127 + e) << 23;
    let x = this.x;
    for (let i = 0; i < out.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = (x & 0x807fffff) | (base - (x & 0x01800000));
    }
    this.x = x;
  }
}
