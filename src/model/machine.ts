// How much memory this process may use: the machine's (os.totalmem / os.freemem, which is Linux's
// MemAvailable) or a cgroup's limit when the process runs in one (containers, CI runners).
import { readFileSync } from "node:fs";
import { freemem, totalmem } from "node:os";

export interface MachineMemory {
  totalBytes: number;
  /** Memory other processes leave free now. */
  availableBytes: number;
  /** This process's resident memory now (counted in a plan's peak, so not in `availableBytes`). */
  processBytes: number;
  /** Where the limit comes from. */
  source: string;
}

function readNumber(path: string): number | null {
  try {
    const v = readFileSync(path, "utf8").trim();
    const n = Number(v);
    return v === "max" || !Number.isFinite(n) ? null : n;
  } catch {
    return null;
  }
}

/** cgroup v2 (memory.max / memory.current) or v1 (memory.limit_in_bytes / memory.usage_in_bytes). */
function cgroupLimit(): { limit: number; used: number } | null {
  for (const [max, cur] of [
    ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"],
    ["/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"],
  ]) {
    const limit = readNumber(max);
    // v1 reports "no limit" as a huge number
    if (limit !== null && limit < 2 ** 60) return { limit, used: readNumber(cur) ?? 0 };
  }
  return null;
}

export function machineMemory(): MachineMemory {
  const processBytes = process.memoryUsage().rss;
  const total = totalmem();
  const free = freemem();
  const cg = cgroupLimit();
  if (cg && cg.limit < total) {
    return {
      totalBytes: cg.limit,
      availableBytes: Math.min(free, Math.max(0, cg.limit - cg.used)),
      processBytes,
      source: "cgroup memory limit",
    };
  }
  return { totalBytes: total, availableBytes: free, processBytes, source: "os.freemem" };
}
