// 16-bit host copies of the weights that are not resident on the backend. Each tensor is read once
// from its byte range (as the loader always did) and kept in its file dtype in its own ArrayBuffer
// (Node buffers stop at 4 GiB; the largest LLaVA-7B tensor is 250 MiB). Widening to float32 happens
// per use, into a fresh array: the values are exactly the ones the resident path uploads.
import { bf16ToF32, f16ToF32 } from "./dtype.js";
import type { RawTensor, TensorSource } from "./params.js";

export class HostTensors implements TensorSource {
  private readonly kept = new Map<string, RawTensor>();
  private readonly rowGather = new RowGather();
  private bytes = 0;

  constructor(private readonly src: TensorSource) {}

  get dir(): string {
    return this.src.dir;
  }
  names(): string[] {
    return [...this.kept.keys()];
  }
  shapeOf(name: string): number[] {
    return this.src.shapeOf(name);
  }
  fileOf(name: string): string {
    return this.src.fileOf(name);
  }

  /** Reads `name` once and keeps it in its file dtype; returns the float32 bytes it stands for. */
  keep(name: string): number {
    let t = this.kept.get(name);
    if (!t) {
      t = this.src.readRaw ? this.src.readRaw(name) : { dtype: "F32", data: this.src.readFloat32(name) };
      this.kept.set(name, t);
      this.bytes += t.data.byteLength;
    }
    return t.data.length * 4;
  }

  /** Host bytes held. */
  heldBytes(): number {
    return this.bytes;
  }

  readRaw(name: string): RawTensor {
    const t = this.kept.get(name);
    if (!t) throw new Error(`${this.dir}: tensor "${name}" is not held on the host`);
    return t;
  }

  readFloat32(name: string): Float32Array {
    const t = this.readRaw(name);
    return widenRange(t, 0, t.data.length);
  }

  /** Rows `ids` of a 2-D tensor `[R, C]` → `[ids.length, C]` float32. */
  readRows(name: string, ids: ArrayLike<number>): Float32Array {
    const t = this.readRaw(name);
    const cols = this.src.shapeOf(name)[1];
    const rows = t.data.length / cols;
    const out = new Float32Array(ids.length * cols);
    for (let i = 0; i < ids.length; i++) {
      const r = ids[i];
      if (!Number.isInteger(r) || r < 0 || r >= rows) throw new Error(`${name}: row ${r} is out of range [0, ${rows})`);
      out.set(widenRange(t, r * cols, cols), i * cols);
    }
    return out;
  }

  /**
   * Rows `ids` of a 2-D tensor `[R, C]` → `[ids.length, C]` in its file dtype (16-bit stays 16-bit: half
   * the bytes, no widening), in a scratch buffer that the next call overwrites.
   */
  gatherRows(name: string, ids: ArrayLike<number>): RawTensor {
    return this.rowGather.gather(this.readRaw(name), this.src.shapeOf(name)[1], ids, name);
  }

  /** Rows `[from, from + count)` of a 2-D tensor, contiguous, float32. */
  readRowRange(name: string, from: number, count: number): Float32Array {
    const t = this.readRaw(name);
    const cols = this.src.shapeOf(name)[1];
    return widenRange(t, from * cols, count * cols);
  }

  /** Drops every host copy. */
  clear(): void {
    this.kept.clear();
    this.bytes = 0;
  }
}

/** Elements `[start, start + n)` of a raw tensor as float32 (a fresh array). */
/**
 * Gathers rows of a 2-D array into one scratch buffer per dtype, reused from call to call: a decode step
 * gathers tens of MB of lm_head rows, and fresh arrays that size each step cost page faults and GC pauses.
 */
export class RowGather {
  private f32 = new Float32Array(0);
  private u16 = new Uint16Array(0);

  /** Rows `ids` of `t` (`cols` per row) → `[ids.length, cols]`, valid until the next call. */
  gather(t: RawTensor, cols: number, ids: ArrayLike<number>, what: string): RawTensor {
    const rows = t.data.length / cols;
    const n = ids.length * cols;
    let out: Float32Array | Uint16Array;
    if (t.dtype === "F32") out = (this.f32 = this.f32.length >= n ? this.f32 : new Float32Array(n)).subarray(0, n);
    else out = (this.u16 = this.u16.length >= n ? this.u16 : new Uint16Array(n)).subarray(0, n);
    for (let i = 0; i < ids.length; i++) {
      const r = ids[i];
      if (!Number.isInteger(r) || r < 0 || r >= rows) throw new Error(`${what}: row ${r} is out of range [0, ${rows})`);
      out.set(t.data.subarray(r * cols, (r + 1) * cols), i * cols);
    }
    return { dtype: t.dtype, data: out };
  }
}

function widenRange(t: RawTensor, start: number, n: number): Float32Array {
  if (t.dtype === "F32") return (t.data as Float32Array).slice(start, start + n);
  const out = new Float32Array(n);
  const src = (t.data as Uint16Array).subarray(start, start + n);
  if (t.dtype === "F16") f16ToF32(src, out);
  else bf16ToF32(src, out);
  return out;
}
