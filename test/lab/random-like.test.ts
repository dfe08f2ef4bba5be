// `causalmm lab random --like llava-1.5-7b`: the layout matches what transformers' save_pretrained
// writes (checked against the fixture checkpoints, which real transformers v4.40.2 saved), the full
// 7B layout has the published parameter count and shard sizes, and a generated real-width model with
// one layer per tower is accepted by the project's loader, config parser and tokenizer.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runNode } from "../helpers/run.js";
import { describeFixtures, REPO_ROOT } from "../helpers/fixtures.js";
import { likeConfig, llavaLayout, shardOf } from "../../src/lab/llava-like.js";
import { RandomBits } from "../../src/lab/random-bits.js";
import { Checkpoint } from "../../src/weights/checkpoint.js";
import { readSafetensorsHeader } from "../../src/weights/safetensors.js";
import { f16ToF32, bf16ToF32 } from "../../src/weights/dtype.js";
import { loadLlavaConfig } from "../../src/model/config.js";
import { llavaParams, UNUSED_TENSORS } from "../../src/model/llava.js";
import { checkpointSource } from "../../src/model/load.js";
import { checkPlan, ParamPlanner } from "../../src/weights/params.js";
import { Tokenizer } from "../../src/text/index.js";

const pattern = (name: string) => name.replace(/\.\d+\./, ".N.");
const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

describeFixtures("llava layout against transformers' save_pretrained", (fixtures) => {
  for (const model of ["llava-tiny", "llava-tiny-56"]) {
    test(`${model}: same tensor names and shapes as the fixture checkpoint`, () => {
      const dir = join(fixtures, model, "model-f16");
      const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
      const index = JSON.parse(readFileSync(join(dir, "model.safetensors.index.json"), "utf8"));
      const real = new Map<string, number[]>();
      for (const f of new Set<string>(Object.values(index.weight_map))) {
        for (const e of readSafetensorsHeader(join(dir, f)).entries) real.set(e.sourceName, e.shape);
      }
      const mine = llavaLayout(cfg);
      expect(mine.map((t) => t.name).sort()).toEqual([...real.keys()].sort());
      for (const t of mine) expect(t.shape, t.name).toEqual(real.get(t.name));
      // save_pretrained shards in state_dict order: the last tensor (lm_head) alone in the second shard.
      expect(index.weight_map[mine[mine.length - 1].name]).toBe("model-00002-of-00002.safetensors");
    });
  }

  test("llava-1.5-7b: the fixture's name patterns, 686 tensors, 7.06 B parameters, published shard sizes", () => {
    const tiny = JSON.parse(readFileSync(join(fixtures, "llava-tiny", "model-f16", "model.safetensors.index.json"), "utf8"));
    const layout = llavaLayout(likeConfig("llava-1.5-7b"));
    expect(new Set(layout.map((t) => pattern(t.name)))).toEqual(new Set(Object.keys(tiny.weight_map).map(pattern)));
    expect(layout.length).toBe(24 * 16 + 7 + 4 + 32 * 9 + 3);
    const params = layout.reduce((a, t) => a + numel(t.shape), 0);
    expect(params).toBe(7_063_427_072);
    const bytes = layout.map((t) => numel(t.shape) * 2);
    const shard = shardOf(bytes);
    const sizes = [0, 0, 0];
    shard.forEach((s, i) => (sizes[s] += bytes[i]));
    expect(shard[shard.length - 1]).toBe(2);
    // huggingface.co lists model-0000{1,2,3}-of-00003.safetensors as 4.99, 4.96 and 4.18 GB.
    expect(sizes.map((b) => Math.round(b / 1e7) / 100)).toEqual([4.99, 4.96, 4.18]);
  });
});

describe("shardOf", () => {
  test("a requested shard count the 5 GB rule does not give: contiguous runs, none empty", () => {
    const bytes = [5, 1, 1, 1, 100, 1, 1, 1];
    for (const n of [1, 2, 3, 5, 8]) {
      const s = shardOf(bytes, n);
      expect(s[0]).toBe(0);
      expect(s[s.length - 1]).toBe(n - 1);
      for (let i = 1; i < s.length; i++) expect([0, 1]).toContain(s[i] - s[i - 1]);
    }
    expect(() => shardOf(bytes, 9)).toThrow(/only 8 tensors/);
  });
});

