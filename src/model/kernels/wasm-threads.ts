// tfjs-wasm's multi-threaded SIMD build (XNNPACK over a pthread pool in shared memory) under Node.
// tfjs ships the binary but never selects it under Node (flag WASM_HAS_MULTITHREAD_SUPPORT is false
// there), and its loader is written for browsers: the pthread worker script and the module's own source
// are handed to workers as Blob URLs, which Node's worker_threads cannot open, and XNNPACK caps its pool
// at half the logical cores (it assumes two hyper-threads per core). For the one `setBackend("wasm")`
// call this module
// - turns the flag on and sets the thread count (tfjs-backend-wasm's setThreadsCount),
// - records the text of the Blobs tfjs creates, so a worker is started from that text (eval) and the
//   module source is passed to it as a string it evaluates instead of a Blob it cannot read,
// - reports twice the cores to XNNPACK's cap (os.cpus) so the pool gets `threads` threads,
// - unrefs the workers, so they never keep a finished Node process alive,
// and restores every global afterwards.
import os from "node:os";
import { Worker as NodeWorker, type WorkerOptions } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs-core";

/** Marks a module source passed to a worker in place of a Blob it could not read. */
const SOURCE_TAG = "/*causalmm-wasm-module*/";
/** The bundled module source refers to its bundle's scope: these names must exist in the worker. */
const SOURCE_PRELUDE =
  `${SOURCE_TAG}var commonjsGlobal = globalThis, _scriptDir, require$$0 = require("fs"), require$$1 = require("path"), ` +
  `require$$3 = require("perf_hooks"), require$$4 = require("os");\n`;
/** Appended to tfjs's worker script: evaluate a module source passed as text instead of reading a file. */
const WORKER_EPILOGUE =
  `\n;(function(){var read=global.importScripts;global.importScripts=function(f){` +
  `if(typeof f==="string"&&f.startsWith(${JSON.stringify(SOURCE_TAG)})){(0,eval)(f);return}read(f)}})();`;

interface WasmModuleApi {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

/** Whether this Node can run wasm threads at all (shared memory). */
export function wasmThreadsSupported(): boolean {
  try {
    return (
      typeof SharedArrayBuffer === "function" &&
      new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer
    );
  } catch {
    return false;
  }
}

/**
 * Runs `init` (which must call `tf.setBackend("wasm")`) with tfjs-wasm set up to load its threaded
 * build with `threads` threads. Resolves to the thread count XNNPACK reports afterwards.
 */
export async function withWasmThreads(
  threads: number,
  wasmApi: WasmModuleApi,
  init: () => Promise<boolean>,
): Promise<{ ok: boolean; threads: number }> {
  const restore = patchGlobals(threads);
  try {
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
    wasmApi.setThreadsCount(threads);
    const ok = await init();
    return { ok, threads: ok ? wasmApi.getThreadsCount() : 0 };
  } finally {
    restore();
  }
}

function patchGlobals(threads: number): () => void {
  const blobText = new WeakMap<Blob, string>();
  const urlText = new Map<string, string>();
  const OrigBlob = globalThis.Blob;
  const origCreateUrl = URL.createObjectURL;
  const origCpus = os.cpus;
  const origWorker = Object.getOwnPropertyDescriptor(globalThis, "Worker");

  globalThis.Blob = class extends OrigBlob {
    constructor(parts?: BlobPart[], options?: BlobPropertyBag) {
      super(parts, options);
      if (parts?.every((p) => typeof p === "string")) blobText.set(this, (parts as string[]).join(""));
    }
  };
  URL.createObjectURL = (blob: Blob) => {
    const url = origCreateUrl(blob);
    const text = blobText.get(blob);
    if (text !== undefined) urlText.set(url, text + WORKER_EPILOGUE);
    return url;
  };
  // XNNPACK allows min(threads, logical cores / 2) threads
  os.cpus = () => Array.from({ length: Math.max(2 * threads, 2 * origCpus().length) }, (_, i) => origCpus()[i % origCpus().length]);

  class PthreadWorker extends NodeWorker {
    constructor(url: string | URL, options?: WorkerOptions) {
      const text = urlText.get(String(url));
      // eval'd as a classic script whatever flags started this process (--input-type=module would make it ESM)
      super(text ?? url, text === undefined ? options : { ...options, eval: true, execArgv: [] });
      this.unref();
    }
    // emscripten re-refs busy workers; a synchronous thread pool never needs one to keep Node alive
    override ref(): void {}
    override postMessage(msg: unknown, transfer?: readonly import("node:worker_threads").TransferListItem[]): void {
      const m = msg as { cmd?: string; urlOrBlob?: unknown } | null;
      if (m?.cmd === "load" && m.urlOrBlob instanceof OrigBlob) {
        const text = blobText.get(m.urlOrBlob);
        if (text === undefined) throw new Error("wasm threads: the module source given to a worker was not recorded");
        msg = { ...m, urlOrBlob: SOURCE_PRELUDE + text };
      }
      super.postMessage(msg, transfer);
    }
  }
  // emscripten assigns globalThis.Worker = worker_threads.Worker while it initialises; keep ours
  Object.defineProperty(globalThis, "Worker", { get: () => PthreadWorker, set: () => {}, configurable: true });

  return () => {
    globalThis.Blob = OrigBlob;
    URL.createObjectURL = origCreateUrl;
    os.cpus = origCpus;
    if (origWorker) Object.defineProperty(globalThis, "Worker", origWorker);
    else delete (globalThis as { Worker?: unknown }).Worker;
  };
}
