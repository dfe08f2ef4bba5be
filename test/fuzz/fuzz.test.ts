// The CI slice of the fault campaign: a few hundred seeded mutations of every loader input, each run
// in a worker with a time and memory budget. No case may crash with a stack, hang, allocate past its
// budget or fail with a message that does not name the file. The long run is `npm run fuzz`
// (docs/reliability.md). Uses the compiled harness in dist/ (workers need JavaScript): `npm test`
// builds it; for a targeted run, `npx tsc -p tsconfig.json` first.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { describeFixtures, REPO_ROOT } from "../helpers/fixtures.js";

const HARNESS = join(REPO_ROOT, "dist", "test", "fuzz", "lib", "campaign.js");
const SEED = Number(process.env.CAUSALMM_FUZZ_SEED ?? 13);

/** Cases per target: the tokenizer costs ~1 s a case (a 1.8 MB tokenizer.json built each time). */
const CASES: Record<string, number> = {
  "safetensors-header": 100,
  "safetensors-data": 40,
  "config.json": 100,
  "preprocessor_config.json": 100,
  "tokenizer.json": 30,
  image: 100,
  "pope-questions": 100,
  "mme-questions": 100,
};

describeFixtures(`fuzz campaign, seed ${SEED}`, (fixtures) => {
  for (const [target, cases] of Object.entries(CASES)) {
    it(`${target}: ${cases} mutated inputs, all refused clearly or accepted`, async () => {
      if (!existsSync(HARNESS)) throw new Error(`${HARNESS} is missing: build first (npx tsc -p tsconfig.json)`);
      const { runCampaign, FAILURE_CLASSES, replayCommand } = (await import(HARNESS)) as typeof import("./lib/campaign.js");
      const rep = await runCampaign({ seed: SEED, cases, fixtures, targets: [target] });
      const bad = rep.results
        .filter((r) => FAILURE_CLASSES.includes(r.cls))
        .map((r) => `[${r.cls}] ${r.what}: ${r.message ?? ""}\n  ${replayCommand(SEED, r)}`);
      expect(bad).toEqual([]);
      expect(rep.cases).toBe(cases);
      // Each target must exercise both outcomes where both exist: refusals, and (data flips) acceptance.
      const t = rep.tally[target];
      if (target === "safetensors-data") expect(t.accepted).toBe(cases);
      else expect(t.clear).toBeGreaterThan(0);
    });
  }
});
