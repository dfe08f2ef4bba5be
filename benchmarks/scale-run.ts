// A child process timed from outside: wall seconds and peak RSS (GNU time's %M, the kernel's maximum
// resident set of the process tree's largest member), stdout and stderr kept.
import { spawn } from "node:child_process";

export interface Timed {
  status: number | null;
  seconds: number;
  peakKiB?: number;
  stdout: string;
  stderr: string;
}

const MARK = "__scale_time__";

/** Runs `cmd` (niced) under /usr/bin/time; the marker line is removed from stderr. */
export function runTimed(cmd: string[]): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn("nice", ["-n", "5", "/usr/bin/time", "-f", `${MARK} %M`, ...cmd], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      process.stderr.write(d);
    });
    child.on("error", reject);
    child.on("close", (status) => {
      const m = new RegExp(`${MARK} (\\d+)`).exec(stderr);
      const cleaned = stderr.replace(new RegExp(`.*${MARK}.*\\n?`), "").replace(/Command exited with non-zero status \d+\n?/, "");
      resolve({ status, seconds: (performance.now() - t0) / 1000, peakKiB: m ? Number(m[1]) : undefined, stdout, stderr: cleaned });
    });
  });
}
