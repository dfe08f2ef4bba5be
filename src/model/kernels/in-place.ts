// Writing into a tensor's memory in place, on the backends whose memory JS can reach: wasm (its heap)
// and cpu (its typed arrays). tfjs treats tensors as immutable; the one user here is the KV cache,
// which writes only into spare positions of storage it allocated itself, past everything any reader
// has been handed (see kv-cache.ts). A destination shared with another tensor (refCount > 1) is
// refused, so the caller falls back to a copy.
import * as tf from "@tensorflow/tfjs-core";

interface Backends {
  wasm: { wasm?: { HEAPU8?: Uint8Array }; dataIdMap: { get(id: object): { memoryOffset: number | null } | undefined } };
  cpu: { data: { get(id: object): { values?: unknown } | undefined } };
}

let mode: "auto" | "never" = "auto";

/** For tests and benchmarks: "never" makes every write refuse (the KV cache then reallocates). */
export function setInPlaceWrites(m: "auto" | "never"): void {
  mode = m;
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

/** Whether in-place writes are on and the active backend allows them. */
export function inPlaceAvailable(): boolean {
  return mode === "auto" && (tf.getBackend() === "wasm" || tf.getBackend() === "cpu");
}

/** Whether `t` can be written in place: writes are available and no other tensor shares its memory. */
export function canWriteInPlace(t: tf.Tensor): boolean {
  return inPlaceAvailable() && tf.backend().refCount(t.dataId) === 1 && viewOf(t) !== null;
}

/**
 * Copies `src` `[N,n,W]` into `dst` `[N,S,W]` at rows `at…at+n` of every block (S ≥ at + n), in place.
 * Returns false (nothing written) when `dst` cannot be written in place.
 */
export function writeRows(dst: tf.Tensor, src: tf.Tensor, blocks: number, rows: number, at: number): boolean {
  if (!canWriteInPlace(dst)) return false;
  const to = viewOf(dst)!;
  const from = viewOf(src) ?? (src.dataSync() as Float32Array);
  const width = src.size / (blocks * rows); // W floats per row
  const stride = dst.size / blocks; // S·W floats per block
  if (!Number.isInteger(width) || at * width + rows * width > stride) throw new Error("writeRows: rows do not fit the destination");
  for (let b = 0; b < blocks; b++) to.set(from.subarray(b * rows * width, (b + 1) * rows * width), b * stride + at * width);
  return true;
}