describe("RandomBits", () => {
  const stats = (v: Float32Array) => {
    let s = 0,
      s2 = 0,
      finite = true;
    for (const x of v) {
      s += x;
      s2 += x * x;
      finite &&= Number.isFinite(x) && x !== 0;
    }
    return { mean: s / v.length, std: Math.sqrt(s2 / v.length), finite };
  };
  test.each(["F16", "BF16", "F32"] as const)("%s: zero mean, the asked scale within √2, no zeros or infinities", (dtype) => {
    const words = new Uint32Array(1 << 16);
    new RandomBits([1, "t"]).fill(words, dtype, 0.01);
    let v: Float32Array;
    if (dtype === "F32") v = new Float32Array(words.buffer);
    else {
      v = new Float32Array(words.length * 2);
      (dtype === "F16" ? f16ToF32 : bf16ToF32)(new Uint16Array(words.buffer), v);
    }
    const { mean, std, finite } = stats(v);
    expect(finite).toBe(true);
    expect(Math.abs(mean)).toBeLessThan(std / 50);
    expect(std / 0.01).toBeGreaterThan(Math.SQRT1_2);
    expect(std / 0.01).toBeLessThan(Math.SQRT2);
  });
  test("deterministic in the key, and chunked filling continues the same stream", () => {
    const whole = new Uint32Array(1000);
    new RandomBits([0, "a"]).fill(whole, "F16", 1);
    const parts = new Uint32Array(1000);
    const r = new RandomBits([0, "a"]);
    r.fill(parts.subarray(0, 333), "F16", 1);
    r.fill(parts.subarray(333), "F16", 1);
    expect(parts).toEqual(whole);
    const other = new Uint32Array(1000);
    new RandomBits([0, "b"]).fill(other, "F16", 1);
    expect(other).not.toEqual(whole);
  });
});

describeFixtures("causalmm lab random --like llava-1.5-7b (1 text + 1 vision layer, real widths)", (fixtures) => {
  const out = join(mkdtempSync(join(tmpdir(), "like-7b-")), "model");
  const args = [
    "lab",
    "random",
    "--like",
    "llava-1.5-7b",
    "--text-layers",
    "1",
    "--vision-layers",
    "1",
    "--shards",
    "3",
    "--tokenizer",
    join(fixtures, "tokenizer"),
    "--out",
    out,
  ];
  let stdout = "";
  beforeAll(async () => {
    const r = await runNode([join(REPO_ROOT, "dist", "src", "cli", "main.js"), ...args], { cwd: REPO_ROOT, timeout: 300_000 });
    expect(r.status, r.stderr).toBe(0);
    stdout = r.stdout;
  }, 300_000);
  afterAll(() => rmSync(join(out, ".."), { recursive: true, force: true }));

  test("three F16 shards, an index covering every tensor, the llava-hf sidecar files", () => {
    const summary = JSON.parse(stdout);
    expect(summary.files.map((f: { file: string }) => f.file)).toEqual([1, 2, 3].map((i) => `model-0000${i}-of-00003.safetensors`));
    const index = JSON.parse(readFileSync(join(out, "model.safetensors.index.json"), "utf8"));
    const layout = llavaLayout(likeConfig("llava-1.5-7b", { textLayers: 1, visionLayers: 1 }));
    expect(Object.keys(index.weight_map).sort()).toEqual(layout.map((t) => t.name).sort());
    expect(index.metadata.total_size).toBe(layout.reduce((a, t) => a + numel(t.shape) * 2, 0));
    for (const f of new Set<string>(Object.values(index.weight_map))) {
      const h = readSafetensorsHeader(join(out, f));
      expect(h.entries.every((e) => e.dtype === "F16" && index.weight_map[e.sourceName] === f)).toBe(true);
      expect(h.metadata.format).toBe("pt");
    }
    for (const f of [
      "config.json",
      "generation_config.json",
      "preprocessor_config.json",
      "tokenizer.json",
      "tokenizer_config.json",
      "README.md",
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
  });

  test("the project reads it: config with real widths, the loader's plan, tokenizer with <image>, sane values", async () => {
    const cfg = loadLlavaConfig(out);
    expect([cfg.text.hiddenSize, cfg.text.intermediateSize, cfg.text.numHeads, cfg.text.numLayers, cfg.text.vocabSize]).toEqual([
      4096, 11008, 32, 1, 32064,
    ]);
    expect([cfg.vision.hiddenSize, cfg.vision.numLayers, cfg.vision.imageSize, cfg.imageTokenIndex]).toEqual([1024, 1, 336, 32000]);
    const ckpt = Checkpoint.open(out);
    try {
      const planner = new ParamPlanner();
      llavaParams(cfg, planner);
      checkPlan(planner.wanted, checkpointSource(ckpt), UNUSED_TENSORS);
      const w = ckpt.readFloat32("language_model.model.layers.0.mlp.down_proj.weight");
      const std = Math.sqrt(w.reduce((a, x) => a + x * x, 0) / w.length);
      expect(std * Math.sqrt(11008)).toBeGreaterThan(Math.SQRT1_2);
      expect(std * Math.sqrt(11008)).toBeLessThan(Math.SQRT2);
      const norm = ckpt.readFloat32("language_model.model.norm.weight");
      expect(Math.abs(norm.reduce((a, x) => a + x, 0) / norm.length - 1)).toBeLessThan(0.02);
    } finally {
      ckpt.close();
    }
    const tok = await Tokenizer.fromDir(out, { imageTokenId: cfg.imageTokenIndex });
    expect(tok.encode("<image>\nHi").includes(32000)).toBe(true);
  });

  test("a second run into the same directory is refused and leaves the model as it was", async () => {
    const before = statSync(join(out, "model-00001-of-00003.safetensors")).mtimeMs;
    const r = await runNode([join(REPO_ROOT, "dist", "src", "cli", "main.js"), ...args], { cwd: REPO_ROOT, timeout: 60_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/already holds a model.*--overwrite/);
    expect(statSync(join(out, "model-00001-of-00003.safetensors")).mtimeMs).toBe(before);
  });
});
