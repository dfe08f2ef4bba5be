// Safetensors header reader and validator (the writer is safetensors-write.ts). Layout of a file:
//   u64 little-endian N | N bytes of UTF-8 JSON header | data section
// The header maps tensor names to {dtype, shape, data_offsets: [start, end]} (offsets relative to
// the data section) plus an optional "__metadata__" string->string map. Only the header is read
// here; tensor bytes are read on demand by Checkpoint, so files may exceed Node's 4 GiB buffers.
import { closeSync, fstatSync, openSync } from "node:fs";
import { DTYPE_BITS, SUPPORTED_DTYPES, isSupportedDtype, type SafetensorsDtype } from "./dtype.js";
import { readExact } from "./io.js";
import { canonicalName } from "./names.js";

export type { SafetensorsDtype } from "./dtype.js";

export interface TensorEntry {
  /** Canonical name (see names.ts). */
  name: string;
  /** Key as spelled in the file. */
  sourceName: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute path of the file holding the data. */
  file: string;
  /** Absolute byte position in `file`. */
  byteStart: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  entries: TensorEntry[];
  metadata: Record<string, string>;
  /** Absolute file position of the data section (8 + header length). */
  dataStart: number;
  /** Keys left out because of `unsupportedDtypes: "skip"`. */
  skipped: string[];
}

export interface HeaderOptions {
  /**
   * What to do with tensors of a valid safetensors dtype we cannot convert (I64, U8, F8, ...):
   * "error" (default) or "skip" (leave them out of `entries`; they still count for layout checks).
   */
  unsupportedDtypes?: "error" | "skip";
}

/** Same cap as the reference Rust implementation; real headers are a few hundred KB. */
export const MAX_HEADER_BYTES = 100_000_000;

interface RawTensor {
  name: string;
  dtype: string;
  shape: number[];
  start: number;
  end: number;
}

/** The error for a bad file: `file: msg`, or `file: tensor "name": msg`. */
export function fail(file: string, msg: string, tensor?: string): never {
  throw new Error(tensor === undefined ? `${file}: ${msg}` : `${file}: tensor "${tensor}": ${msg}`);
}

export function readSafetensorsHeader(path: string, options: HeaderOptions = {}): SafetensorsHeader {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw new Error(`${path}: cannot open safetensors file (${(e as Error).message})`, { cause: e });
  }
  try {
    return parseHeader(fd, path, options);
  } finally {
    closeSync(fd);
  }
}

function parseHeader(fd: number, path: string, options: HeaderOptions): SafetensorsHeader {
  const { json, dataStart, dataLength } = readHeaderJson(fd, path);
  let metadata: Record<string, string> = {};
  const raws: RawTensor[] = [];
  for (const [key, value] of Object.entries(json)) {
    if (key === "__metadata__") metadata = parseMetadata(value, path);
    else raws.push(parseTensor(key, value, path, dataLength));
  }
  checkLayout(raws, path, dataLength);
  const entries: TensorEntry[] = [];
  const skipped: string[] = [];
  const seen = new Map<string, string>();
  for (const r of raws) {
    if (!isSupportedDtype(r.dtype)) {
      if (options.unsupportedDtypes === "skip") {
        skipped.push(r.name);
        continue;
      }
      fail(
        path,
        `dtype ${r.dtype} is a valid safetensors dtype but cannot be converted to float32 ` + `(supported: ${SUPPORTED_DTYPES.join(", ")})`,
        r.name,
      );
    }
    const name = canonicalName(r.name);
    const other = seen.get(name);
    if (other !== undefined) fail(path, `keys "${other}" and "${r.name}" both map to canonical name "${name}"`);
    seen.set(name, r.name);
    entries.push({
      name,
      sourceName: r.name,
      dtype: r.dtype,
      shape: r.shape,
      file: path,
      byteStart: dataStart + r.start,
      byteLength: r.end - r.start,
    });
  }
  return { entries, metadata, dataStart, skipped };
}

