// Minimal NumPy .npy (format v1.0/v2.0/v3.0) reader and v1.0 writer: little-endian, C order only.
import { readFileSync, writeFileSync } from "node:fs";

export type NpyDtype = "float32" | "float64" | "int32" | "int64" | "uint8" | "bool";

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** float32/float64/int32/uint8 as their typed array; int64 as Float64Array (exact up to 2^53). */
  data: Float32Array | Float64Array | Int32Array | Uint8Array;
}

const DESCR: Record<string, NpyDtype> = {
  "<f4": "float32",
  "<f8": "float64",
  "<i4": "int32",
  "<i8": "int64",
  "|u1": "uint8",
  "<u1": "uint8",
  "|b1": "bool",
};
const MAGIC = "\x93NUMPY";

export function parseNpy(buf: Buffer, name = "<buffer>"): NpyArray {
  if (buf.length < 10 || buf.toString("latin1", 0, 6) !== MAGIC) throw new Error(`${name}: not a .npy file (bad magic)`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  const dataStart = headerStart + headerLen;
  if (dataStart > buf.length) throw new Error(`${name}: .npy header runs past the end of the file`);
  const header = buf.toString("latin1", headerStart, dataStart);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new Error(`${name}: malformed .npy header: ${header.trim()}`);
  const dtype = DESCR[descr];
  if (!dtype) throw new Error(`${name}: unsupported .npy dtype '${descr}' (supported: ${Object.keys(DESCR).join(", ")})`);
  if (fortran === "True") throw new Error(`${name}: Fortran-order .npy is not supported`);
  const shape = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const itemSize = { float32: 4, float64: 8, int32: 4, int64: 8, uint8: 1, bool: 1 }[dtype];
  if (dataStart + count * itemSize > buf.length) {
    throw new Error(`${name}: .npy data is truncated (need ${count * itemSize} bytes, have ${buf.length - dataStart})`);
  }
  // Copy into a fresh, aligned buffer: the data offset inside `buf` need not be aligned.
  const bytes = new Uint8Array(
    (buf.buffer as ArrayBuffer).slice(buf.byteOffset + dataStart, buf.byteOffset + dataStart + count * itemSize),
  );
  return { dtype, shape, data: decode(dtype, bytes.buffer, count) };
}

function decode(dtype: NpyDtype, ab: ArrayBuffer, count: number): NpyArray["data"] {
  switch (dtype) {
    case "float32":
      return new Float32Array(ab);
    case "float64":
      return new Float64Array(ab);
    case "int32":
      return new Int32Array(ab);
    case "uint8":
    case "bool":
      return new Uint8Array(ab);
    case "int64": {
      const big = new BigInt64Array(ab);
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = Number(big[i]);
      return out;
    }
  }
}

export function readNpy(path: string): NpyArray {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read .npy file (${(e as Error).message})`, { cause: e });
  }
  return parseNpy(buf, path);
}

export function encodeNpy(shape: number[], data: Float32Array | Int32Array | Uint8Array): Buffer {
  const descr = data instanceof Float32Array ? "<f4" : data instanceof Int32Array ? "<i4" : "|u1";
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Pad so that magic(6)+version(2)+len(2)+header is a multiple of 64, ending in '\n'.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, " ") + "\n";
  const head = Buffer.alloc(10);
  head.write(MAGIC, 0, "latin1");
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, "latin1"), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

export function writeNpy(path: string, shape: number[], data: Float32Array | Int32Array | Uint8Array): void {
  writeFileSync(path, encodeNpy(shape, data));
}
