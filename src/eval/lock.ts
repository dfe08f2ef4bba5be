// A lock file beside the answers file, so two runs pointed at the same file by mistake cannot interleave
// lines. A lock left by a killed run (its pid is gone) is taken over.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { EvalFileError } from "./jsonl.js";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Take `<path>.lock`; returns the release function. */
export function acquireLock(path: string): () => void {
  const lock = `${path}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          unlinkSync(lock);
        } catch {
          /* already gone */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = Number(readFileSafe(lock));
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new EvalFileError(`${path}: another run (pid ${pid}) is writing this answers file (lock ${lock})`);
      }
      // Stale lock from a killed run: remove and retry once.
      try {
        unlinkSync(lock);
      } catch {
        /* raced with someone else */
      }
    }
  }
  throw new EvalFileError(`${path}: could not take the lock ${lock}`);
}

function readFileSafe(p: string): string {
  try {
    return readFileSync(p, "utf8").trim();
  } catch {
    return "";
  }
}
