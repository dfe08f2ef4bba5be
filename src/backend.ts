// Chooses and initialises the tfjs backend. `auto` takes the first that loads in the order
// cuda → node → wasm → cpu; asking for a backend that is not installed is an error, never a
// silent fallback.
import * as tf from "@tensorflow/tfjs-core";
import "./tf-setup.js";
import { createRequire } from "node:module";
import { wasmThreadsSupported, withWasmThreads } from "./model/kernels/wasm-threads.js";

export type BackendName = "auto" | "cuda" | "node" | "wasm" | "cpu";
export const BACKENDS: readonly BackendName[] = ["auto", "cuda", "node", "wasm", "cpu"];
const AUTO_ORDER: readonly Exclude<BackendName, "auto">[] = ["cuda", "node", "wasm", "cpu"];

/** The wasm heap is a 32-bit address space; its out-of-memory is silent, so we refuse early. */
export const WASM_HEAP_LIMIT_BYTES = 4 * 1024 ** 3;
let heapLimit = WASM_HEAP_LIMIT_BYTES;

/** Lower the wasm memory budget (tests; users who want a margin). Returns the previous value. */
export function setWasmHeapLimit(bytes: number): number {
  const prev = heapLimit;
  heapLimit = bytes;
  return prev;
}

/** The wasm memory budget in effect. */
export function wasmHeapLimit(): number {
  return heapLimit;
}

const PACKAGE: Record<Exclude<BackendName, "auto">, string> = {
  cuda: "@tensorflow/tfjs-node-gpu",
  node: "@tensorflow/tfjs-node",
  wasm: "@tensorflow/tfjs-backend-wasm",
  cpu: "@tensorflow/tfjs-backend-cpu",
};
/** The name each package registers its backend under in tfjs. */
const TF_NAME: Record<Exclude<BackendName, "auto">, string> = { cuda: "tensorflow", node: "tensorflow", wasm: "wasm", cpu: "cpu" };

export interface BackendInfo {
  name: Exclude<BackendName, "auto">;
  tfName: string;
  package: string;
  /** Present when `auto` skipped backends: why each one was not used. */
  skipped: string[];
  /** wasm: XNNPACK's thread count (1 = the single-threaded SIMD build). */
  threads?: number;
}

export interface BackendOptions {
  /**
   * wasm: threads for XNNPACK's matMuls and convolutions (tfjs-wasm's threaded SIMD build over
   * worker_threads; experimental, opt-in). Default: $CAUSALMM_WASM_THREADS, else 1 = the single-threaded
   * SIMD build. At most 8. Fixed once the backend is initialised. The project's own wasm kernels run on
   * either build (kernels/shared-memory.ts).
   */
  wasmThreads?: number;
}

/** The wasm thread count asked for: the option, else $CAUSALMM_WASM_THREADS, else 1 (at most 8). */
export function wasmThreadsWanted(opts: BackendOptions = {}): number {
  const env = process.env.CAUSALMM_WASM_THREADS;
  const n = opts.wasmThreads ?? (env ? Number(env) : 1);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(
      `wasm threads must be a positive integer, got '${opts.wasmThreads ?? env}' (option wasmThreads or $CAUSALMM_WASM_THREADS)`,
    );
  return Math.min(8, n);
}

let current: BackendInfo | null = null;

export function currentBackend(): BackendInfo | null {
  return current;
}

export function parseBackendName(s: string | undefined): BackendName {
  const v = (s ?? process.env.CAUSALMM_BACKEND ?? "auto").toLowerCase();
  if (!BACKENDS.includes(v as BackendName)) throw new Error(`unknown backend '${s}' (choose one of: ${BACKENDS.join(", ")})`);
  return v as BackendName;
}

async function tryLoad(name: Exclude<BackendName, "auto">, opts: BackendOptions, notes: string[]): Promise<string | null> {
  const pkg = PACKAGE[name];
  try {
    // The native packages are CommonJS and optional: resolve them at run time only.
    if (name === "cuda" || name === "node") createRequire(import.meta.url)(pkg);
    else await import(pkg);
  } catch (e) {
    const msg = (e as Error).message.split("\n")[0];
    return `${pkg} is not installed or failed to load (${msg})`;
  }
  try {
    // PROD silences tfjs's "install the node backend" banner and skips debug-only checks.
    tf.env().set("PROD", true);
    const ok = name === "wasm" ? await setWasmBackend(opts, notes) : await tf.setBackend(TF_NAME[name]);
    if (!ok) return `${pkg} loaded but tfjs could not initialise backend '${TF_NAME[name]}'`;
    await tf.ready();
  } catch (e) {
    return `${pkg} failed to initialise (${(e as Error).message})`;
  }
  return null;
}

/** tfjs-wasm with the threads asked for; the single-threaded SIMD build when they cannot start. */
async function setWasmBackend(opts: BackendOptions, notes: string[]): Promise<boolean> {
  const threads = wasmThreadsWanted(opts);
  const wasmApi = (await import("@tensorflow/tfjs-backend-wasm")) as unknown as {
    setThreadsCount(n: number): void;
    getThreadsCount(): number;
  };
  if (threads > 1 && wasmThreadsSupported()) {
    try {
      const r = await withWasmThreads(threads, wasmApi, () => tf.setBackend("wasm"));
      if (r.ok) return true;
    } catch (e) {
      notes.push(`wasm threads: ${(e as Error).message}`);
    }
    notes.push("wasm: the threaded build did not start; using the single-threaded SIMD build");
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  }
  return tf.setBackend("wasm");
}

