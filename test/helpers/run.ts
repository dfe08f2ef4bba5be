// Child processes for tests, without blocking the worker: a synchronous spawn that runs for a minute
// starves vitest's worker RPC (its 60 s timeout then fails the whole run), so tests await this instead.
import { spawn, type SpawnOptions } from "node:child_process";

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: SpawnOptions & { timeout?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = opts.timeout ? setTimeout(() => child.kill("SIGKILL"), opts.timeout) : undefined;
    child.on("error", reject);
    child.on("close", (status, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

/** `node <args>` with the test runner's own Node. */
export function runNode(args: string[], opts: SpawnOptions & { timeout?: number } = {}): Promise<RunResult> {
  return run(process.execPath, args, opts);
}
