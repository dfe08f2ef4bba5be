// Safetensors checkpoints (the tiny fixture model, single-file F32 and two-shard F16 + index): header
// JSON edits, header byte damage, length-prefix and truncation damage, index edits, data bit flips.
// The loader run is what `loadModel` does before uploading: config, open + validate every header,
// check the tensor plan against config.json, and read every tensor's bytes.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { loadLlavaConfig } from "../../../src/model/config.js";
import { llavaParams, UNUSED_TENSORS } from "../../../src/model/llava.js";
import { checkpointSource } from "../../../src/model/load.js";
import { Checkpoint } from "../../../src/weights/checkpoint.js";
import { checkPlan, ParamPlanner } from "../../../src/weights/params.js";
import { breakJsonText, concat, mutateBytes, mutateJson } from "./mutate.js";
import type { Rng } from "./rng.js";
import { dec, enc, type FuzzCase, type Target } from "./target.js";

interface ModelDir {
  dir: string;
  files: string[];
}
type Base = ModelDir[];

async function base(fixtures: string): Promise<Base> {
  return ["model-f32", "model-f16"].map((m) => {
    const dir = join(fixtures, "llava-tiny-56", m);
    return { dir, files: readdirSync(dir).filter((f) => f.endsWith(".json") || f.endsWith(".safetensors")) };
  });
}

/** Every file linked unchanged except `name`, which gets `bytes`. */
function withFile(m: ModelDir, name: string, bytes: Uint8Array): FuzzCase["files"] {
  const files: FuzzCase["files"] = {};
  for (const f of m.files) files[f] = f === name ? bytes : { symlink: join(m.dir, f) };
  return files;
}

function headerLength(b: Uint8Array): number {
  return Number(Buffer.from(b.buffer, b.byteOffset, 8).readBigUInt64LE(0));
}

/** Re-serialises a header; keeping the old length prefix (sometimes) tests the mismatch too. */
function rebuild(b: Uint8Array, json: unknown, rng: Rng): { bytes: Uint8Array; note: string } {
  const n = headerLength(b);
  let text = enc(JSON.stringify(json));
  const keep = rng.chance(0.2);
  const len = keep ? n : text.length + (rng.chance(0.5) ? (8 - (text.length % 8)) % 8 : 0);
  if (!keep && len > text.length) text = concat(text, enc(" ".repeat(len - text.length)));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(len));
  return { bytes: concat(prefix, text, b.subarray(8 + n)), note: keep ? " (old length prefix kept)" : "" };
}

function makeHeaderCase(models: Base, rng: Rng): FuzzCase {
  const m = rng.pick(models);
  const name = rng.pick(m.files.filter((f) => f !== "generation_config.json" && f !== "config.json"));
  const b = new Uint8Array(readFileSync(join(m.dir, name)));
  if (name.endsWith(".json")) {
    const text = dec(b);
    const r = rng.chance(0.25)
      ? breakJsonText(text, rng)
      : (() => {
          const mj = mutateJson(JSON.parse(text), rng, /^(weight_map|metadata|total_size)$|\.(weight|bias)$/);
          return { value: JSON.stringify(mj.value), what: mj.what };
        })();
    return { files: withFile(m, name, enc(r.value)), what: `${name}: ${r.what}`, header: true };
  }
  const n = headerLength(b);
  const kind = rng.int(10);
  if (kind < 5) {
    const mj = mutateJson(JSON.parse(dec(b.subarray(8, 8 + n))), rng, /^(dtype|shape|data_offsets|__metadata__)$|\.(weight|bias)$|^\d+$/);
    const { bytes, note } = rebuild(b, mj.value, rng);
    return { files: withFile(m, name, bytes), what: `${name} header JSON: ${mj.what}${note}`, header: true };
  }
  if (kind < 8) {
    const r = mutateBytes(b, rng, 0, 8 + n);
    return { files: withFile(m, name, r.value), what: `${name} header bytes: ${r.what}`, header: true };
  }
  const cut = rng.chance(0.5) ? rng.int(8 + n) : 8 + n + rng.int(b.length - 8 - n);
  return { files: withFile(m, name, b.slice(0, cut)), what: `${name}: truncate to ${cut} of ${b.length} bytes`, header: cut < 8 + n };
}

function makeDataCase(models: Base, rng: Rng): FuzzCase {
  const m = rng.pick(models);
  const name = rng.pick(m.files.filter((f) => f.endsWith(".safetensors")));
  const b = new Uint8Array(readFileSync(join(m.dir, name)));
  const start = 8 + headerLength(b);
  const n = 1 + rng.int(64);
  for (let i = 0; i < n; i++) b[start + rng.int(b.length - start)] ^= 1 << rng.int(8);
  return {
    files: withFile(m, name, b),
    what: `${name}: flip ${n} bit(s) in the tensor data`,
    header: false,
    acceptedByDesign: "safetensors has no checksum: flipped data bits load as different weights",
  };
}

async function run(dir: string): Promise<void> {
  const cfg = loadLlavaConfig(dir);
  const ckpt = Checkpoint.open(dir);
  try {
    const planner = new ParamPlanner();
    llavaParams(cfg, planner);
    const src = checkpointSource(ckpt);
    checkPlan(planner.wanted, src, UNUSED_TENSORS);
    for (const p of planner.wanted) src.readFloat32(p.name);
  } finally {
    ckpt.close();
  }
}

export const safetensorsHeader: Target<Base> = { name: "safetensors-header", timeoutMs: 10_000, base, make: makeHeaderCase, run };
export const safetensorsData: Target<Base> = { name: "safetensors-data", timeoutMs: 10_000, base, make: makeDataCase, run };
