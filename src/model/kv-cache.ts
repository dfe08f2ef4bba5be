// Per-layer key/value cache for the LLaMA decoder. It owns its tensors (they outlive every tf.tidy);
// `dispose()` frees everything.
//
// Each layer's storage is `[B,Hkv,capacity,hd]`, of which the first `length` positions are filled. On
// wasm and cpu a step writes its new positions into the spare ones in place (kernels/in-place.ts), so a
// decode step no longer copies the whole cache into a new tensor (a concat that was the largest cost of
// every extra decode row: docs/benchmarks.md). Readers only ever see filled positions, and only spare
// positions are written, so no tensor anyone holds changes. When the spare room runs out (or on other
// backends) the storage is reallocated, with new spare room where in-place writes work.
import * as tf from "@tensorflow/tfjs-core";
import { canWriteInPlace, inPlaceAvailable, writeRows } from "./kernels/in-place.js";

/** One layer's cached keys and values: storage `[B,Hkv,capacity,hd]`, the first `length` positions filled. */
export interface CachedLayer {
  k: tf.Tensor4D;
  v: tf.Tensor4D;
  length: number;
}

/** Spare positions allocated beyond `filled`: at least 128, a quarter of the cache for long ones. */
function spareFor(filled: number): number {
  return Math.max(128, Math.ceil(filled / 4));
}

/** The first `length` positions of `[B,Hkv,S,hd]` storage (a new tensor unless it is full). */
function filled(t: tf.Tensor4D, length: number): tf.Tensor4D {
  const [B, H, , hd] = t.shape;
  return length === t.shape[2] ? t : t.slice([0, 0, 0, 0], [B, H, length, hd]);
}

/**
 * New storage holding `parts()` along the positions plus `spare` zero positions; fresh memory whenever
 * there is spare room (without it, a lone part may share memory: nothing writes to such storage).
 */
function allocate(parts: () => tf.Tensor4D[], spare: number): tf.Tensor4D {
  return tf.keep(
    tf.tidy(() => {
      const all = parts();
      const [B, H, , hd] = all[0].shape;
      if (spare > 0) all.push(tf.zeros([B, H, spare, hd]));
      return (all.length === 1 ? all[0].clone() : tf.concat(all, 2)) as tf.Tensor4D; // [B,H,Σ,hd]
    }),
  );
}

export class KVCache {
  private keys: (tf.Tensor4D | null)[];
  private values: (tf.Tensor4D | null)[];
  private lengths: number[];

  constructor(readonly numLayers: number) {
    this.keys = new Array(numLayers).fill(null);
    this.values = new Array(numLayers).fill(null);
    this.lengths = new Array(numLayers).fill(0);
  }

  /** Cached positions (same for every layer once a forward has finished). */
  get length(): number {
    return this.lengths[0];
  }

  get batchSize(): number {
    return this.keys[0]?.shape[0] ?? 0;
  }

  /** Appends `[B,Hkv,T,hd]` keys (after RoPE) and values; returns the layer's storage and new length. */
  append(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): CachedLayer {
    const [B, Hkv, T] = k.shape;
    const at = this.lengths[layer];
    const oldK = this.keys[layer];
    const oldV = this.values[layer];
    const fits = oldK && oldV && at + T <= oldK.shape[2] && canWriteInPlace(oldK) && canWriteInPlace(oldV);
    if (fits && writeRows(oldK, k, B * Hkv, T, at) && writeRows(oldV, v, B * Hkv, T, at)) {
      this.lengths[layer] = at + T;
      return { k: oldK, v: oldV, length: at + T };
    }
    const spare = inPlaceAvailable() ? spareFor(at + T) : 0;
    const grow = (old: tf.Tensor4D | null, rows: tf.Tensor4D) => allocate(() => (old ? [filled(old, at), rows] : [rows]), spare);
    const newK = grow(oldK, k);
    const newV = grow(oldV, v);
    oldK?.dispose();
    oldV?.dispose();
    this.keys[layer] = newK;
    this.values[layer] = newV;
    this.lengths[layer] = at + T;
    return { k: newK, v: newV, length: at + T };
  }

  /** Layer i's filled positions `[B,Hkv,length,hd]`, as new tensors (call inside a tf.tidy). */
  layer(i: number): { k: tf.Tensor4D | null; v: tf.Tensor4D | null } {
    const k = this.keys[i];
    const v = this.values[i];
    return { k: k && filled(k, this.lengths[i]).clone(), v: v && filled(v, this.lengths[i]).clone() };
  }

  /**
   * A new cache holding copies of batch rows `rows` of layers ≥ `fromLayer`; layers below it are copied
   * whole (they may hold fewer rows when branches share a trunk of early layers).
   */
  selectRows(rows: number[], fromLayer = 0): KVCache {
    return this.copy((t, layer) => (layer >= fromLayer ? (tf.gather(t, rows, 0) as tf.Tensor4D) : t));
  }

  /** A deep copy (for reusing a shared prompt prefix across several continuations). */
  clone(): KVCache {
    return this.copy((t) => t);
  }

  /** A cache whose layer i holds fresh storage made from `pick(filled positions, i)`. */
  private copy(pick: (t: tf.Tensor4D, layer: number) => tf.Tensor4D): KVCache {
    const out = new KVCache(this.numLayers);
    const each = (t: tf.Tensor4D | null, i: number) => {
      if (!t) return null;
      const n = this.lengths[i];
      return allocate(() => [pick(filled(t, n), i)], inPlaceAvailable() ? spareFor(n) : 0);
    };
    out.keys = this.keys.map(each);
    out.values = this.values.map(each);
    out.lengths = [...this.lengths];
    return out;
  }

  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t?.dispose();
    this.keys.fill(null);
    this.values.fill(null);
    this.lengths.fill(0);
  }
}
