// Runs fuzz cases in a worker thread and classifies each one:
//   clear      the loader threw an Error (or a project subclass) whose message names the case's file
//   unclear    it threw an ordinary Error that does not name the file
//   crash      a TypeError/RangeError/SyntaxError/... (an unexpected exception with a stack), a thrown
//              non-Error, or the worker died
//   hang       the case ran past its target's time budget (the worker is terminated)
//   alloc      the process grew by more than the case's allocation budget, or the worker ran out of heap
//   accepted   the loader took the input; `byDesign` when the target says why that is right
import { mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { DEFAULT_MAX_IMAGE_PIXELS } from "../../../src/vision/decode.js";
import { TARGETS, targetByName } from "./targets.js";
import type { CaseReply, CaseRequest } from "./worker.js";

interface CaseStart {
  started: true;
  what: string;
  header: boolean;
  declaredPixels?: number;
}

export type CaseClass = "clear" | "unclear" | "crash" | "hang" | "alloc" | "accepted";
export const CLASSES: CaseClass[] = ["clear", "unclear", "crash", "hang", "alloc", "accepted"];
export const FAILURE_CLASSES: CaseClass[] = ["unclear", "crash", "hang", "alloc"];

export interface CaseResult {
  target: string;
  index: number;
  cls: CaseClass;
  what: string;
  header: boolean;
  byDesign?: string;
  message?: string;
  stack?: string;
  ms: number;
  /** Peak RSS growth during the case, MiB. */
  growthMb: number;
  budgetMb: number;
}

export interface CampaignOptions {
  seed: number;
  /** Total cases, spread round-robin over the targets. */
  cases: number;
  fixtures: string;
  targets?: string[];
  /** Run only this case number (replay). */
  only?: number;
  /** Called after every case (progress). */
  onCase?: (r: CaseResult, done: number) => void;
}

export interface CampaignReport {
  seed: number;
  cases: number;
  targets: string[];
  tally: Record<string, Record<CaseClass, number>>;
  results: CaseResult[];
  seconds: number;
}

/**
 * Allocation budget of one case (documented in docs/reliability.md): 256 MiB over the RSS at its start,
 * plus, for an image whose header declares no more than the pixel limit, 16 bytes per declared pixel
 * (the decoder's RGBA buffer, the RGB copy and resampling). Images above the limit must be refused
 * before decoding, so they get no allowance.
 */
export function budgetMb(declaredPixels = 0): number {
  const px = declaredPixels > 0 && declaredPixels <= DEFAULT_MAX_IMAGE_PIXELS ? declaredPixels : 0;
  return 256 + (16 * px) / 2 ** 20;
}

const CRASH_NAMES = new Set([
  "TypeError",
  "RangeError",
  "ReferenceError",
  "SyntaxError",
  "EvalError",
  "URIError",
  "AggregateError",
  "HarnessError",
]);

function classify(reply: CaseReply, dir: string): { cls: CaseClass; byDesign?: string } {
  if (reply.accepted) return { cls: "accepted", byDesign: reply.acceptedByDesign };
  const e = reply.error!;
  if (!e.isError || CRASH_NAMES.has(e.name) || e.message.trim() === "") return { cls: "crash" };
  return { cls: e.message.includes(dir) ? "clear" : "unclear" };
}

/** Worker heap cap: well under the 3 GiB per-process etiquette of the shared machine. */
const WORKER_HEAP_MB = 1536;
/** Restart the worker after this many cases (wasm memories never shrink). */
const RECYCLE_EVERY = 400;

class CaseRunner {
  private worker: Worker | null = null;
  private used = 0;

  private spawn(): Worker {
    const w = new Worker(new URL("./worker.js", import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
    w.unref();
    return w;
  }

  async run(
    req: CaseRequest,
    timeoutMs: number,
    budget: number,
  ): Promise<{ reply?: CaseReply; started?: CaseStart; cls?: CaseClass; message?: string; growthMb: number }> {
    if (!this.worker || this.used >= RECYCLE_EVERY) {
      await this.stop();
      this.worker = this.spawn();
      this.used = 0;
    }
    this.used++;
    const w = this.worker;
    const start = process.memoryUsage.rss();
    let peak = start;
    const sample = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 5);
    let started: CaseStart | undefined;
    try {
      const out = await new Promise<{ reply?: CaseReply; cls?: CaseClass; message?: string }>((resolve) => {
        const done = (v: { reply?: CaseReply; cls?: CaseClass; message?: string }) => {
          clearTimeout(timer);
          w.off("message", onMessage);
          w.off("error", onError);
          w.off("exit", onExit);
          resolve(v);
        };
        const onMessage = (m: CaseReply | CaseStart) => {
          if ("started" in m) started = m;
          else done({ reply: m });
        };
        const onError = (e: Error & { code?: string }) => {
          this.worker = null;
          done(
            e.code === "ERR_WORKER_OUT_OF_MEMORY"
              ? { cls: "alloc", message: `worker ran out of its ${WORKER_HEAP_MB} MiB heap` }
              : { cls: "crash", message: `uncaught in worker: ${e.stack ?? e.message}` },
          );
        };
        const onExit = (code: number) => {
          this.worker = null;
          done({ cls: "crash", message: `worker exited with code ${code}` });
        };
        const timer = setTimeout(() => {
          this.worker = null;
          void w.terminate();
          done({ cls: "hang", message: `no result after ${timeoutMs} ms` });
        }, timeoutMs);
        w.on("message", onMessage);
        w.once("error", onError);
        w.once("exit", onExit);
        w.postMessage(req);
      });
      peak = Math.max(peak, process.memoryUsage.rss());
      const growthMb = (peak - start) / 2 ** 20;
      // A process that grew past its budget must not carry the growth into the next case's baseline.
      if (growthMb > budget && this.worker) await this.stop();
      return { ...out, started, growthMb };
    } finally {
      clearInterval(sample);
    }
  }

  async stop(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}

export function caseRoot(): string {
  const shm = "/dev/shm";
  let base = tmpdir();
  try {
    mkdirSync(join(shm, "."), { recursive: true });
    base = shm;
  } catch {
    /* no tmpfs: use tmpdir */
  }
  return join(base, `causalmm-fuzz-${process.pid}`);
}

export async function runCampaign(opts: CampaignOptions): Promise<CampaignReport> {
  const targets = opts.targets?.length ? opts.targets.map(targetByName) : TARGETS;
  const root = caseRoot();
  mkdirSync(root, { recursive: true });
  const runner = new CaseRunner();
  const tally: CampaignReport["tally"] = {};
  for (const t of targets) tally[t.name] = Object.fromEntries(CLASSES.map((c) => [c, 0])) as Record<CaseClass, number>;
  const results: CaseResult[] = [];
  const t0 = performance.now();
  const indices = opts.only !== undefined ? [opts.only] : Array.from({ length: opts.cases }, (_, i) => i);
  try {
    for (const n of indices) {
      const target = targets[n % targets.length];
      const dir = join(root, `case-${n}`);
      // The budget depends on the case's declared pixels, known only after the worker built it:
      // measure against the largest possible budget, then judge with the case's own.
      const out = await runner.run(
        { target: target.name, seed: opts.seed, index: n, dir, fixtures: opts.fixtures },
        target.timeoutMs,
        budgetMb(DEFAULT_MAX_IMAGE_PIXELS),
      );
      const budget = budgetMb(out.started?.declaredPixels);
      let cls: CaseClass;
      let byDesign: string | undefined;
      if (out.reply) ({ cls, byDesign } = classify(out.reply, dir));
      else cls = out.cls!;
      if (out.growthMb > budget && cls !== "hang") cls = "alloc";
      const r: CaseResult = {
        target: target.name,
        index: n,
        cls,
        what: out.started?.what ?? "(case did not start)",
        header: out.started?.header ?? false,
        byDesign,
        message: out.reply?.error?.message ?? out.message,
        stack: out.reply?.error?.stack,
        ms: out.reply?.ms ?? 0,
        growthMb: Math.round(out.growthMb),
        budgetMb: Math.round(budget),
      };
      if (!out.reply) rmSync(dir, { recursive: true, force: true });
      tally[target.name][cls]++;
      results.push(r);
      opts.onCase?.(r, results.length);
    }
  } finally {
    await runner.stop();
    rmSync(root, { recursive: true, force: true });
  }
  return {
    seed: opts.seed,
    cases: results.length,
    targets: targets.map((t) => t.name),
    tally,
    results,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Plain-text tally: one row per target, one column per class. */
export function formatTally(rep: CampaignReport): string {
  const head = ["target", ...CLASSES, "of which accepted by design"];
  const rows = rep.targets.map((t) => {
    const byDesign = rep.results.filter((r) => r.target === t && r.cls === "accepted" && r.byDesign).length;
    return [t, ...CLASSES.map((c) => String(rep.tally[t][c])), String(byDesign)];
  });
  const total = [
    "total",
    ...CLASSES.map((c) => String(rep.targets.reduce((s, t) => s + rep.tally[t][c], 0))),
    String(rep.results.filter((r) => r.cls === "accepted" && r.byDesign).length),
  ];
  const all = [head, ...rows, total];
  const w = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r: string[]) => "| " + r.map((c, i) => c.padEnd(w[i])).join(" | ") + " |";
  return [line(head), "| " + w.map((x) => "-".repeat(x)).join(" | ") + " |", ...rows.map(line), line(total)].join("\n");
}

export function replayCommand(seed: number, r: CaseResult): string {
  return `npm run fuzz -- --seed ${seed} --target ${r.target} --case ${r.index}`;
}
