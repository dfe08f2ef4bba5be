// Worker thread that runs fuzz cases one at a time, so the campaign can time out a case stuck in
// synchronous code (terminate the worker) and cap its heap (resourceLimits).
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parentPort } from "node:worker_threads";
import { caseSeed, Rng } from "./rng.js";
import { targetByName } from "./targets.js";
import type { FuzzCase } from "./target.js";

export interface CaseRequest {
  target: string;
  seed: number;
  index: number;
  dir: string;
  fixtures: string;
}
export interface CaseReply {
  what: string;
  header: boolean;
  acceptedByDesign?: string;
  declaredPixels?: number;
  accepted: boolean;
  error?: { name: string; isError: boolean; message: string; stack: string };
  ms: number;
}

const bases = new Map<string, unknown>();

function writeCase(dir: string, c: FuzzCase): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(c.files)) {
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    if (typeof content === "object" && "symlink" in content) symlinkSync(content.symlink, path);
    else writeFileSync(path, content);
  }
}

async function runCase(req: CaseRequest): Promise<CaseReply> {
  const target = targetByName(req.target);
  if (!bases.has(target.name)) bases.set(target.name, await target.base(req.fixtures));
  const base = bases.get(target.name);
  const c = target.make(base, new Rng(caseSeed(req.seed, target.name, req.index)));
  writeCase(req.dir, c);
  // Announced before running, so a case that hangs or kills the worker is still described.
  parentPort!.postMessage({ started: true, what: c.what, header: c.header, declaredPixels: c.declaredPixels });
  const reply: CaseReply = {
    what: c.what,
    header: c.header,
    acceptedByDesign: c.acceptedByDesign,
    declaredPixels: c.declaredPixels,
    accepted: false,
    ms: 0,
  };
  const t0 = performance.now();
  try {
    await target.run(req.dir, base);
    reply.accepted = true;
  } catch (e) {
    const isError = e instanceof Error;
    reply.error = {
      name: isError ? e.constructor.name : typeof e,
      isError,
      message: isError ? e.message : String(e),
      stack: isError ? String(e.stack ?? "") : "",
    };
  }
  reply.ms = performance.now() - t0;
  rmSync(req.dir, { recursive: true, force: true });
  return reply;
}

parentPort!.on("message", (req: CaseRequest) => {
  runCase(req).then(
    (r) => parentPort!.postMessage(r),
    (e: Error) => {
      // A failure of the harness itself (writing files, building the case) is reported as a crash too.
      parentPort!.postMessage({
        what: "(harness)",
        header: false,
        accepted: false,
        ms: 0,
        error: { name: "HarnessError", isError: true, message: e.message, stack: String(e.stack) },
      } satisfies CaseReply);
    },
  );
});
