// Locates ../shared/fixtures (or $CAUSALMM_FIXTURES). Under CI=true a missing fixture tree is a
// failure; elsewhere the suites that need it are skipped with a printed reason.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe } from "vitest";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export function fixturesDir(): string | null {
  const candidates = [process.env.CAUSALMM_FIXTURES, join(repoRoot, "..", "shared", "fixtures")];
  for (const c of candidates) if (c && existsSync(join(c, "README.md"))) return resolve(c);
  return null;
}

const FIXTURES = fixturesDir();

/** `describe` that needs the shared fixtures: fails under CI when they are missing, skips elsewhere. */
export function describeFixtures(name: string, body: (dir: string) => void): void {
  if (FIXTURES) {
    describe(name, () => body(FIXTURES));
    return;
  }
  if (process.env.CI === "true") {
    describe(name, () => {
      throw new Error(`shared fixtures not found (looked in $CAUSALMM_FIXTURES and ${join(repoRoot, "..", "shared", "fixtures")})`);
    });
    return;
  }
  console.warn(`[skip] ${name}: shared fixtures not found; set CAUSALMM_FIXTURES or place them at ../shared/fixtures`);
  describe.skip(name, () => body(""));
}

export const REPO_ROOT = repoRoot;
