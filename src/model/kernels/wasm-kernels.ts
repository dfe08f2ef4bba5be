// The wasm backend's implementations of the project's kernels (names in kernels.ts), backed by a small
// WebAssembly SIMD module (wasm-kernels.wat) that works in tfjs-wasm's own memory:
// - q·Kᵀ and P·V for one query row per (batch row, head). tfjs-wasm runs batched matMuls in a scalar
//   loop; these products are what every extra decode row (a CausalMM branch, a batch row) pays for its
//   KV cache, 5–10× faster here (docs/benchmarks.md). Grouped-query attention reads the shared kv head
//   directly (no repeat copy), and only the cache's filled positions are read.
// - the plausibility cutoff of a logits row (max, mask, kept indices) before anything is downloaded.
import * as tf from "@tensorflow/tfjs-core";
import { WASM_KERNELS } from "./wasm-kernels-module.js";
import { KERNEL_NAMES, productArgs } from "./names.js";
import { withSharedMemoryImport } from "./shared-memory.js";

interface Exports {
  qk(q: number, k: number, out: number, C: number, T: number, S: number, hd: number, H: number, Hkv: number): void;
  pv(p: number, v: number, out: number, C: number, T: number, S: number, hd: number, H: number, Hkv: number): void;
  cutoff(logits: number, B: number, V: number, logEps: number, masked: number, kept: number, maxKept: number): void;
}

/** The parts of tfjs-wasm's backend this uses (its kernel API: makeOutput, dataIdMap, the module). */
interface WasmBackend {
  /** The single-threaded build exports its memory (asm.memory); the threaded one imports it (wasmMemory). */
  wasm: { asm?: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory };
  dataIdMap: { get(id: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: "float32" | "int32"): tf.TensorInfo;
}

const instances = new WeakMap<object, Exports | null>();

function kernelMemory(backend: WasmBackend): WebAssembly.Memory | undefined {
  return backend.wasm?.asm?.memory ?? backend.wasm?.wasmMemory;
}

function kernelsFor(backend: WasmBackend): Exports | null {
  if (!instances.has(backend)) {
    const memory = kernelMemory(backend);
    let exports: Exports | null = null;
    if (memory instanceof WebAssembly.Memory) {
      const bytes = Uint8Array.from(atob(WASM_KERNELS), (ch) => ch.charCodeAt(0));
      // the threaded build's memory is shared, and an imported memory must match in sharedness
      const shared = memory.buffer instanceof SharedArrayBuffer;
      const module = new WebAssembly.Module(shared ? withSharedMemoryImport(bytes) : bytes);
      exports = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Exports;
    }
    instances.set(backend, exports);
  }
  return instances.get(backend)!;
}

/**
 * One decode product: out `[B,H,1,width]` from a `[B,H,1,·]` row tensor and `[B,Hkv,S,hd]` cache
 * storage of which the first `length` positions are read.
 */
function registerProduct(name: string, run: (k: Exports) => Exports["qk"], width: (length: number, hd: number) => number): void {
  tf.registerKernel({
    kernelName: name,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const be = backend as unknown as WasmBackend;
      const { row, cache, length, B, H, R, Hkv, S, hd } = productArgs(inputs, attrs);
      if (R !== 1) throw new Error(`${name}: the wasm kernel takes one query row per head, got ${R}`);
      const out = be.makeOutput([B, H, 1, width(length, hd)], "float32");
      const at = (t: tf.TensorInfo) => be.dataIdMap.get(t.dataId).memoryOffset;
      run(kernelsFor(be)!)(at(row), at(cache), at(out), B * H, length, S, hd, H, Hkv);
      return out;
    },
  });
}

function registerCutoff(): void {
  tf.registerKernel({
    kernelName: KERNEL_NAMES.cutoff,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const be = backend as unknown as WasmBackend;
      const { logits } = inputs as { logits: tf.TensorInfo };
      const { logEps, maxKept } = attrs as unknown as { logEps: number; maxKept: number };
      const [B, V] = logits.shape;
      const masked = be.makeOutput([B, V], "float32");
      const kept = be.makeOutput([B, maxKept + 1], "int32");
      const at = (t: tf.TensorInfo) => be.dataIdMap.get(t.dataId).memoryOffset;
      kernelsFor(be)!.cutoff(at(logits), B, V, logEps, at(masked), at(kept), maxKept);
      return [masked, kept];
    },
  });
}

/**
 * tf.unstack along axis 0 as one block copy per part inside the heap. tfjs-wasm's Slice (which its
 * Unpack runs per part) first copies its whole input out of the heap (readSync), so unstacking
 * `[H,T,T]` attention probabilities cost H full copies: ~10 % of a CLIP-L layer (docs/benchmarks.md).
 */
function registerUnstack(): void {
  tf.registerKernel({
    kernelName: KERNEL_NAMES.unstack,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend }) => {
      const be = backend as unknown as WasmBackend;
      const { x } = inputs as { x: tf.TensorInfo };
      const [N, ...rest] = x.shape;
      const bytes = 4 * rest.reduce((a, b) => a * b, 1);
      const outs = Array.from({ length: N }, () => be.makeOutput(rest, x.dtype as "float32" | "int32"));
      const src = be.dataIdMap.get(x.dataId).memoryOffset;
      // after the allocations: the heap may have grown, and a view taken earlier would be detached
      const heap = new Uint8Array(kernelMemory(be)!.buffer);
      outs.forEach((o, i) => heap.copyWithin(be.dataIdMap.get(o.dataId).memoryOffset, src + i * bytes, src + (i + 1) * bytes));
      return outs;
    },
  });
}

/** Registers the wasm kernels once; false when the active wasm backend's memory is out of reach. */
export function registerWasmKernels(): boolean {
  if (!kernelsFor(tf.backend() as unknown as WasmBackend)) return false;
  if (!tf.getKernel(KERNEL_NAMES.qk, "wasm")) {
    registerProduct(
      KERNEL_NAMES.qk,
      (k) => k.qk,
      (length) => length,
    );
    registerProduct(
      KERNEL_NAMES.pv,
      (k) => k.pv,
      (_length, hd) => hd,
    );
    registerCutoff();
    registerUnstack();
  }
  return true;
}
