// `causalmm inspect` as a user runs it: the built CLI on a fixture model writes .npy tensors that match
// the HF goldens, prints the greedy tokens, and reports bad input as one line with a non-zero exit.
import { describe, expect, test } from "vitest";
import { runNode } from "../helpers/run.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeFixtures, REPO_ROOT } from "../helpers/fixtures.js";
import { golden, maxAbsDiff } from "../helpers/compare.js";
import { readNpy, writeNpy } from "../../src/weights/npy.js";

const CLI = join(REPO_ROOT, "dist", "src", "cli", "main.js");
const inspect = (args: string[]) => runNode([CLI, "inspect", ...args]);

describeFixtures("causalmm inspect (built CLI)", (fixtures) => {
  const base = join(fixtures, "llava-tiny-56");
  const g = join(base, "golden");

  test("writes the requested tensors and greedy tokens", async () => {
    const out = mkdtempSync(join(tmpdir(), "inspect-"));
    const r = await inspect([
      "--model",
      join(base, "model-f16"),
      "--input-ids",
      join(g, "input_ids.npy"),
      "--pixel-values",
      join(g, "pixel_values.npy"),
      "--out",
      out,
      "--tensors",
      "vision.attn.1,image_features,text.hidden.2,logits",
      "--greedy",
      "10",
      "--backend",
      "wasm",
    ]);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split("\n").pop()!);
    expect(summary.greedy[0]).toEqual(Array.from(golden(g, "generated_ids").data.slice(20)));
    expect(maxAbsDiff(readNpy(join(out, "vision.attn.1.npy")).data, golden(g, "vision_attn_l1").data)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(readNpy(join(out, "image_features.npy")).data, golden(g, "image_features").data)).toBeLessThanOrEqual(1e-4);
    expect(maxAbsDiff(readNpy(join(out, "logits.npy")).data, golden(g, "logits_full").data)).toBeLessThanOrEqual(1e-4);
    expect(readNpy(join(out, "logits.npy")).shape).toEqual([1, 35, 32064]);
  });

  const contrastTest =
    "contrastive greedy decoding on raw ids: tokens, factual and counterfactual logits per step match the HF goldens, " +
    "scores are the contrast of them";
  test(contrastTest, async () => {
    const out = mkdtempSync(join(tmpdir(), "inspect-cf-"));
    const c = join(base, "causal");
    const r = await inspect([
      "--model",
      join(base, "model-f32"),
      "--input-ids",
      join(g, "input_ids.npy"),
      "--pixel-values",
      join(g, "pixel_values.npy"),
      "--cf",
      "text:uniform@0",
      "--gamma",
      "1",
      "--epsilon",
      "0.1",
      "--greedy",
      "8",
      "--out",
      out,
      "--tensors",
      "factual.logits,cf.logits,contrast.scores",
      "--backend",
      "cpu",
    ]);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split("\n").pop()!);
    expect(summary.greedy[0]).toEqual(Array.from(golden(c, "cd_text_uniform_l0.tokens").data));
    expect(summary.plan.branches).toEqual(["factual", "text:uniform@0:s0"]);
    const f = readNpy(join(out, "factual.logits.npy"));
    const cf = readNpy(join(out, "cf.logits.npy"));
    const s = readNpy(join(out, "contrast.scores.npy"));
    const V = 32064;
    expect(f.shape).toEqual([8, 1, V]);
    expect(cf.shape).toEqual([8, 1, 1, V]);
    expect(maxAbsDiff(f.data, golden(c, "cd_text_uniform_l0.factual_logits").data)).toBeLessThanOrEqual(1e-4);
    expect(maxAbsDiff(cf.data, golden(c, "cd_text_uniform_l0.cf_logits").data)).toBeLessThanOrEqual(1e-4);
    // s = (1+γ)ℓ − γℓ_cf = 2ℓ − ℓ_cf, −∞ where ℓ < log 0.1 + max ℓ (in float32, as the reference)
    for (let step = 0; step < 8; step++) {
      const l = f.data.subarray(step * V, (step + 1) * V) as Float32Array;
      const lc = cf.data.subarray(step * V, (step + 1) * V) as Float32Array;
      const cut = Math.fround(Math.fround(Math.log(0.1)) + Math.max(...l));
      for (let k = 0; k < V; k++) {
        const got = s.data[step * V + k];
        if (l[k] < cut) expect(got).toBe(-Infinity);
        else expect(Math.abs(got - (2 * l[k] - lc[k]))).toBeLessThan(1e-5);
      }
    }
  });

  test("--baseline pai: the text-only branch is the plain model on the ids without the image; the amplified branch differs", async () => {
    const out = mkdtempSync(join(tmpdir(), "inspect-pai-"));
    const model = ["--model", join(base, "model-f32"), "--backend", "cpu"];
    const r = await inspect([
      ...model,
      "--input-ids",
      join(g, "input_ids.npy"),
      "--pixel-values",
      join(g, "pixel_values.npy"),
      "--baseline",
      "pai",
      "--pai-start-layer",
      "0",
      "--greedy",
      "2",
      "--out",
      out,
      "--tensors",
      "factual.logits,cf.logits,logits",
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split("\n").pop()!).plan.branches).toEqual(["pai-amplified", "pai-text-only"]);
    const ids = Array.from(golden(g, "input_ids").data).filter((t) => t !== 32000);
    const idsFile = join(out, "noimage.npy");
    writeNpy(idsFile, [ids.length], Int32Array.from(ids));
    const plainDir = join(out, "plain");
    const p = await inspect([...model, "--input-ids", idsFile, "--out", plainDir, "--tensors", "logits"]);
    expect(p.status, p.stderr).toBe(0);
    const V = 32064;
    const plain = readNpy(join(plainDir, "logits.npy")).data;
    const lastPlain = plain.subarray((ids.length - 1) * V, ids.length * V);
    expect(maxAbsDiff(readNpy(join(out, "cf.logits.npy")).data.subarray(0, V), lastPlain)).toBeLessThan(1e-5);
    const unamplified = readNpy(join(out, "logits.npy")).data; // the plain factual forward [1,35,V]
    expect(maxAbsDiff(readNpy(join(out, "factual.logits.npy")).data.subarray(0, V), unamplified.subarray(34 * V, 35 * V))).toBeGreaterThan(
      1e-3,
    );
  });

  test("bad input: one clear line naming the problem, non-zero exit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "inspect-bad-"));
    const badIds = join(dir, "ids.npy");
    writeFileSync(badIds, "not a npy file");
    const cases: [string[], RegExp][] = [
      [["--model", join(base, "model-f32"), "--input-ids", badIds], /ids\.npy: not a \.npy file/],
      [["--model", join(dir, "nope"), "--input-ids", join(g, "input_ids.npy")], /nope.*config\.json: cannot read/],
      [
        ["--model", join(base, "model-f32"), "--input-ids", join(g, "input_ids.npy"), "--out", dir, "--tensors", "text.attn.7"],
        /index 7 out of range \(0\.\.1\)/,
      ],
      [
        ["--model", join(base, "model-f32"), "--input-ids", join(g, "input_ids.npy"), "--out", dir, "--tensors", "vision.attn.0"],
        /<image> tokens but no image was given/,
      ],
      [
        ["--model", join(base, "model-f32"), "--input-ids", join(g, "input_ids.npy"), "--out", dir, "--tensors", "cf.logits"],
        /cf\.logits need contrastive decoding \(--cf/,
      ],
      [
        [
          "--model",
          join(base, "model-f32"),
          "--input-ids",
          join(g, "input_ids.npy"),
          "--pixel-values",
          join(g, "pixel_values.npy"),
          "--baseline",
          "icd",
          "--greedy",
          "1",
        ],
        /prompt 'icd': give its ids \(inspect: --prompt-ids icd=FILE\.npy\)/,
      ],
    ];
    for (const [args, re] of cases) {
      const r = await inspect([...args, "--backend", "cpu"]);
      expect(r.status).not.toBe(0);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    }
  });
});

describe("causalmm --help", () => {
  test("lists the commands", async () => {
    const r = await runNode([CLI, "--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/inspect/);
  });
});
