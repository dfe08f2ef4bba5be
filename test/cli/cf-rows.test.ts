// The memory plan provisions one batch row and KV cache per CausalMM branch, counted from the --cf flags
// (cli/residency.ts) before any config is read; these counts must be the branches causal/presets.ts then
// builds, or the plan is wrong about exactly the runs that need the most memory.
import { describe, expect, test } from "vitest";
import { cfBranchCount } from "../../src/cli/residency.js";
import { buildPlan } from "../../src/causal/presets.js";
import { parseLlavaConfig } from "../../src/model/config.js";
import { tinyConfigJson } from "../../src/lab/random-model.js";

const cfg = parseLlavaConfig(tinyConfigJson({ imageSize: 28, visionLayers: 3, textLayers: 4, textHeads: 4, kvHeads: 2, seed: 3 }));

/** Rows beyond the factual one, and how many of them encode an edited image. */
function fromPlan(cf: string[], draws: number): { rows: number; images: number } {
  const plan = buildPlan({ cf, draws }, cfg);
  const edited = plan.branches.slice(1).filter((b) => b.vision !== null && (b.vision.kind !== "clip" || b.vision.interventions.length > 0));
  return { rows: plan.branches.length - 1, images: edited.length };
}

const CASES: string[][] = [
  ["both"],
  ["vision:uniform@sel"],
  ["text:reversed@all"],
  ["vision:shuffle@0", "text:uniform@last"],
  ["vision:uniform@1+text:reversed@2"],
  ["both:shuffle", "vision:random@0,1"],
  ["both:random"],
  ["vision:random@1", "text:reversed@2:h1"],
  ["text:random@1-3", "vision:uniform@1", "vision:shuffle@0:s4"],
  ["vision:uniform@0+text:random@1"],
];

describe("--cf rows in the memory plan agree with the branches the decoding plan builds", () => {
  for (const cf of CASES)
    for (const draws of [1, 3])
      test(`--cf ${cf.join(" --cf ")} --draws ${draws}`, () => {
        expect(cfBranchCount(cf, draws)).toEqual(fromPlan(cf, draws));
      });
});

describe("a baseline or the official preset is one more row (residencyRequest's extra row)", () => {
  for (const o of [{ baseline: "vcd" }, { baseline: "noimage" }, { baseline: "icd" }, { baseline: "pai" }, { preset: "official" }] as const)
    test(JSON.stringify(o), () => {
      expect(buildPlan(o, cfg).branches.length).toBe(2);
    });
});
