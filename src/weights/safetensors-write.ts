// Safetensors writer: the header (safetensors.ts describes the layout) then each tensor's bytes, written
// under a temporary name and renamed, so a crash never leaves a half-written checkpoint.
import { closeSync, openSync, renameSync, rmSync } from "node:fs";
import {
  SUPPORTED_DTYPES,
  assertLittleEndianHost,
  dtypeSize,
  f32ToBf16,
  f32ToF16,
  isSupportedDtype,
  type SafetensorsDtype,
} from "./dtype.js";
import { writeAll } from "./io.js";
import { fail, isNonNegInt, parseMetadata } from "./safetensors.js";

export interface TensorSpec {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
}

export interface TensorToWrite extends TensorSpec {
  data: Float32Array;
}

// Conversion happens in slices so writing a large tensor as F16/BF16 needs little extra memory.
const WRITE_CHUNK = 1 << 20;

/**
 * Writes tensors in the given order (F16/BF16 rounded to nearest, ties to even). The file is
 * written under a temporary name and renamed, so a crash never leaves a half-written checkpoint.
 */
export function writeSafetensors(path: string, tensors: TensorToWrite[], metadata?: Record<string, string>): void {
  for (const t of tensors) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) fail(path, `shape ${JSON.stringify(t.shape)} has ${numel} elements but data has ${t.data.length}`, t.name);
  }
  const data = new Map(tensors.map((t) => [t.name, t.data]));
  writeSafetensorsStreaming(path, tensors, (t, write) => writeTensorData(t.dtype, data.get(t.name)!, write), metadata);
}

/**
 * Like writeSafetensors, but each tensor's bytes (already in its dtype, little-endian) come from
 * `fill`, which may call `write` any number of times: a file of any size is written with memory for
 * one chunk. Writing other than exactly the tensor's byte length is an error.
 */
export function writeSafetensorsStreaming(
  path: string,
  specs: TensorSpec[],
  fill: (t: TensorSpec, write: (bytes: Uint8Array) => void) => void,
  metadata?: Record<string, string>,
): void {
  assertLittleEndianHost();
  const header = buildHeader(path, specs, metadata);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  try {
    writeAll(fd, header);
    for (const t of specs) {
      let written = 0;
      fill(t, (bytes) => {
        writeAll(fd, bytes);
        written += bytes.byteLength;
      });
      const want = t.shape.reduce((a, b) => a * b, 1) * dtypeSize(t.dtype);
      if (written !== want)
        fail(path, `writer produced ${written} bytes, shape ${JSON.stringify(t.shape)} of ${t.dtype} needs ${want}`, t.name);
    }
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Length prefix + JSON, padded with spaces so the data section starts 8-byte aligned. */
function buildHeader(path: string, tensors: TensorSpec[], metadata?: Record<string, string>): Uint8Array {
  // Null prototype: tensor names such as "__proto__" or "constructor" must be plain keys.
  const json: Record<string, unknown> = Object.create(null);
  if (metadata) json.__metadata__ = parseMetadata(metadata, path);
  let offset = 0;
  for (const t of tensors) {
    if (t.name === "__metadata__" || Object.hasOwn(json, t.name)) fail(path, "duplicate or reserved tensor name", t.name);
    if (!isSupportedDtype(t.dtype)) fail(path, `cannot write dtype ${String(t.dtype)} (supported: ${SUPPORTED_DTYPES.join(", ")})`, t.name);
    if (!t.shape.every(isNonNegInt)) fail(path, `shape ${JSON.stringify(t.shape)} is not an array of non-negative integers`, t.name);
    const bytes = t.shape.reduce((a, b) => a * b, 1) * dtypeSize(t.dtype);
    json[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const text = Buffer.from(JSON.stringify(json), "utf8");
  const padded = Math.ceil(text.length / 8) * 8;
  const out = Buffer.alloc(8 + padded, 0x20);
  out.writeBigUInt64LE(BigInt(padded), 0);
  text.copy(out, 8);
  return out;
}

/** Float32 values as bytes of `dtype`, in slices (F16/BF16 through one reused scratch buffer). */
export function writeTensorData(dtype: SafetensorsDtype, data: Float32Array, write: (bytes: Uint8Array) => void): void {
  if (dtype === "F32") {
    write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return;
  }
  const scratch = new Uint16Array(Math.min(WRITE_CHUNK, data.length));
  for (let i = 0; i < data.length; i += WRITE_CHUNK) {
    const src = data.subarray(i, Math.min(i + WRITE_CHUNK, data.length));
    const dst = scratch.subarray(0, src.length);
    if (dtype === "F16") f32ToF16(src, dst);
    else f32ToBf16(src, dst);
    write(new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength));
  }
}
