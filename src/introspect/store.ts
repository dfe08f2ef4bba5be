// A recording on disk: `index.json` (RecordingMeta + one entry per record), the data as one float32
// `.npy` per record or as one `attention.safetensors` (tensor name = record name), and `image.png`,
// the picture as the model saw it (patch (r,c) covers pixels [c·s,(c+1)·s) × [r·s,(r+1)·s), s = W/grid).
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { makeDirs } from "../util/files.js";
import { join } from "node:path";
import { Jimp } from "jimp";
import { readNpy, writeNpy } from "../weights/npy.js";
import { readSafetensorsHeader } from "../weights/safetensors.js";
import { writeSafetensors } from "../weights/safetensors-write.js";
import type { RgbImage } from "../vision/index.js";
import { loadImage } from "../vision/index.js";
import type { AttentionRecord } from "./recorder.js";
import type { Recording, RecordingMeta } from "./session.js";

export type StoreFormat = "npy" | "safetensors";

export interface IndexEntry extends Omit<AttentionRecord, "data"> {
  /** File holding the data (npy), or the tensor name inside attention.safetensors. */
  file: string;
  /** Text records: the token this step generated, and the token at the (last) query position. */
  token?: { id: number; text: string };
  input?: string;
}

export interface RecordingIndex extends RecordingMeta {
  storage: StoreFormat;
  image: string;
  bytes: number;
  records: IndexEntry[];
}

const SAFETENSORS_FILE = "attention.safetensors";

/** Writes the recording into `dir` (created if needed); returns the index that was written. */
export async function saveRecording(dir: string, rec: Recording, format: StoreFormat = "npy"): Promise<RecordingIndex> {
  makeDirs(dir, "the attention recording");
  const entries = rec.records.map((r) => entryOf(r, rec.meta, format));
  if (format === "npy") rec.records.forEach((r, i) => writeNpy(join(dir, entries[i].file), r.shape, r.data));
  else
    writeSafetensors(
      join(dir, SAFETENSORS_FILE),
      rec.records.map((r) => ({ name: r.name, dtype: "F32", shape: r.shape, data: r.data })),
      { format: rec.meta.format },
    );
  await writePng(join(dir, "image.png"), rec.image);
  const index: RecordingIndex = {
    ...rec.meta,
    storage: format,
    image: "image.png",
    bytes: rec.records.reduce((n, r) => n + r.data.byteLength, 0),
    records: entries,
  };
  writeFileSync(join(dir, "index.json"), JSON.stringify(index, null, 1) + "\n");
  return index;
}

function entryOf(r: AttentionRecord, meta: RecordingMeta, format: StoreFormat): IndexEntry {
  const { data: _data, ...rest } = r;
  const e: IndexEntry = { ...rest, file: format === "npy" ? `${r.name}.npy` : r.name };
  if (r.module === "text" && r.kind !== "tap") {
    const id = meta.answer.ids[r.step];
    if (id !== undefined) e.token = { id, text: meta.answer.tokens[r.step] };
    const last = r.queryStart + r.shape[1] - 1;
    const P = meta.positionLabels.length;
    e.input = last < P ? meta.positionLabels[last] : meta.answer.tokens[last - P];
  }
  return e;
}

/** Reads a directory written by saveRecording. */
/** The recording's index.json, or an error saying what is wrong with `dir` (not a raw errno). */
function readIndex(dir: string): RecordingIndex {
  const what = "a recording folder written by `causalmm record --out DIR`";
  if (!existsSync(dir)) throw new Error(`${dir}: no such folder (expected ${what})`);
  if (!statSync(dir).isDirectory()) throw new Error(`${dir}: is a file, not a folder (expected ${what})`);
  const file = join(dir, "index.json");
  if (!existsSync(file)) throw new Error(`${dir}: no index.json here, so not a causalmm attention recording (expected ${what})`);
  try {
    return JSON.parse(readFileSync(file, "utf8")) as RecordingIndex;
  } catch (e) {
    throw new Error(`${file}: cannot read the recording index: ${(e as Error).message}`, { cause: e });
  }
}

export async function loadRecording(dir: string): Promise<Recording> {
  const index = readIndex(dir);
  if (index?.format !== "causalmm-attention-record/1") throw new Error(`${dir}/index.json: not a causalmm attention recording`);
  const data = index.storage === "safetensors" ? readAllSafetensors(join(dir, SAFETENSORS_FILE)) : null;
  const records: AttentionRecord[] = index.records.map(({ file, token: _t, input: _i, ...r }) => {
    const d = data ? data.get(file) : (readNpy(join(dir, file)).data as Float32Array);
    if (!d) throw new Error(`${dir}: record '${file}' missing from ${SAFETENSORS_FILE}`);
    return { ...r, data: d };
  });
  const { storage: _s, image, bytes: _b, records: _r, ...meta } = index;
  return { meta, records, image: await loadImage(join(dir, image)) };
}

function readAllSafetensors(path: string): Map<string, Float32Array> {
  const header = readSafetensorsHeader(path);
  const buf = readFileSync(path);
  const out = new Map<string, Float32Array>();
  for (const e of header.entries) {
    if (e.dtype !== "F32") throw new Error(`${path}: ${e.sourceName} is ${e.dtype}, expected F32`);
    const bytes = buf.subarray(e.byteStart, e.byteStart + e.byteLength);
    out.set(e.sourceName, new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)));
  }
  return out;
}

/** RGB → PNG file via jimp. */
export async function writePng(path: string, img: RgbImage): Promise<void> {
  writeFileSync(path, await pngBuffer(img));
}

export async function pngBuffer(img: RgbImage): Promise<Buffer> {
  const j = new Jimp({ width: img.width, height: img.height, color: 0x000000ff });
  const d = j.bitmap.data;
  for (let i = 0, o = 0; i < img.data.length; i += 3, o += 4) {
    d[o] = img.data[i];
    d[o + 1] = img.data[i + 1];
    d[o + 2] = img.data[i + 2];
    d[o + 3] = 255;
  }
  return j.getBuffer("image/png");
}
