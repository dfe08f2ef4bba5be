// The built CLI for child-process tests. Tests never rebuild dist/ in place: other test files run the
// same dist/ at the same time, and tsc rewrites files non-atomically (a reader saw a half-written
// module). When dist/ is older than src/, the CLI is built into a private folder under .tmp/ instead.
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./fixtures.js";
import { runNode } from "./run.js";

/** Newest mtime under a folder (the sources the CLI is built from). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

export interface BuiltCli {
  /** Path of cli/main.js to run with node. */
  main: string;
  /** Removes the private build, if one was made. */
  cleanup(): void;
}

/** dist/ when it is up to date, else a fresh build into .tmp/ (tsc emits even with type errors elsewhere). */
export async function builtCli(tag: string): Promise<BuiltCli> {
  const dist = join(REPO_ROOT, "dist", "src");
  const probe = join(dist, "cli", "main.js");
  if (existsSync(probe) && statSync(probe).mtimeMs >= newest(join(REPO_ROOT, "src"))) return { main: probe, cleanup: () => {} };
  const out = join(REPO_ROOT, ".tmp", `${tag}-cli-${process.pid}`);
  const tsc = join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");
  const r = await runNode([tsc, "-p", join(REPO_ROOT, "tsconfig.json"), "--outDir", out]);
  const main = join(out, "src", "cli", "main.js");
  if (!existsSync(main)) throw new Error(`could not build the CLI into ${out}:\n${r.stdout}${r.stderr}`);
  return { main, cleanup: () => rmSync(out, { recursive: true, force: true }) };
}