function readHeaderJson(fd: number, path: string): { json: Record<string, unknown>; dataStart: number; dataLength: number } {
  const size = fstatSync(fd).size;
  if (size < 8) fail(path, `file is ${size} bytes, shorter than the 8-byte safetensors header length`);
  const lenBuf = Buffer.alloc(8);
  readExact(fd, path, lenBuf, 0, "the header length");
  const n = lenBuf.readBigUInt64LE(0);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(path, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
  const headerLen = Number(n);
  if (8 + headerLen > size)
    fail(path, `header length ${headerLen} runs past the end of the file (${size} bytes): truncated or not safetensors`);
  const headerBuf = Buffer.alloc(headerLen);
  readExact(fd, path, headerBuf, 8, "the header");
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBuf);
  } catch {
    fail(path, "header is not valid UTF-8");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(path, `header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(json)) fail(path, "header JSON is not an object");
  return { json, dataStart: 8 + headerLen, dataLength: size - 8 - headerLen };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `__metadata__` as the format allows it: an object of strings (checked for reading and writing). */
export function parseMetadata(value: unknown, path: string): Record<string, string> {
  if (!isPlainObject(value)) fail(path, `"__metadata__" is not an object`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== "string") fail(path, `"__metadata__" value for "${k}" is not a string`);
  }
  return { ...(value as Record<string, string>) };
}

function parseTensor(name: string, value: unknown, path: string, dataLength: number): RawTensor {
  if (!isPlainObject(value)) fail(path, "header entry is not an object", name);
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== "string" || !Object.hasOwn(DTYPE_BITS, dtype)) {
    fail(
      path,
      `unknown dtype ${JSON.stringify(dtype)} (supported: ${SUPPORTED_DTYPES.join(", ")}; ` +
        `other safetensors dtypes, not convertible: ${Object.keys(DTYPE_BITS)
          .filter((d) => !isSupportedDtype(d))
          .join(", ")})`,
      name,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isNonNegInt))
    fail(path, `shape ${JSON.stringify(shape)} is not an array of non-negative integers`, name);
  const dims = shape as number[];
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegInt) || offsets[0] > offsets[1]) {
    fail(path, `data_offsets ${JSON.stringify(offsets)} must be two non-negative integers [start, end] with start <= end`, name);
  }
  const [start, end] = offsets as [number, number];
  const numel = dims.reduce((a, b) => a * b, 1);
  const bits = numel * DTYPE_BITS[dtype];
  if (!Number.isSafeInteger(bits)) fail(path, `shape ${JSON.stringify(dims)} is too large`, name);
  if (bits % 8 !== 0 || bits / 8 !== end - start) {
    fail(
      path,
      `data_offsets [${start}, ${end}] span ${end - start} bytes but shape ${JSON.stringify(dims)} of ${dtype} needs ${bits / 8}`,
      name,
    );
  }
  if (end > dataLength) {
    fail(path, `data_offsets end ${end} is past the end of the data section (${dataLength} bytes): file truncated?`, name);
  }
  return { name, dtype, shape: dims, start, end };
}

export function isNonNegInt(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** The spec requires tensors to tile the data section exactly: no overlaps, holes or tail. */
function checkLayout(raws: RawTensor[], path: string, dataLength: number): void {
  const sorted = [...raws].sort((a, b) => a.start - b.start || a.end - b.end);
  let pos = 0;
  let prev: RawTensor | undefined;
  for (const t of sorted) {
    if (t.start < pos && prev) {
      fail(path, `tensors "${prev.name}" [${prev.start}, ${prev.end}] and "${t.name}" [${t.start}, ${t.end}] overlap`);
    }
    if (t.start > pos) {
      const after = prev ? `after tensor "${prev.name}" (ends at ${pos})` : "at the start of the data section";
      fail(
        path,
        `gap of ${t.start - pos} unused bytes ${after}, before tensor "${t.name}" (starts at ${t.start}); data must be contiguous`,
      );
    }
    pos = t.end;
    prev = t;
  }
  if (pos !== dataLength) {
    fail(path, `${dataLength - pos} unused bytes after the last tensor (data section is ${dataLength} bytes, tensors cover ${pos})`);
  }
}
