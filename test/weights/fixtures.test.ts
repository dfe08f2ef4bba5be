// The shared llava-tiny checkpoints store the same bf16-grid weights as F32, F16 (2 shards) and
// BF16, so three independent decode paths must agree bit for bit.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { Checkpoint } from "../../src/weights/checkpoint.js";
import { newLayoutName } from "../../src/weights/names.js";
import { writeSafetensors } from "../../src/weights/safetensors-write.js";
import { describeFixtures } from "../helpers/fixtures.js";

const MODELS = ["llava-tiny", "llava-tiny-56"];

function firstBitDiff(a: Float32Array, b: Float32Array): number {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  if (x.length !== y.length) return Math.min(x.length, y.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

describeFixtures("weights: llava-tiny fixture checkpoints", (fixtures) => {
  for (const model of MODELS) {
    it(`${model}: f32, f16 (sharded) and bf16 hold bit-identical tensors`, () => {
      const [f32, f16, bf16] = ["model-f32", "model-f16", "model-bf16"].map((d) => Checkpoint.open(join(fixtures, model, d)));
      try {
        expect(f16.files.length).toBe(2);
        expect(f16.names()).toEqual(f32.names());
        expect(bf16.names()).toEqual(f32.names());
        expect(f32.names()).toContain("language_model.model.layers.0.self_attn.q_proj.weight");
        expect(f32.entry("language_model.model.embed_tokens.weight").shape).toEqual([32064, 64]);
        const index = JSON.parse(readFileSync(join(fixtures, model, "model-f16", "model.safetensors.index.json"), "utf8"));
        expect(f16.totalBytes()).toBe(index.metadata.total_size);
        expect(f32.totalBytes()).toBe(2 * f16.totalBytes());
        for (const name of f32.names()) {
          const ref = f32.readFloat32(name);
          expect([f32, f16, bf16].map((c) => c.entry(name).dtype)).toEqual(["F32", "F16", "BF16"]);
          expect(f16.entry(name).shape).toEqual(f32.entry(name).shape);
          expect(bf16.entry(name).shape).toEqual(f32.entry(name).shape);
          expect({ name, f16: firstBitDiff(f16.readFloat32(name), ref) }).toEqual({ name, f16: -1 });
          expect({ name, bf16: firstBitDiff(bf16.readFloat32(name), ref) }).toEqual({ name, bf16: -1 });
        }
      } finally {
        for (const c of [f32, f16, bf16]) c.close();
      }
    });
  }

  it("llava-tiny rewritten in the newer key layout reads back under canonical names", () => {
    const src = Checkpoint.open(join(fixtures, "llava-tiny", "model-bf16"));
    const dir = mkdtempSync(join(tmpdir(), "causalmm-newlayout-"));
    try {
      const tensors = src.names().map((name) => ({
        name: newLayoutName(name),
        dtype: "BF16" as const,
        shape: src.entry(name).shape,
        data: src.readFloat32(name),
      }));
      expect(tensors.some((t) => t.name === "lm_head.weight")).toBe(true);
      writeSafetensors(join(dir, "model.safetensors"), tensors, { format: "pt" });
      const ck = Checkpoint.open(dir);
      expect(ck.names()).toEqual(src.names());
      for (const name of src.names()) {
        expect(ck.entry(name).sourceName).toBe(newLayoutName(name));
        expect(firstBitDiff(ck.readFloat32(name), src.readFloat32(name))).toBe(-1);
      }
      ck.close();
    } finally {
      src.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
