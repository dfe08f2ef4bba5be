// Per-layer key/value cache for the LLaMA decoder. It owns its tensors (they outlive every tf.tidy);
// `dispose()` frees everything.
//
// Each layer's storage is `[B,Hkv,capacity,hd]`, of which the first `length` positions are filled. On
// wasm and cpu a step copies its new positions into the spare ones in place (kernels/in-place.ts), so a
// decode step no longer copies the whole cache into a new tensor (a concat that was the largest cost of
// every extra decode row: docs/benchmarks.md). Readers only ever see filled positions, and only spare
// positions are written, so no tensor anyone holds changes. When the spare room runs out the storage
// is reallocated with new spare room, by block copies too (tfjs-cpu's slices and gathers of such
// blocks walk element by element). Other backends (tfjs-node, webgl), and caches filled by a model
// created with `performance.kvWrites: "never"`, concatenate every step.
import * as tf from "@tensorflow/tfjs-core";
import { canWriteInPlace, copyInPlace, inPlaceAvailable, type Block } from "./kernels/in-place.js";
import type { PerformanceOptions } from "./performance.js";

type KvWrites = PerformanceOptions["kvWrites"];

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
 * Blocks copying positions [0, n) of each of `heads` (batch row, kv head) pairs from storage with S
 * positions per head into storage with S2 per head, at position `at`.
 */
function positionBlocks(heads: number, n: number, S: number, S2: number, at: number, hd: number): Block[] {
  return Array.from({ length: heads }, (_, h) => ({ from: h * S * hd, to: (h * S2 + at) * hd, count: n * hd }));
}

/** Fresh zero storage `[B,Hkv,S,hd]`, kept. */
const zeros = (B: number, Hkv: number, S: number, hd: number) => tf.keep(tf.zeros([B, Hkv, S, hd]) as tf.Tensor4D);

export class KVCache {
  private keys: (tf.Tensor4D | null)[];
  private values: (tf.Tensor4D | null)[];
  private lengths: number[];
  /** Positions the owner expects to fill in all (prompt + new tokens); 0 = unknown. */
  private expected = 0;