function wasmThreadCount(): number {
  try {
    return (tf.backend() as unknown as { wasm: { tfjs: { getThreadsCount(): number } } }).wasm.tfjs.getThreadsCount();
  } catch {
    return 1;
  }
}

/** Initialise a backend; resolves to what was chosen. Throws with the reason when it cannot. */
export async function initBackend(requested?: BackendName | string, opts: BackendOptions = {}): Promise<BackendInfo> {
  const want = parseBackendName(requested);
  if (current && (want === "auto" || want === current.name)) return current;
  const order = want === "auto" ? AUTO_ORDER : [want];
  const skipped: string[] = [];
  for (const name of order) {
    const err = await tryLoad(name, opts, skipped);
    if (err === null) {
      current = {
        name,
        tfName: TF_NAME[name],
        package: PACKAGE[name],
        skipped,
        ...(name === "wasm" ? { threads: wasmThreadCount() } : {}),
      };
      if (name === "wasm") guardWasmMalloc();
      return current;
    }
    skipped.push(`${name}: ${err}`);
  }
  if (want !== "auto") {
    const hint =
      want === "cuda" || want === "node"
        ? ` Install it with 'npm install ${PACKAGE[want]}' (needs libtensorflow), or use --backend wasm|cpu.`
        : "";
    throw new Error(`backend '${want}' is not available: ${skipped[0]}.${hint}`);
  }
  throw new Error(`no tfjs backend could be loaded:\n  ${skipped.join("\n  ")}`);
}

/**
 * Refuse to run a model whose tensors would not fit in the wasm heap. `bytes` is the estimated peak of
 * live tensor memory; XNNPACK keeps a packed copy of each matMul weight, counted by the caller.
 */
export function assertFitsBackend(bytes: number, what: string): void {
  if (current?.name !== "wasm" || bytes <= heapLimit * 0.9) return;
  const gib = (bytes / 1024 ** 3).toFixed(1);
  throw new Error(
    `${what} needs about ${gib} GiB of tensor memory, more than the wasm backend's 4 GiB heap ` +
      `(wasm fails silently past it). Use --backend cpu (slow, no limit) or --backend cuda on a GPU machine.`,
  );
}

/**
 * Called between layers: on wasm, stop with a clear error once the heap nears 4 GiB, because past it
 * allocations fail silently and later tensors overwrite live ones.
 */
export function guardWasmHeap(where: string): void {
  if (current?.name !== "wasm") return;
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8?.length ?? 0;
  const live = tf.memory().numBytes;
  if (heap > heapLimit * 0.95 || live > heapLimit * 0.9) {
    throw new Error(
      `wasm heap nearly full at ${where} (heap ${(heap / 1024 ** 3).toFixed(2)} GiB, ` +
        `live tensors ${(live / 1024 ** 3).toFixed(2)} GiB of ${(heapLimit / 1024 ** 3).toFixed(2)} GiB); ` +
        "stopping before wasm corrupts memory. Use a shorter input, --backend cpu, or --backend cuda.",
    );
  }
}

/** A tensor allocation on the wasm heap failed or would pass the heap limit; nothing was written. */
export class WasmHeapError extends Error {
  override name = "WasmHeapError";
}

interface WasmModule {
  _malloc(n: number): number;
  _free(p: number): void;
  asm?: { malloc?(n: number): number };
  HEAPU8: Uint8Array;
  causalmmMallocGuard?: boolean;
}

/**
 * Makes every failed tensor allocation an error. When the heap cannot grow, emscripten's malloc returns 0
 * and tfjs-wasm writes the tensor at address 0, over live memory: the silent corruption that later shows as
 * "memory access out of bounds" (or as wrong numbers). The between-layer guard cannot see one layer's peak;
 * this sees each tensor allocation. Allocations ending past the heap limit (setWasmHeapLimit) are refused too.
 */
function guardWasmMalloc(): void {
  const wasm = (tf.backend() as unknown as { wasm?: WasmModule }).wasm;
  if (!wasm || wasm.causalmmMallocGuard) return;
  // emscripten's `_malloc` is a stub that replaces itself with the export on its first call: wrap the export
  const raw = wasm.asm?.malloc ?? wasm._malloc.bind(wasm);
  wasm._malloc = (n: number): number => {
    const p = raw(n) >>> 0;
    if (n > 0 && (p === 0 || p + n > heapLimit)) {
      if (p !== 0) wasm._free(p);
      throw new WasmHeapError(wasmHeapMessage(n, wasm.HEAPU8.length));
    }
    return p;
  };
  wasm.causalmmMallocGuard = true;
}

function wasmHeapMessage(request: number, heap: number): string {
  const gib = (x: number) => (x / 1024 ** 3).toFixed(2);
  return (
    `wasm heap full: could not allocate ${(request / 1024 ** 2).toFixed(1)} MiB with ${gib(tf.memory().numBytes)} GiB of live tensors ` +
    `(heap ${gib(heap)} of ${gib(heapLimit)} GiB); stopped before wasm could corrupt memory. ` +
    "Use a shorter input, fewer --draws, --backend cpu, or --backend cuda."
  );
}
