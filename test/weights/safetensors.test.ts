import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Checkpoint } from "../../src/weights/checkpoint.js";
import { readSafetensorsHeader, type SafetensorsDtype } from "../../src/weights/safetensors.js";
import { writeSafetensors } from "../../src/weights/safetensors-write.js";

const root = mkdtempSync(join(tmpdir(), "causalmm-st-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;

/** A fresh directory holding one `model.safetensors` written by writeSafetensors. */
function writeModel(tensors: Parameters<typeof writeSafetensors>[1], metadata?: Record<string, string>): string {
  const dir = join(root, `m${counter++}`);
  mkdirSync(dir);
  writeSafetensors(join(dir, "model.safetensors"), tensors, metadata);
  return dir;
}

/** Hand-built file: u64 length (overridable) + header (JSON value, text or raw bytes) + `dataBytes` zero bytes. */
function rawFile(header: unknown, dataBytes: number, headerLen?: bigint): string {
  const path = join(root, `raw${counter++}.safetensors`);
  const text = Buffer.isBuffer(header) ? header : Buffer.from(typeof header === "string" ? header : JSON.stringify(header), "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLen ?? BigInt(text.length));
  writeFileSync(path, Buffer.concat([len, text, Buffer.alloc(dataBytes)]));
  return path;
}

const f32 = (shape: number[], start: number) => ({
  dtype: "F32",
  shape,
  data_offsets: [start, start + 4 * shape.reduce((a, b) => a * b, 1)],
});
const bitsOf = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];

/** Index of the first differing element, or -1 (vitest's deep equality is slow on 4M elements). */
function firstDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe("writeSafetensors + read round trip", () => {
  const special = new Float32Array([0, -0, 1, -2.5, 65504, 2 ** -24, 3 * 2 ** -24, 2 ** -14, Infinity, -Infinity, NaN, 1e-3]);

  it("F32 is exact, keeps metadata and aligns the data section", () => {
    const data = new Float32Array([1.1, -2.2, 3.3e-40, Math.PI, NaN, -Infinity]);
    const dir = writeModel([{ name: "a", dtype: "F32", shape: [2, 3], data }], { format: "pt" });
    const file = join(dir, "model.safetensors");
    const h = readSafetensorsHeader(file);
    expect(h.metadata).toEqual({ format: "pt" });
    expect(h.dataStart % 8).toBe(0);
    expect(h.entries[0]).toMatchObject({
      name: "a",
      sourceName: "a",
      dtype: "F32",
      shape: [2, 3],
      file,
      byteStart: h.dataStart,
      byteLength: 24,
    });
    const ck = Checkpoint.open(dir);
    expect(bitsOf(ck.readFloat32("a"))).toEqual(bitsOf(data));
    ck.close();
  });

  it("F16 keeps subnormals, +-inf, nan and rounds to nearest even", () => {
    const tie = new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -11, 65520, 2 ** -25]);
    const dir = writeModel([
      { name: "s", dtype: "F16", shape: [special.length], data: special },
      { name: "t", dtype: "F16", shape: [4], data: tie },
    ]);
    const ck = Checkpoint.open(dir);
    const back = ck.readFloat32("s");
    expect([...back.subarray(0, 10)]).toEqual([0, -0, 1, -2.5, 65504, 2 ** -24, 3 * 2 ** -24, 2 ** -14, Infinity, -Infinity]);
    expect(Object.is(back[1], -0)).toBe(true);
    expect(Number.isNaN(back[10])).toBe(true);
    expect(back[11]).toBe(0.00100040435791015625); // nearest half to 1e-3: 2^-10 + 25·2^-20
    expect([...ck.readFloat32("t")]).toEqual([1, 1 + 2 ** -9, Infinity, 0]);
    ck.close();
  });

  it("BF16 rounds to nearest even and keeps inf/nan", () => {
    const data = new Float32Array([1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8 + 2 ** -20), Infinity, -Infinity, NaN, 2 ** -130, 3.4e38]);
    // 3.4e38 lies above the midpoint between the largest bf16 (0x7f7f) and 2^128, so it is inf.
    const dir = writeModel([{ name: "b", dtype: "BF16", shape: [2, 4], data }]);
    const ck = Checkpoint.open(dir);
    const back = ck.readFloat32("b");
    expect([...back.subarray(0, 5)]).toEqual([1, 1 + 2 ** -6, -(1 + 2 ** -7), Infinity, -Infinity]);
    expect(Number.isNaN(back[5])).toBe(true);
    expect(back[6]).toBe(2 ** -130); // bf16 keeps float32's subnormal range
    expect(back[7]).toBe(Infinity);
    ck.close();
  });

  it("handles empty and scalar tensors and multi-chunk reads", () => {
    const n = (1 << 22) + 777; // crosses the reader's 4M-element chunk boundary
    const big = new Float32Array(n).map((_, i) => ((i % 255) - 127) / 4); // exact in f16 and bf16
    const dir = writeModel([
      { name: "empty", dtype: "F16", shape: [0, 5], data: new Float32Array(0) },
      { name: "scalar", dtype: "BF16", shape: [], data: new Float32Array([7]) },
      { name: "bigh", dtype: "F16", shape: [n], data: big },
      { name: "bigb", dtype: "BF16", shape: [n], data: big },
    ]);
    const ck = Checkpoint.open(dir);
    expect(ck.readFloat32("empty").length).toBe(0);
    expect([...ck.readFloat32("scalar")]).toEqual([7]);
    expect(firstDiff(ck.readFloat32("bigh"), big)).toBe(-1);
    expect(firstDiff(ck.readFloat32("bigb"), big)).toBe(-1);
    expect(ck.totalBytes()).toBe(2 + 4 * n);
    ck.close();
  });

  it("rejects bad tensors when writing", () => {
    const p = join(root, "w.safetensors");
    expect(() => writeSafetensors(p, [{ name: "x", dtype: "F32", shape: [3], data: new Float32Array(2) }])).toThrow(/"x".*3 elements.*2/);
    expect(() => writeSafetensors(p, [{ name: "x", dtype: "I64" as SafetensorsDtype, shape: [1], data: new Float32Array(1) }])).toThrow(
      /cannot write dtype I64/,
    );
  });
});

