// `replicate` resumes a run only when every setting that shaped it matches: a rerun with other
// questions, scene seed or model is refused naming the file, and a `--config`-restricted run leaves
// the other configs to be filled in by a later full run (on the lab model, a few questions per split).
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadLlava } from "../../src/api.js";
import { readRuns, runReplicate, type ReplicateOptions } from "../../src/lab/replicate.js";
import { runFile } from "../../src/lab/replicate-runs.js";
import { EMBEDDED_MODEL_DIR } from "../../src/paths.js";

describe("replicate resume is keyed by every setting", () => {
  const out = mkdtempSync(join(tmpdir(), "replicate-resume-"));
  let loads = 0;
  const base: ReplicateOptions = {
    models: [{ dir: EMBEDDED_MODEL_DIR, trainSeed: 0 }],
    decodeSeeds: [0],
    sceneSeed: 7,
    perSplit: 2,
    out,
    load: async (dir) => {
      loads++;
      return loadLlava(dir);
    },
  };
  const configsOnDisk = () => [...new Set(readRuns(out).map((r) => r.config))].sort();
  const file = runFile(out, 0, 0);

  it("a --config run does not make a later full run skip that seed; a finished run is not redone", async () => {
    await runReplicate({ ...base, only: ["greedy"] });
    expect(configsOnDisk()).toEqual(["greedy"]);
    const greedy = readRuns(out).filter((r) => r.config === "greedy");
    await runReplicate({ ...base, only: ["greedy", "no-image contrast"] });
    expect(configsOnDisk()).toEqual(["greedy", "no-image contrast"]);
    expect(readRuns(out).filter((r) => r.config === "greedy")).toEqual(greedy); // kept, not rerun
    const before = readFileSync(file, "utf8");
    const n = loads;
    await runReplicate({ ...base, only: ["no-image contrast"] });
    expect(loads).toBe(n); // nothing to do: the model is not even loaded
    expect(readFileSync(file, "utf8")).toBe(before);
    // a second decoding seed copies the deterministic configs from the first
    await runReplicate({ ...base, decodeSeeds: [0, 1], only: ["greedy"] });
    const copied = readRuns(out).filter((r) => r.config === "greedy" && r.decodeSeed === 1);
    expect(copied.length).toBe(3);
    expect(copied.every((r) => r.reused)).toBe(true);
    expect(copied.map((r) => r.codes)).toEqual(greedy.map((r) => r.codes));
  }, 300_000);

  it.each<[string, Partial<ReplicateOptions>, RegExp]>([
    ["--questions", { perSplit: 3 }, /--questions 2 there, 3 here/],
    ["--scene-seed", { sceneSeed: 8 }, /--scene-seed 7 there, 8 here/],
  ])("a rerun with another %s is refused naming the file", async (_flag, patch, msg) => {
    const before = readFileSync(file, "utf8");
    const err = await runReplicate({ ...base, ...patch, only: ["greedy"] }).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain(`${file}: made with other settings than this run`);
    expect(err.message).toMatch(msg);
    expect(readFileSync(file, "utf8")).toBe(before);
  });

  it("another model under the same training seed is refused; so is a run file without settings", async () => {
    const other = mkdtempSync(join(tmpdir(), "replicate-model-"));
    for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json", "preprocessor_config.json"])
      writeFileSync(join(other, f), readFileSync(join(EMBEDDED_MODEL_DIR, f)));
    const w = readFileSync(join(EMBEDDED_MODEL_DIR, "model.safetensors"));
    w[w.length - 1] ^= 1;
    writeFileSync(join(other, "model.safetensors"), w);
    await expect(runReplicate({ ...base, models: [{ dir: other, trainSeed: 0 }], only: ["greedy"] })).rejects.toThrow(
      /model weights \(fingerprint\) [0-9a-f]{16} there, [0-9a-f]{16} here/,
    );
    await expect(runReplicate({ ...base, only: ["nope"] })).rejects.toThrow(/unknown --config 'nope' \(valid: regular sampling; greedy;/);
    writeFileSync(file, JSON.stringify(readRuns(out)) + "\n"); // the old format: a bare list of records
    expect(() => readRuns(out)).toThrow(new RegExp(`^${file}: a replicate run written before runs recorded their settings`));
  });
});
