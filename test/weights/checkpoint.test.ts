import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Checkpoint } from "../../src/weights/checkpoint.js";
import { canonicalName, newLayoutName } from "../../src/weights/names.js";
import { type SafetensorsDtype } from "../../src/weights/safetensors.js";
import { writeSafetensors } from "../../src/weights/safetensors-write.js";

const root = mkdtempSync(join(tmpdir(), "causalmm-ck-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;

const newDir = (): string => {
  const dir = join(root, `d${counter++}`);
  mkdirSync(dir);
  return dir;
};

const tensor = (name: string, values: number[], dtype: SafetensorsDtype = "F32") => ({
  name,
  dtype,
  shape: [values.length],
  data: new Float32Array(values),
});

/** Writes shards {file: tensors} and an index mapping each tensor to its shard (plus `extra`). */
function shardedDir(shards: Record<string, ReturnType<typeof tensor>[]>, extra: Record<string, string> = {}): string {
  const dir = newDir();
  const weightMap: Record<string, string> = { ...extra };
  for (const [file, tensors] of Object.entries(shards)) {
    writeSafetensors(join(dir, file), tensors, { format: "pt" });
    for (const t of tensors) weightMap[t.name] = file;
  }
  writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
  return dir;
}

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected an error");
}

describe("name mapping", () => {
  const pairs: [string, string][] = [
    ["vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight", "model.vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight"],
    ["multi_modal_projector.linear_1.bias", "model.multi_modal_projector.linear_1.bias"],
    ["language_model.model.layers.0.self_attn.q_proj.weight", "model.language_model.layers.0.self_attn.q_proj.weight"],
    ["language_model.model.embed_tokens.weight", "model.language_model.embed_tokens.weight"],
    ["language_model.model.norm.weight", "model.language_model.norm.weight"],
    ["language_model.lm_head.weight", "lm_head.weight"],
  ];

  it("maps the newer layout to canonical, canonical to itself, and back", () => {
    for (const [canon, newer] of pairs) {
      expect(canonicalName(newer)).toBe(canon);
      expect(canonicalName(canon)).toBe(canon);
      expect(newLayoutName(canon)).toBe(newer);
    }
    expect(canonicalName("something.else")).toBe("something.else");
  });
});

describe("Checkpoint", () => {
  it("opens a sharded directory through its index", () => {
    const dir = shardedDir({
      "model-00001-of-00002.safetensors": [tensor("language_model.model.embed_tokens.weight", [1, 2, 3, 4], "F16")],
      "model-00002-of-00002.safetensors": [
        tensor("language_model.lm_head.weight", [5, 6], "BF16"),
        tensor("multi_modal_projector.linear_1.bias", [7]),
      ],
    });
    const ck = Checkpoint.open(dir);
    expect(ck.dir).toBe(dir);
    expect(ck.files).toEqual([join(dir, "model-00001-of-00002.safetensors"), join(dir, "model-00002-of-00002.safetensors")]);
    expect(ck.names()).toEqual([
      "language_model.lm_head.weight",
      "language_model.model.embed_tokens.weight",
      "multi_modal_projector.linear_1.bias",
    ]);
    expect([...ck.readFloat32("language_model.model.embed_tokens.weight")]).toEqual([1, 2, 3, 4]);
    expect([...ck.readFloat32("language_model.lm_head.weight")]).toEqual([5, 6]);
    expect(ck.entry("multi_modal_projector.linear_1.bias")).toMatchObject({ dtype: "F32", shape: [1], byteLength: 4, file: ck.files[1] });
    expect(ck.totalBytes()).toBe(8 + 4 + 4);
    ck.close();
    expect([...ck.readFloat32("multi_modal_projector.linear_1.bias")]).toEqual([7]); // reopens lazily
    ck.close();
  });

  it("exposes canonical names for a newer-layout checkpoint", () => {
    const dir = newDir();
    writeSafetensors(join(dir, "model.safetensors"), [
      tensor("model.language_model.norm.weight", [1, 2]),
      tensor("lm_head.weight", [3]),
      tensor("model.vision_tower.vision_model.post_layernorm.bias", [4]),
    ]);
    const ck = Checkpoint.open(dir);
    expect(ck.names()).toEqual([
      "language_model.lm_head.weight",
      "language_model.model.norm.weight",
      "vision_tower.vision_model.post_layernorm.bias",
    ]);
    expect(ck.entry("language_model.model.norm.weight").sourceName).toBe("model.language_model.norm.weight");
    expect(ck.has("language_model.lm_head.weight") && ck.has("lm_head.weight")).toBe(true);
    expect([...ck.readFloat32("language_model.lm_head.weight")]).toEqual([3]);
    ck.close();
  });

  it("prefers model.safetensors over an index, like transformers", () => {
    const dir = shardedDir({ "s.safetensors": [tensor("a", [1])] });
    writeSafetensors(join(dir, "model.safetensors"), [tensor("b", [2])]);
    const ck = Checkpoint.open(dir);
    expect(ck.names()).toEqual(["b"]);
    ck.close();
  });

  it("entry() of an unknown name names the directory and the tensor", () => {
    const dir = newDir();
    writeSafetensors(join(dir, "model.safetensors"), [tensor("a", [1])]);
    const ck = Checkpoint.open(dir);
    expect(ck.has("nope")).toBe(false);
    const msg = errorOf(() => ck.entry("nope"));
    expect(msg).toContain(dir);
    expect(msg).toContain('"nope"');
    expect(errorOf(() => ck.readFloat32("nope"))).toContain('"nope"');
    ck.close();
  });

  it("a directory with neither file, or no directory", () => {
    const dir = newDir();
    expect(errorOf(() => Checkpoint.open(dir))).toMatch(
      new RegExp(`^${dir}: .*neither model.safetensors nor model.safetensors.index.json`),
    );
    expect(errorOf(() => Checkpoint.open(join(dir, "missing")))).toMatch(/does not exist or is not a directory/);
  });

  it("a missing shard names the index, the shard and a tensor it should hold", () => {
    const dir = shardedDir({ "a.safetensors": [tensor("x", [1])] }, { "y.weight": "b.safetensors" });
    const msg = errorOf(() => Checkpoint.open(dir));
    expect(msg).toContain(join(dir, "model.safetensors.index.json"));
    expect(msg).toContain('shard "b.safetensors" is missing');
    expect(msg).toContain('"y.weight"');
  });

  it("a tensor listed in weight_map but absent from its shard names both", () => {
    const dir = shardedDir({ "a.safetensors": [tensor("x", [1])] }, { ghost: "a.safetensors" });
    const msg = errorOf(() => Checkpoint.open(dir));
    expect(msg).toContain('tensor "ghost" is listed under shard "a.safetensors"');
    expect(msg).toContain(join(dir, "a.safetensors"));
  });

  it("a tensor in a shard but not in weight_map, or assigned to another shard", () => {
    const dir = shardedDir({ "a.safetensors": [tensor("x", [1])] });
    writeSafetensors(join(dir, "a.safetensors"), [tensor("x", [1]), tensor("stray", [2])]);
    expect(errorOf(() => Checkpoint.open(dir))).toMatch(/a\.safetensors: tensor "stray" is not listed in the weight_map/);
    const dir2 = shardedDir({ "a.safetensors": [tensor("x", [1])], "b.safetensors": [tensor("y", [1])] });
    writeSafetensors(join(dir2, "b.safetensors"), [tensor("x", [1]), tensor("y", [1])]);
    expect(errorOf(() => Checkpoint.open(dir2))).toMatch(
      /b\.safetensors: tensor "x" is also present here, but .* assigns it to shard "a\.safetensors"/,
    );
  });

  it("rejects shard names that leave the directory and malformed indexes", () => {
    const dir = shardedDir({ "a.safetensors": [tensor("x", [1])] }, { y: "../a.safetensors" });
    expect(errorOf(() => Checkpoint.open(dir))).toMatch(/"y" is not a shard file name/);
    const dir2 = newDir();
    writeFileSync(join(dir2, "model.safetensors.index.json"), "{oops");
    expect(errorOf(() => Checkpoint.open(dir2))).toMatch(/model\.safetensors\.index\.json: cannot read index/);
    writeFileSync(join(dir2, "model.safetensors.index.json"), "{}");
    expect(errorOf(() => Checkpoint.open(dir2))).toMatch(/no "weight_map" object/);
  });

  it("two source keys with the same canonical name across shards", () => {
    const dir = shardedDir({
      "a.safetensors": [tensor("lm_head.weight", [1])],
      "b.safetensors": [tensor("language_model.lm_head.weight", [2])],
    });
    const msg = errorOf(() => Checkpoint.open(dir));
    expect(msg).toContain(dir);
    expect(msg).toMatch(
      new RegExp(
        /"lm_head.weight" \(.*a\.safetensors\) and "language_model.lm_head.weight" \(.*b\.safetensors\) /.source +
          /both map to canonical name "language_model.lm_head.weight"/.source,
      ),
    );
  });

  it("reads a tensor stored beyond 4 GiB in a (sparse) 5 GiB file", () => {
    const dir = newDir();
    const padBytes = 5 * 2 ** 30; // one F16 tensor of 2.5 Gi elements, never read
    const header = Buffer.from(
      JSON.stringify({
        pad: { dtype: "F16", shape: [padBytes / 2], data_offsets: [0, padBytes] },
        tail: { dtype: "F32", shape: [2], data_offsets: [padBytes, padBytes + 8] },
      }),
    );
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    const fd = openSync(join(dir, "model.safetensors"), "w");
    try {
      writeSync(fd, Buffer.concat([len, header]));
      ftruncateSync(fd, 8 + header.length + padBytes + 8); // sparse: no disk space used
      writeSync(fd, new Uint8Array(new Float32Array([1.25, -3]).buffer), 0, 8, 8 + header.length + padBytes);
    } finally {
      closeSync(fd);
    }
    const ck = Checkpoint.open(dir);
    expect(ck.entry("tail").byteStart).toBeGreaterThan(2 ** 32);
    expect([...ck.readFloat32("tail")]).toEqual([1.25, -3]);
    expect(ck.totalBytes()).toBe(padBytes + 8);
    ck.close();
  });
});