describe("header validation", () => {
  const expectError = (path: string, ...patterns: (string | RegExp)[]) => {
    let msg = "";
    try {
      readSafetensorsHeader(path);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg.startsWith(path)).toBe(true); // every error names the file first
    for (const p of patterns) expect(msg).toMatch(p);
  };

  it("file shorter than 8 bytes", () => {
    const p = join(root, "short.safetensors");
    writeFileSync(p, Buffer.alloc(5));
    expectError(p, /5 bytes, shorter than the 8-byte/);
  });

  it("header length past EOF or above the cap", () => {
    expectError(rawFile({}, 0, 1000n), /header length 1000 runs past the end of the file \(10 bytes\)/);
    expectError(rawFile({}, 0, 1n << 40n), /exceeds the 100000000-byte limit/);
  });

  it("non-JSON, non-object, non-UTF-8 headers and bad metadata", () => {
    expectError(rawFile("{not json", 0), /not valid JSON/);
    expectError(rawFile("[1, 2]", 0), /not an object/);
    expectError(rawFile(Buffer.from([0x7b, 0xff, 0x7d]), 0), /not valid UTF-8/);
    expectError(rawFile({ __metadata__: { a: 1 } }, 0), /"__metadata__" value for "a" is not a string/);
  });

  it("unknown and unconvertible dtypes", () => {
    expectError(
      rawFile({ w: { dtype: "XX", shape: [1], data_offsets: [0, 1] } }, 1),
      /tensor "w"/,
      /unknown dtype "XX"/,
      /supported: F32, F16, BF16/,
      /I64/,
    );
    expectError(rawFile({ w: { dtype: "toString", shape: [1], data_offsets: [0, 1] } }, 1), /unknown dtype "toString"/);
    const i64 = rawFile({ ids: { dtype: "I64", shape: [2], data_offsets: [0, 16] }, w: f32([1], 16) }, 20);
    expectError(i64, /tensor "ids"/, /I64 is a valid safetensors dtype but cannot be converted/);
    const h = readSafetensorsHeader(i64, { unsupportedDtypes: "skip" });
    expect(h.entries.map((e) => e.name)).toEqual(["w"]);
    expect(h.skipped).toEqual(["ids"]);
  });

  it("bad shapes and offsets", () => {
    expectError(
      rawFile({ w: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, 4),
      /tensor "w"/,
      /shape \[-1\] is not an array of non-negative integers/,
    );
    expectError(rawFile({ w: { dtype: "F32", shape: [1.5], data_offsets: [0, 4] } }, 4), /tensor "w"/, /shape/);
    expectError(rawFile({ w: { dtype: "F32", shape: "3", data_offsets: [0, 4] } }, 4), /tensor "w"/, /shape/);
    expectError(rawFile({ w: { dtype: "F32", shape: [1], data_offsets: [4, 0] } }, 4), /tensor "w"/, /start <= end/);
    expectError(rawFile({ w: { dtype: "F32", shape: [1], data_offsets: [0] } }, 4), /tensor "w"/, /data_offsets/);
    expectError(rawFile({ w: 3 }, 0), /tensor "w"/, /not an object/);
  });

  it("byte length != product(shape) * dtype size", () => {
    expectError(
      rawFile({ w: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, 8),
      /tensor "w"/,
      /span 8 bytes but shape \[3\] of F32 needs 12/,
    );
  });

  it("offsets past the data section (truncated file)", () => {
    expectError(rawFile({ w: f32([4], 0) }, 8), /tensor "w"/, /past the end of the data section \(8 bytes\)/, /truncated/);
    const dir = writeModel([
      { name: "first", dtype: "F32", shape: [4], data: new Float32Array(4) },
      { name: "last", dtype: "F32", shape: [4], data: new Float32Array(4) },
    ]);
    const file = join(dir, "model.safetensors");
    truncateSync(file, readFileSync(file).length - 3);
    expectError(file, /tensor "last"/, /truncated/);
  });

  it("overlapping tensors", () => {
    const p = rawFile({ a: f32([2], 0), b: f32([2], 4) }, 12);
    expectError(p, /tensors "a" \[0, 8\] and "b" \[4, 12\] overlap/);
  });

  it("gaps and trailing bytes in the data section", () => {
    expectError(rawFile({ a: f32([2], 0), b: f32([2], 12) }, 20), /gap of 4 unused bytes after tensor "a".*before tensor "b"/);
    expectError(rawFile({ a: f32([2], 4) }, 12), /gap of 4 unused bytes at the start.*tensor "a"/);
    expectError(rawFile({ a: f32([2], 0) }, 12), /4 unused bytes after the last tensor/);
  });

  it("two keys with the same canonical name in one file", () => {
    const p = rawFile({ "lm_head.weight": f32([1], 0), "language_model.lm_head.weight": f32([1], 4) }, 8);
    expectError(p, /"lm_head.weight"/, /"language_model.lm_head.weight"/, /same|both map/);
  });

  it("a missing file", () => {
    expectError(join(root, "nope.safetensors"), /cannot open/);
  });
});
