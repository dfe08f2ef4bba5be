// Locations inside the installed package (works from src/ under vitest and from dist/src/ after build).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, "package.json"))) return dir;
    dir = resolve(dir, "..");
  }
  throw new Error("causalmm: cannot locate package.json above " + fileURLToPath(import.meta.url));
}

export const PACKAGE_ROOT = findPackageRoot();

export const PACKAGE_VERSION: string = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")).version;

/** The embedded default model shipped in weights/. */
export const EMBEDDED_MODEL_DIR = join(PACKAGE_ROOT, "weights", "llava-lab");

/** `--model` if given, else the embedded model; a clear error when neither exists. */
export function resolveModelDir(given: string | undefined): string {
  if (given) return given;
  if (existsSync(join(EMBEDDED_MODEL_DIR, "config.json"))) return EMBEDDED_MODEL_DIR;
  throw new Error(`no --model given and the embedded model (${EMBEDDED_MODEL_DIR}) is not present`);
}

/** A llava-1.5 tokenizer directory from the shared test fixtures, if present ($CAUSALMM_FIXTURES or ../shared/fixtures). */
export function defaultTokenizerDir(): string | undefined {
  const roots = [process.env.CAUSALMM_FIXTURES, join(PACKAGE_ROOT, "..", "shared", "fixtures")];
  for (const r of roots) if (r && existsSync(join(r, "tokenizer", "tokenizer.json"))) return resolve(r, "tokenizer");
  return undefined;
}
