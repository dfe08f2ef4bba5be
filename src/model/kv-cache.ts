// Per-layer key/value cache for the LLaMA decoder. It owns its tensors (they outlive every tf.tidy):
// appending keeps the new tensors and disposes the replaced ones; `dispose()` frees everything.
import * as tf from "@tensorflow/tfjs-core";

export class KVCache {
  private keys: (tf.Tensor4D | null)[];
  private values: (tf.Tensor4D | null)[];

  constructor(readonly numLayers: number) {
    this.keys = new Array(numLayers).fill(null);
    this.values = new Array(numLayers).fill(null);
  }

  /** Cached positions (same for every layer once a forward has finished). */
  get length(): number {
    return this.keys[0]?.shape[2] ?? 0;
  }

  get batchSize(): number {
    return this.keys[0]?.shape[0] ?? 0;
  }

  /** Appends `[B,Hkv,T,hd]` keys (after RoPE) and values; returns the full cached tensors. */
  append(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): { k: tf.Tensor4D; v: tf.Tensor4D } {
    const oldK = this.keys[layer];
    const oldV = this.values[layer];
    const fullK = tf.keep(oldK ? (tf.concat([oldK, k], 2) as tf.Tensor4D) : k.clone());
    const fullV = tf.keep(oldV ? (tf.concat([oldV, v], 2) as tf.Tensor4D) : v.clone());
    oldK?.dispose();
    oldV?.dispose();
    this.keys[layer] = fullK;
    this.values[layer] = fullV;
    return { k: fullK, v: fullV };
  }

  layer(i: number): { k: tf.Tensor4D | null; v: tf.Tensor4D | null } {
    return { k: this.keys[i], v: this.values[i] };
  }

  /**
   * A new cache holding copies of batch rows `rows` of layers ≥ `fromLayer`; layers below it are copied
   * whole (they may hold fewer rows when branches share a trunk of early layers).
   */
  selectRows(rows: number[], fromLayer = 0): KVCache {
    const out = new KVCache(this.numLayers);
    const pick = (t: tf.Tensor4D | null, layer: number) =>
      t ? tf.keep(tf.tidy(() => (layer >= fromLayer ? (tf.gather(t, rows, 0) as tf.Tensor4D) : t.clone()))) : null;
    out.keys = this.keys.map(pick);
    out.values = this.values.map(pick);
    return out;
  }

  /** A deep copy (for reusing a shared prompt prefix across several continuations). */
  clone(): KVCache {
    const out = new KVCache(this.numLayers);
    const copy = (t: tf.Tensor4D | null) => (t ? tf.keep(t.clone()) : null);
    out.keys = this.keys.map(copy);
    out.values = this.values.map(copy);
    return out;
  }

  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t?.dispose();
    this.keys.fill(null);
    this.values.fill(null);
  }
}