  /**
   * `writes`: in place where the backend allows it ("auto") or reallocated every step ("never"). The
   * model that fills the cache passes its own `performance.kvWrites` to `append`; copies inherit it.
   */
  constructor(
    readonly numLayers: number,
    private writes: KvWrites = "auto",
  ) {
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

  /** Whether this cache writes in place on the active backend. */
  private get inPlace(): boolean {
    return this.writes === "auto" && inPlaceAvailable();
  }

  /**
   * The owner's forecast of the positions it will fill (prompt + new tokens): storage made from now on
   * holds exactly that many when they cover its contents, instead of the default spare room (a quarter,
   * at least 128 positions, which for a long prompt and a short answer is mostly never written).
   */
  expect(positions: number): void {
    if (!(Number.isInteger(positions) && positions >= 0)) throw new Error(`KVCache.expect: expected a position count, got ${positions}`);
    this.expected = positions;
  }

  /** Capacity of fresh storage holding `filled` positions. */
  private capacityFor(filled: number): number {
    return this.expected >= filled ? this.expected : filled + spareFor(filled);
  }

  /**
   * Makes the storage of layers [from, to) that have none yet, for `rows` batch rows and `positions`
   * filled positions, before a forward runs them. One allocation after another, while no intermediate is
   * alive, puts the caches side by side in memory; made layer by layer in the middle of each layer's
   * intermediates, they split the freed space into pieces (wasm's heap never shrinks and does not move
   * tensors, so a 7B prompt then needed far more heap than it had live tensors). Only where storage is
   * written in place; elsewhere every append makes new tensors anyway.
   */
  reserve(from: number, to: number, rows: number, kvHeads: number, headDim: number, positions: number): void {
    if (!this.inPlace) return;
    const capacity = this.capacityFor(positions);
    for (let i = from; i < to; i++) {
      if (this.keys[i] || this.values[i] || this.lengths[i] > 0) continue;
      this.keys[i] = zeros(rows, kvHeads, capacity, headDim);
      this.values[i] = zeros(rows, kvHeads, capacity, headDim);
    }
  }

  /** Appends `[B,Hkv,T,hd]` keys (after RoPE) and values; returns the layer's storage and new length. */
  append(layer: number, k: tf.Tensor4D, v: tf.Tensor4D, writes: KvWrites = this.writes): CachedLayer {
    this.writes = writes;
    const at = this.lengths[layer];
    const T = k.shape[2];
    const [newK, newV] = this.inPlace
      ? [this.writeAt(this.keys[layer], k, at), this.writeAt(this.values[layer], v, at)]
      : [this.concatAt(this.keys[layer], k, at), this.concatAt(this.values[layer], v, at)];
    this.keys[layer] = newK;
    this.values[layer] = newV;
    this.lengths[layer] = at + T;
    return { k: newK, v: newV, length: at + T };
  }

  /** `rows` written into `store` at position `at`, in place; a larger fresh storage when it does not fit. */
  private writeAt(store: tf.Tensor4D | null, rows: tf.Tensor4D, at: number): tf.Tensor4D {
    const [B, Hkv, T, hd] = rows.shape;
    let target = store;
    const fits = store && store.shape[0] === B && store.shape[1] === Hkv && at + T <= store.shape[2];
    if (!store || !fits || !canWriteInPlace(store)) {
      if (store && at > 0 && (store.shape[0] !== B || store.shape[1] !== Hkv))
        throw new Error(`KVCache: appending [${rows.shape}] to storage [${store.shape}] holding ${at} positions`);
      target = zeros(B, Hkv, this.capacityFor(at + T), hd);
      if (store && at > 0) this.copyOrThrow(target, store, positionBlocks(B * Hkv, at, store.shape[2], target.shape[2], 0, hd));
      store?.dispose();
    }
    this.copyOrThrow(target!, rows, positionBlocks(B * Hkv, T, T, target!.shape[2], at, hd));
    return target!;
  }

  private copyOrThrow(dst: tf.Tensor, src: tf.Tensor, blocks: Block[]): void {
    if (!copyInPlace(dst, src, blocks)) throw new Error("KVCache: fresh storage could not be written in place");
  }

  /** Storage of exactly `at + T` positions: the filled ones of `store` and `rows` (immutable backends). */
  private concatAt(store: tf.Tensor4D | null, rows: tf.Tensor4D, at: number): tf.Tensor4D {
    const out = tf.keep(tf.tidy(() => (store ? tf.concat([filled(store, at), rows], 2) : rows.clone()) as tf.Tensor4D));
    store?.dispose();
    return out;
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
    return this.copy((t, layer) => (layer >= fromLayer ? rows : Array.from({ length: t.shape[0] }, (_, b) => b)));
  }

  /**
   * One cache made of batch rows of several caches of equal length (CausalMM's branch chunks, joined
   * for decoding): layer i holds, in order, rows `rowsOf(j, i, n)` of part j's layer i (n = the rows
   * that layer stores). The parts are consumed: each layer is freed as soon as it is copied, so the
   * join needs one layer's copy on top of the caches, never a second set of caches.
   */
  static joinRows(parts: KVCache[], rowsOf: (part: number, layer: number, rows: number) => number[]): KVCache {
    const first = parts[0];
    const out = new KVCache(first.numLayers, first.writes);
    for (let i = 0; i < first.numLayers; i++) {
      const length = first.lengths[i];
      if (parts.some((p) => p.lengths[i] !== length)) throw new Error(`KVCache.joinRows: layer ${i} lengths differ`);
      const rows = parts.map((p, j) => rowsOf(j, i, p.keys[i]?.shape[0] ?? 0));
      for (const store of ["keys", "values"] as const) {
        const layers = parts.map((p) => p[store][i]);
        if (layers.every((t) => t === null)) continue;
        if (layers.some((t) => t === null)) throw new Error(`KVCache.joinRows: layer ${i} is missing in some parts`);
        out[store][i] = first.joinLayer(layers as tf.Tensor4D[], rows, length);
        for (const p of parts) {
          p[store][i]?.dispose();
          p[store][i] = null;
        }
      }
      out.lengths[i] = length;
    }
    parts.forEach((p) => p.dispose());
    return out;
  }

  /** Fresh storage holding `rows[j]` of `layers[j]` in order (their first `length` positions). */
  private joinLayer(layers: tf.Tensor4D[], rows: number[][], length: number): tf.Tensor4D {
    if (!this.inPlace) {
      const used = layers.map((t, j) => [t, rows[j]] as const).filter(([, r]) => r.length > 0);
      return tf.keep(tf.tidy(() => tf.concat(used.map(([t, r]) => tf.gather(filled(t, length), r, 0) as tf.Tensor4D))));
    }
    const [, Hkv, , hd] = layers[0].shape;
    const S = Math.max(...layers.map((t) => t.shape[2]));
    const fresh = zeros(
      rows.reduce((n, r) => n + r.length, 0),
      Hkv,
      S,
      hd,
    );
    let to = 0;
    layers.forEach((t, j) => {
      const St = t.shape[2];
      // each (row, kv head) is one run of `length` positions in both storages
      const blocks = rows[j].flatMap((r, n) =>
        Array.from({ length: Hkv }, (_, h) => ({ from: (r * Hkv + h) * St * hd, to: ((to + n) * Hkv + h) * S * hd, count: length * hd })),
      );
      if (blocks.length) this.copyOrThrow(fresh, t, blocks);
      to += rows[j].length;
    });
    return fresh;
  }

  /** A deep copy (for reusing a shared prompt prefix across several continuations). */
  clone(): KVCache {
    return this.copy((t) => Array.from({ length: t.shape[0] }, (_, b) => b));
  }

  /** A cache whose layer i holds fresh storage with the batch rows `pick(storage, i)` of this one. */
  private copy(pick: (t: tf.Tensor4D, layer: number) => number[]): KVCache {
    const out = new KVCache(this.numLayers, this.writes);
    const each = (t: tf.Tensor4D | null, i: number): tf.Tensor4D | null => {
      if (!t) return null;
      const rows = pick(t, i);
      if (!this.inPlace) {
        // storage nobody writes: every row may share it, as before in-place writes existed
        const all = rows.length === t.shape[0] && rows.every((r, j) => r === j);
        return tf.keep(tf.tidy(() => (all ? t.clone() : (tf.gather(filled(t, this.lengths[i]), rows, 0) as tf.Tensor4D))));
      }
      const [, Hkv, S, hd] = t.shape;
      const block = Hkv * S * hd; // one batch row of storage, spare positions (zeros) included
      const fresh = zeros(rows.length, Hkv, S, hd);
      this.copyOrThrow(
        fresh,
        t,
        rows.map((r, j) => ({ from: r * block, to: j * block, count: block })),
      );
      return fresh;
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
