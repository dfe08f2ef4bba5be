import * as tf from "@tensorflow/tfjs-core";
import { readNpy, type NpyArray } from "../../src/weights/npy.js";
import { join } from "node:path";

export type Numeric = ArrayLike<number>;

export function maxAbsDiff(a: Numeric, b: Numeric): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

export function tensorData(t: tf.Tensor): Float32Array {
  return t.dataSync() as Float32Array;
}

export function golden(dir: string, name: string): NpyArray {
  return readNpy(join(dir, `${name}.npy`));
}

/** Slice [start, start+len) of the leading axis of a row-major array with `inner` elements per item. */
export function rows(data: Numeric, inner: number, start: number, len: number): Float32Array {
  return Float32Array.from(Array.prototype.slice.call(data, start * inner, (start + len) * inner) as number[]);
}

export function argmax(data: Numeric, start = 0, len = data.length - start): number {
  let best = start;
  for (let i = start + 1; i < start + len; i++) if (data[i] > data[best]) best = i;
  return best - start;
}
