// A model directory's safetensors weights: either one `model.safetensors` or shards listed by
// `model.safetensors.index.json`. Opening parses and validates every header but reads no tensor
// data; each tensor is later read from exactly its byte range, so memory use is one tensor.
import { closeSync, existsSync, openSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { assertLittleEndianHost, bf16ToF32, dtypeSize, f16ToF32 } from "./dtype.js";
import { readExact } from "./io.js";
import { canonicalName } from "./names.js";
import { readSafetensorsHeader, type HeaderOptions, type TensorEntry } from "./safetensors.js";

export type { TensorEntry } from "./safetensors.js";

export const SINGLE_FILE = "model.safetensors";
export const INDEX_FILE = "model.safetensors.index.json";

// F16/BF16 are read in slices of this many elements into a reused buffer, then widened into the
// result, so loading never holds the raw half-precision copy of a large tensor.
const READ_CHUNK = 1 << 22;

export class Checkpoint {
  readonly dir: string;
  readonly files: string[];
  private readonly entries: Map<string, TensorEntry>;
  private readonly fds = new Map<string, number>();
  private scratch: Uint16Array | null = null;

  private constructor(dir: string, files: string[], entries: Map<string, TensorEntry>) {
    this.dir = dir;
    this.files = files;
    this.entries = entries;
  }

  /** Parses and validates all headers (and the index). `options` as for readSafetensorsHeader. */
  static open(dir: string, options: HeaderOptions = {}): Checkpoint {
    assertLittleEndianHost();
    const abs = resolve(dir);
    if (!isDirectory(abs)) throw new Error(`${abs}: checkpoint directory does not exist or is not a directory`);
    // Like transformers' from_pretrained, a single file wins over an index.
    const single = join(abs, SINGLE_FILE);
    if (existsSync(single)) {
      return new Checkpoint(abs, [single], byCanonicalName(abs, readSafetensorsHeader(single, options).entries));
    }
    const index = join(abs, INDEX_FILE);
    if (existsSync(index)) {
      const { files, entries } = openShards(abs, index, options);
      return new Checkpoint(abs, files, byCanonicalName(abs, entries));
    }
    throw new Error(`${abs}: not a safetensors checkpoint directory (neither ${SINGLE_FILE} nor ${INDEX_FILE} found)`);
  }

  /** Canonical names, sorted. */
  names(): string[] {
    return [...this.entries.keys()].sort();
  }

  /** Accepts canonical names and, as a convenience, the newer layout's spelling. */
  has(name: string): boolean {
    return this.entries.has(canonicalName(name));
  }

  entry(name: string): TensorEntry {
    const e = this.entries.get(canonicalName(name));
    if (!e) throw new Error(`${this.dir}: checkpoint has no tensor "${name}" (it has ${this.entries.size} tensors)`);
    return e;
  }

  /** Reads exactly the tensor's bytes and widens them to float32. */
  readFloat32(name: string): Float32Array {
    const e = this.entry(name);
    const n = e.byteLength / dtypeSize(e.dtype);
    const out = new Float32Array(n);
    const fd = this.fd(e.file);
    const what = `tensor "${e.sourceName}"`;
    if (e.dtype === "F32") {
      // A fresh Float32Array is always aligned, so reading straight into it needs no copy.
      readExact(fd, e.file, new Uint8Array(out.buffer), e.byteStart, what);
      return out;
    }
    const widen = e.dtype === "F16" ? f16ToF32 : bf16ToF32;
    const scratch = (this.scratch ??= new Uint16Array(READ_CHUNK));
    for (let i = 0; i < n; i += READ_CHUNK) {
      const src = scratch.subarray(0, Math.min(READ_CHUNK, n - i));
      readExact(fd, e.file, new Uint8Array(src.buffer, 0, src.byteLength), e.byteStart + i * 2, what);
      widen(src, out, i);
    }
    return out;
  }

  /** Reads exactly the tensor's bytes, kept in the file dtype (16-bit patterns for F16/BF16). */
  readRaw(name: string): { dtype: TensorEntry["dtype"]; data: Float32Array | Uint16Array } {
    const e = this.entry(name);
    const data = e.dtype === "F32" ? new Float32Array(e.byteLength / 4) : new Uint16Array(e.byteLength / 2);
    readExact(this.fd(e.file), e.file, new Uint8Array(data.buffer), e.byteStart, `tensor "${e.sourceName}"`);
    return { dtype: e.dtype, data };
  }

  /** Bytes of tensor data on disk (excluding headers and skipped tensors). */
  totalBytes(): number {
    let sum = 0;
    for (const e of this.entries.values()) sum += e.byteLength;
    return sum;
  }

  /** Closes open file descriptors; a later read reopens the file it needs. */
  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
    this.scratch = null;
  }

  private fd(file: string): number {
    let fd = this.fds.get(file);
    if (fd === undefined) {
      try {
        fd = openSync(file, "r");
      } catch (e) {
        throw new Error(`${file}: cannot open safetensors file (${(e as Error).message})`, { cause: e });
      }
      this.fds.set(file, fd);
    }
    return fd;
  }
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function byCanonicalName(dir: string, entries: TensorEntry[]): Map<string, TensorEntry> {
  const map = new Map<string, TensorEntry>();
  for (const e of entries) {
    const prev = map.get(e.name);
    if (prev) {
      throw new Error(
        `${dir}: keys "${prev.sourceName}" (${prev.file}) and "${e.sourceName}" (${e.file}) ` + `both map to canonical name "${e.name}"`,
      );
    }
    map.set(e.name, e);
  }
  return map;
}

/** weight_map grouped by shard file name, shards sorted. */
function readIndex(index: string): Map<string, string[]> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(index, "utf8"));
  } catch (e) {
    throw new Error(`${index}: cannot read index (${(e as Error).message})`, { cause: e });
  }
  const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== "object" || weightMap === null || Array.isArray(weightMap)) {
    throw new Error(`${index}: index has no "weight_map" object`);
  }
  const byShard = new Map<string, string[]>();
  for (const [tensor, shard] of Object.entries(weightMap)) {
    // Shards must be plain file names in the same directory: an index must not point elsewhere.
    if (typeof shard !== "string" || shard === "" || /[\\/]/.test(shard) || shard === "." || shard === "..") {
      throw new Error(`${index}: weight_map entry for tensor "${tensor}" is not a shard file name: ${JSON.stringify(shard)}`);
    }
    const list = byShard.get(shard) ?? [];
    list.push(tensor);
    byShard.set(shard, list);
  }
  if (byShard.size === 0) throw new Error(`${index}: weight_map is empty`);
  return new Map([...byShard.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Reads every shard's header and checks it holds exactly the tensors the index assigns it. */
function openShards(dir: string, index: string, options: HeaderOptions): { files: string[]; entries: TensorEntry[] } {
  const byShard = readIndex(index);
  const assigned = new Map<string, string>();
  for (const [shard, tensors] of byShard) for (const t of tensors) assigned.set(t, shard);
  const files: string[] = [];
  const entries: TensorEntry[] = [];
  for (const [shard, tensors] of byShard) {
    const file = join(dir, shard);
    if (!existsSync(file)) {
      throw new Error(`${index}: shard "${shard}" is missing (expected at ${file}; it should hold e.g. tensor "${tensors[0]}")`);
    }
    const header = readSafetensorsHeader(file, options);
    const present = new Set([...header.entries.map((e) => e.sourceName), ...header.skipped]);
    for (const t of tensors) {
      if (!present.has(t)) throw new Error(`${index}: tensor "${t}" is listed under shard "${shard}" but ${file} does not contain it`);
    }
    for (const e of header.entries) {
      const owner = assigned.get(e.sourceName);
      if (owner === shard) continue;
      throw new Error(
        owner === undefined
          ? `${file}: tensor "${e.sourceName}" is not listed in the weight_map of ${index}`
          : `${file}: tensor "${e.sourceName}" is also present here, but ${index} assigns it to shard "${owner}"`,
      );
    }
    files.push(file);
    entries.push(...header.entries);
  }
  return { files, entries };
}
