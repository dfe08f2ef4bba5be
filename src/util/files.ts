// Output paths that fail with a clear error instead of hanging. Node 20's `mkdirSync(p, {recursive: true})`
// never returns under /proc (mkdir there fails with ENOENT, which it takes for a missing parent and retries
// forever), and reading a character device such as /dev/full as a file never ends.
import { mkdirSync, statSync, type Stats } from "node:fs";
import { dirname, resolve } from "node:path";

/** An output path that cannot be used, named with the reason. */
export class OutputPathError extends Error {
  override name = "OutputPathError";
}

function statOrNull(p: string): Stats | null {
  try {
    return statSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    throw new OutputPathError(`${p}: cannot check this path (${code ?? (e as Error).message})`);
  }
}

function kindOf(s: Stats): string {
  if (s.isCharacterDevice()) return "a character device";
  if (s.isBlockDevice()) return "a block device";
  if (s.isFIFO()) return "a named pipe";
  if (s.isSocket()) return "a socket";
  return s.isDirectory() ? "a directory" : "not a regular file";
}

/**
 * Creates `dir` and its missing parents one at a time (at most one mkdir per path component), for
 * `what` (named in errors, e.g. "the answers file /x/y.jsonl").
 */
export function makeDirs(dir: string, what: string): void {
  const missing: string[] = [];
  let p = resolve(dir);
  for (;;) {
    const s = statOrNull(p);
    if (s) {
      if (!s.isDirectory()) throw new OutputPathError(`${p}: not a directory, so ${what} cannot be created under it`);
      break;
    }
    missing.unshift(p);
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === "EEXIST" && statOrNull(d)?.isDirectory()) continue;
      throw new OutputPathError(`cannot create directory ${d} for ${what} (${err.message})`);
    }
  }
}

/** Refuses an existing `path` that is not a regular file (a device, pipe, directory): `what` is read back and appended to. */
export function checkRegularFile(path: string, what: string): void {
  const s = statOrNull(path);
  if (s && !s.isFile()) throw new OutputPathError(`${path}: ${kindOf(s)}, not a regular file; ${what} must be a regular file`);
}

/** A write error wrapped with the file it was writing. */
export function writeError(path: string, e: unknown, after = ""): OutputPathError {
  const err = e as NodeJS.ErrnoException;
  const reason = err.code === "ENOSPC" ? "no space left on device (ENOSPC)" : `${err.code ? err.code + ": " : ""}${err.message}`;
  return new OutputPathError(`${path}: write failed: ${reason}${after}`);
}
