// Writing into a tensor's memory in place, on the backends whose memory JS can reach: wasm (its heap)
// and cpu (its typed arrays). tfjs treats tensors as immutable; the one user here is the KV cache,
// which writes only into storage it allocated itself, at positions past everything any reader has been
// handed (see kv-cache.ts). A destination shared with another tensor (refCount > 1) is refused.
import * as tf from "@tensorflow/tfjs-core";

interface Backends {
  wasm: { wasm?: { HEAPU8?: Uint8Array }; dataIdMap: { get(id: object): { memoryOffset: number | null } | undefined } };
  cpu: { data: { get(id: object): { values?: unknown } | undefined } };
}

/** Whether the active backend's tensor memory can be written in place (wasm, cpu). */
export function inPlaceAvailable(): boolean {
  return tf.getBackend() === "wasm" || tf.getBackend() === "cpu";
}

/** A float32 view of `t`'s memory on the active backend, or null where there is none. */
function viewOf(t: tf.Tensor): Float32Array | null {
  if (t.dtype !== "float32") return null;
  const name = tf.getBackend();
  if (name === "wasm") {
    const be = tf.backend() as unknown as Backends["wasm"];
    const offset = be.dataIdMap.get(t.dataId)?.memoryOffset;
    const heap = be.wasm?.HEAPU8;
    return heap && offset != null ? new Float32Array(heap.buffer, offset, t.size) : null;
  }
  if (name === "cpu") {
    const values = (tf.backend() as unknown as Backends["cpu"]).data.get(t.dataId)?.values;
    return values instanceof Float32Array && values.length === t.size ? values : null;
  }
  return null;
}

/** `t`'s memory if it can be written in place (the backend allows it, no other tensor shares it), else null. */
function writableView(t: tf.Tensor): Float32Array | null {
  return inPlaceAvailable() && tf.backend().refCount(t.dataId) === 1 ? viewOf(t) : null;
}

/** Whether `t` can be written in place: the backend allows it and no other tensor shares its memory. */
export function canWriteInPlace(t: tf.Tensor): boolean {
  return writableView(t) !== null;
}

/** A run of floats to copy: `count` from offset `from` of the source to offset `to` of the destination. */
export interface Block {
  from: number;
  to: number;
  count: number;
}

/** Copies each block of `src`'s floats into `dst`, in place. False (nothing written) when `dst` cannot be written. */
export function copyInPlace(dst: tf.Tensor, src: tf.Tensor, blocks: Block[]): boolean {
  const to = writableView(dst);
  if (!to) return false;
  const from = viewOf(src) ?? (src.dataSync() as Float32Array);
  for (const b of blocks) {
    if (b.from + b.count > from.length || b.to + b.count > to.length) throw new Error("copyInPlace: block out of range");
    to.set(from.subarray(b.from, b.from + b.count), b.to);
  }
  return true;
}

/**
 * Rows `start … start+n−1` of `x` (axis 0). tfjs-wasm's slice copies all of `x` to JS first, so taking k
 * blocks of a k-block tensor costs k² copies; this copies only the block where memory is reachable.
 */
export function sliceRows<T extends tf.Tensor>(x: T, start: number, n: number): T {
  const size = [n, ...x.shape.slice(1)];
  if (inPlaceAvailable() && x.dtype === "float32" && !tf.engine().isTapeOn()) {
    const count = (x.size / x.shape[0]) * n;
    const dst = tf.zeros(size);
    if (copyInPlace(dst, x, [{ from: start * (count / n), to: 0, count }])) return dst as T;
    dst.dispose();
  }
  return tf.slice(x, [start, ...x.shape.slice(1).map(() => 0)], size) as T;
}
