// The layering of src/ (docs/architecture.md): library folders never import cli/, and dependencies point
// down: model ← generate ← causal ← api ← tools (eval, introspect, lab) ← cli. Read from the import lines.
import { describe, expect, test } from "vitest";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, posix, relative, sep } from "node:path";
import { REPO_ROOT } from "../helpers/fixtures.js";

const SRC = join(REPO_ROOT, "src");

/** Each top-level folder (or root file) of src/ and its layer: a unit may import only units of its layer or below. */
const LAYER: Record<string, number> = {
  util: 0,
  text: 0,
  vision: 0,
  weights: 0,
  defaults: 0,
  paths: 0,
  "tf-setup": 0,
  model: 1,
  backend: 1,
  generate: 2,
  causal: 3,
  api: 4,
  "ask-inputs": 4,
  eval: 5,
  introspect: 5,
  lab: 5,
  index: 5,
  cli: 6,
};

/** Violations merged before this test could stop them, to be moved (then deleted here); none today. */
const KNOWN: string[] = [];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return name.endsWith(".ts") && !name.endsWith(".d.ts") ? [p] : [];
  });
}

/** `model/llama.ts` → "model", `api.ts` → "api". */
function unitOf(srcRelative: string): string {
  const first = srcRelative.split("/")[0];
  return first.replace(/\.(ts|js)$/, "");
}

/** Relative imports of a file (static, side-effect and dynamic), as src-relative paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specs = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}\/[^"']+)["']/g)].map((m) => m[1]);
  return specs.map((s) => posix.normalize(posix.join(relative(SRC, dirname(file)).split(sep).join("/"), s)));
}

interface Violation {
  file: string;
  imports: string;
  why: string;
}

/** Every import that breaks the layering, for the files of `files` (src-relative paths and their imports). */
function violations(files: { file: string; imports: string[] }[]): Violation[] {
  const out: Violation[] = [];
  for (const { file, imports } of files) {
    const from = unitOf(file);
    for (const target of imports) {
      const to = unitOf(target);
      if (to === from) continue;
      if (LAYER[from] === undefined || LAYER[to] === undefined) {
        out.push({ file, imports: target, why: `no layer for '${LAYER[from] === undefined ? from : to}' (add it to LAYER)` });
      } else if (to === "cli") out.push({ file, imports: target, why: "a library folder imports cli/" });
      else if (LAYER[to] > LAYER[from]) {
        out.push({ file, imports: target, why: `${from} (layer ${LAYER[from]}) imports ${to} (layer ${LAYER[to]})` });
      }
    }
  }
  return out;
}

describe("import structure of src/", () => {
  const files = sources(SRC).map((f) => ({ file: relative(SRC, f).split(sep).join("/"), imports: importsOf(f) }));

  test("the scan sees the tree", () => {
    expect(files.length).toBeGreaterThan(100);
    expect(files.find((f) => f.file === "api.ts")?.imports).toContain("model/load.js");
  });

  test("library folders never import cli/, and no folder imports a layer above its own", () => {
    const bad = violations(files).map((v) => `${v.file} → ${v.imports}: ${v.why}`);
    expect(bad.filter((b) => !KNOWN.includes(b))).toEqual([]);
    // a known one that is gone must leave this list, so the list only ever shrinks
    expect(KNOWN.filter((k) => !bad.includes(k))).toEqual([]);
  });

  test("the rule catches what it should", () => {
    const found = violations([
      { file: "eval/x.ts", imports: ["cli/args.js"] },
      { file: "model/x.ts", imports: ["generate/source.js"] },
      { file: "causal/x.ts", imports: ["api.js"] },
      { file: "cli/x.ts", imports: ["api.js", "eval/runner.js"] },
      { file: "generate/x.ts", imports: ["model/llava.js", "generate/y.js"] },
    ]);
    expect(found.map((v) => v.file)).toEqual(["eval/x.ts", "model/x.ts", "causal/x.ts"]);
  });
});
