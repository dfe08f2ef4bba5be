// LLaVA-1.5-7B-shaped checkpoints for memory tests. `writeSparse7b` writes real safetensors headers
// (three shards, the llava-hf layout) over sparse files: a 14 GB directory that takes no disk, for
// plans and refusals, which read headers only.
import { closeSync, ftruncateSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { llava7bConfig } from "../../benchmarks/lib/real-width.js";
import { parseLlavaConfig } from "../../src/model/config.js";
import { llavaParams } from "../../src/model/llava.js";
import { ParamPlanner } from "../../src/weights/params.js";

export function planned(cfgJson: Record<string, unknown>) {
  const planner = new ParamPlanner();
  llavaParams(parseLlavaConfig(cfgJson, "7b"), planner);
  const seen = new Set<string>();
  return planner.wanted.filter((p) => !seen.has(p.name) && seen.add(p.name));
}

/** Writes config.json and three F16 shards whose data sections are sparse (zeros, no disk). */
export function writeSparse7b(dir: string, cfgJson: Record<string, unknown> = llava7bConfig()): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify(cfgJson, null, 2));
  const tensors = planned(cfgJson);
  const shards: (typeof tensors)[] = [[], [], []];
  tensors.forEach((t, i) => shards[Math.min(2, Math.floor((3 * i) / tensors.length))].push(t));
  const weightMap: Record<string, string> = {};
  shards.forEach((list, s) => {
    const file = `model-0000${s + 1}-of-00003.safetensors`;
    const json: Record<string, unknown> = {};
    let offset = 0;
    for (const t of list) {
      const bytes = t.shape.reduce((a, b) => a * b, 1) * 2;
      json[t.name] = { dtype: "F16", shape: t.shape, data_offsets: [offset, offset + bytes] };
      offset += bytes;
      weightMap[t.name] = file;
    }
    let header = Buffer.from(JSON.stringify(json));
    header = Buffer.concat([header, Buffer.alloc((8 - (header.length % 8)) % 8, 0x20)]);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    const fd = openSync(join(dir, file), "w");
    writeSync(fd, len);
    writeSync(fd, header);
    ftruncateSync(fd, 8 + header.length + offset);
    closeSync(fd);
  });
  writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }));
}
