// docs/architecture.md matches the code: every repository path it names exists, the walk from
// `causalmm ask --cf both` to the replaced P fits on a screen and names each file once, and the lines
// it points at are where it says.
import { describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/fixtures.js";

const doc = readFileSync(join(REPO_ROOT, "docs", "architecture.md"), "utf8");
const src = (p: string) => readFileSync(join(REPO_ROOT, p), "utf8");
/** Backticked repository paths (`src/…`, `test/…`, …), with a trailing `/` for folders. */
const pathsIn = (text: string) => [...text.matchAll(/`((?:src|test|benchmarks|docs|weights)\/[A-Za-z0-9_./-]*)`/g)].map((m) => m[1]);

describe("docs/architecture.md", () => {
  it("names only paths that exist", () => {
    const missing = [...new Set(pathsIn(doc))].filter((p) => !existsSync(join(REPO_ROOT, p)));
    expect(missing).toEqual([]);
  });

  const walk = doc.slice(doc.indexOf("## From `causalmm ask --cf both`"), doc.indexOf("\n## ", doc.indexOf("## From `causalmm ask") + 3));

  it("walks from `causalmm ask --cf both` to P in at most a screen, each file named once", () => {
    expect(walk.length).toBeGreaterThan(0);
    expect(walk.trim().split("\n").length).toBeLessThanOrEqual(40);
    const files = pathsIn(walk);
    expect(files.length).toBeGreaterThan(15);
    expect(files.filter((f, i) => files.indexOf(f) !== i)).toEqual([]);
  });

  it("points at the code as it is", () => {
    expect(walk).toContain("probs = hook(probs, site) ?? probs");
    expect(src("src/model/attention.ts")).toContain("if (hook) probs = hook(probs, site) ?? probs; // ← the intervention point");
    expect(src("src/model/clip.ts")).toMatch(/function clipLayer\([^)]*ctx: LayerContext\)[\s\S]*attention\(\{/);
    expect(src("src/model/llama.ts")).toMatch(/function llamaLayer\([^)]*ctx: LayerContext\)[\s\S]*attention\(\{/);
    expect(src("src/causal/images.ts")).toMatch(/model\.visionStates\([\s\S]*model\.encodeImages\(/);
    expect(src("src/causal/images.ts")).not.toMatch(/clipForward/);
    expect(src("src/causal/counterfactual.ts")).toMatch(/export function makeInterventionHook/);
    expect(src("src/causal/decoding.ts")).toMatch(/export function decodingSource/);
    expect(src("src/cli/ask-flags.ts")).toMatch(/name: "cf"/);
    // the attention file is the eager recipe and nothing else: no product strategy, no switch
    expect(src("src/model/attention.ts")).not.toMatch(/headMatMul|setPerHeadMatMul|getBackend|let \w+Mode/);
  });
});
