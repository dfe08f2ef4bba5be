// `causalmm inspect` as a user runs it: the built CLI on a fixture model writes .npy tensors that match
// the HF goldens, prints the greedy tokens, and reports bad input as one line with a non-zero exit.
import { describe, expect, test } from "vitest";
import { runNode } from "../helpers/run.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeFixtures, REPO_ROOT } from "../helpers/fixtures.js";
import { golden, maxAbsDiff } from "../helpers/compare.js";
import { readNpy } from "../../src/weights/npy.js";

const CLI = join(REPO_ROOT, "dist", "src", "cli", "main.js");
const inspect = (args: string[]) => runNode([CLI, "inspect", ...args]);

describeFixtures("causalmm inspect (built CLI)", (fixtures) => {
  const base = join(fixtures, "llava-tiny-56");
  const g = join(base, "golden");

  test("writes the requested tensors and greedy tokens", async () => {
    const out = mkdtempSync(join(tmpdir(), "inspect-"));
    const r = await inspect(["--model", join(base, "model-f16"), "--input-ids", join(g, "input_ids.npy"), "--pixel-values", join(g, "pixel_values.npy"), "--out", out, "--tensors", "vision.attn.1,image_features,text.hidden.2,logits", "--greedy", "10", "--backend", "wasm"]);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split("\n").pop()!);
    expect(summary.greedy[0]).toEqual(Array.from(golden(g, "generated_ids").data.slice(20)));
    expect(maxAbsDiff(readNpy(join(out, "vision.attn.1.npy")).data, golden(g, "vision_attn_l1").data)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(readNpy(join(out, "image_features.npy")).data, golden(g, "image_features").data)).toBeLessThanOrEqual(1e-4);
    expect(maxAbsDiff(readNpy(join(out, "logits.npy")).data, golden(g, "logits_full").data)).toBeLessThanOrEqual(1e-4);
    expect(readNpy(join(out, "logits.npy")).shape).toEqual([1, 35, 32064]);
  });

  test("bad input: one clear line naming the problem, non-zero exit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "inspect-bad-"));
    const badIds = join(dir, "ids.npy");
    writeFileSync(badIds, "not a npy file");
    const cases: [string[], RegExp][] = [
      [["--model", join(base, "model-f32"), "--input-ids", badIds], /ids\.npy: not a \.npy file/],
      [["--model", join(dir, "nope"), "--input-ids", join(g, "input_ids.npy")], /nope.*config\.json: cannot read/],
      [["--model", join(base, "model-f32"), "--input-ids", join(g, "input_ids.npy"), "--out", dir, "--tensors", "text.attn.7"], /index 7 out of range \(0\.\.1\)/],
      [["--model", join(base, "model-f32"), "--input-ids", join(g, "input_ids.npy"), "--out", dir, "--tensors", "vision.attn.0"], /<image> tokens but no image was given/],
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
