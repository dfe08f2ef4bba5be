// Seeded pseudo-random numbers in pure JavaScript, shared by every folder that draws (counterfactuals,
// sampling, VCD noise, the lab's synthetic world, bootstraps), so that a draw from a seed is the same
// on every tfjs backend (the numbers never come from a backend's own RNG) and on every machine.
//
// Generator: xoshiro128** 1.0 (Blackman & Vigna, https://prng.di.unimi.it/xoshiro128starstar.c), 128-bit
// state, 32-bit integer ops only (Math.imul, shifts), period 2^128 − 1. Streams: instead of one global
// sequence consumed in call order, every place that needs randomness derives its own generator by hashing
// a key tuple such as (seed, "random", "text", layer, head, absolutePosition). The numbers for a text row
// then depend only on that row's identity — not on whether it was computed inside a prefill block or in
// a single-row KV-cached decode step, nor on which other rows/heads were computed alongside it.

/** An element of a stream key: integers (any safe integer, negative allowed) or short strings. */
export type KeyPart = number | string;

const TWO_POW_32 = 4294967296;

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** murmur3's 32-bit finaliser: full avalanche, so neighbouring keys give unrelated states. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Split a key into 32-bit words; a type/length word in front of each part keeps ("a1",) ≠ ("a", 1). */
function keyWords(key: readonly KeyPart[]): number[] {
  const words: number[] = [key.length];
  for (const part of key) {
    if (typeof part === "string") {
      words.push(0x53000000 + part.length);
      for (let i = 0; i < part.length; i++) words.push(part.charCodeAt(i));
    } else {
      if (!Number.isSafeInteger(part)) throw new Error(`rng key parts must be safe integers or strings, got ${part}`);
      const lo = ((part % TWO_POW_32) + TWO_POW_32) % TWO_POW_32;
      const hi = Math.floor(part / TWO_POW_32) >>> 0;
      words.push(0x4e000000, lo >>> 0, hi);
    }
  }
  return words;
}

/**
 * Hash a key tuple to a 128-bit xoshiro state (four uint32). Four independent murmur3-style lanes, each
 * with its own start constant, absorb every key word; never returns the all-zero state.
 */
export function hashKey(key: readonly KeyPart[]): [number, number, number, number] {
  const lanes = [0x9e3779b9, 0x243f6a88, 0xb7e15162, 0x7f4a7c15];
  for (const w of keyWords(key)) {
    for (let i = 0; i < 4; i++) {
      let k = Math.imul(w ^ (i * 0x27d4eb2f), 0xcc9e2d51);
      k = Math.imul(rotl(k >>> 0, 15), 0x1b873593);
      lanes[i] = (Math.imul(rotl((lanes[i] ^ k) >>> 0, 13), 5) + 0xe6546b64) >>> 0;
    }
  }
  const s = lanes.map((h, i) => fmix32(h ^ Math.imul(i + 1, 0x61c88647))) as [number, number, number, number];
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
  return s;
}

/** xoshiro128** generator. All outputs are deterministic functions of the initial state. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | null = null;

  constructor(state: readonly [number, number, number, number]) {
    [this.s0, this.s1, this.s2, this.s3] = state.map((x) => x >>> 0);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) throw new Error("xoshiro128** state must not be all zero");
  }

  /** Next raw output, a uint32. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /**
   * Uniform in [0, 1) on a 2^-24 grid: the top 24 bits of the output. Every value is exactly
   * representable in float32 and strictly below 1 (a 53-bit double could round up to 1 in float32).
   */
  uniform(): number {
    return (this.nextUint32() >>> 8) * 5.9604644775390625e-8;
  }

  /** Unbiased integer in [0, n) by rejection (no modulo bias even for large n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_32) throw new Error(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** A uniformly random permutation of 0..n−1 (Fisher–Yates, from the top down). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = p[i];
      p[i] = p[j];
      p[j] = tmp;
    }
    return p;
  }

  /**
   * Standard normal by Box–Muller (both outputs of a pair are used). u1 = 1 − uniform() lies in (0, 1],
   * so log(u1) is finite. Math.log/cos/sin are not specified bit-exactly by ECMAScript, so normals are
   * reproducible per JS engine (Node version), not across engines.
   */
  normal(): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return z;
    }
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spareNormal = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /** Fill a Float32Array with uniform [0,1) values. */
  fillUniform(out: Float32Array): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.uniform();
    return out;
  }
}

/** The generator for a key tuple, e.g. `stream(seed, "random", "text", layer, head, position)`. */
export function stream(...key: KeyPart[]): Rng {
  return new Rng(hashKey(key));
}

/** A generator from a single seed (shorthand for `stream(seed)`). */
export function seededRng(seed: number): Rng {
  return stream(seed);
}
