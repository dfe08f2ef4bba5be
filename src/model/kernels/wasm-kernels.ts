// Decoding kernels for the wasm backend, as tfjs kernels backed by a small WebAssembly SIMD module
// (wasm-kernels.wat) that works in tfjs-wasm's own memory:
// - q·Kᵀ and P·V for one query row per (batch row, head). tfjs-wasm runs batched matMuls in a scalar
//   loop; these products are what every extra decode row (a CausalMM branch, a batch row) pays for its
//   KV cache, 4–7× faster here (docs/benchmarks.md). Grouped-query attention reads the shared kv head
//   directly (no repeat copy).
// - the plausibility cutoff of a logits row (max, mask, kept indices) before anything is downloaded.
// Available only on the wasm backend; elsewhere the getters return null and callers keep tfjs ops / JS.
import * as tf from "@tensorflow/tfjs-core";
import { WASM_KERNELS } from "./wasm-kernels-module.js";

interface Exports {
  qk(q: number, k: number, out: number, C: number, T: number, hd: number, H: number, Hkv: number): void;
  pv(p: number, v: number, out: number, C: number, T: number, hd: number, H: number, Hkv: number): void;
  cutoff(logits: number, B: number, V: number, logEps: number, masked: number, kept: number, maxKept: number): void;
}

/** The parts of tfjs-wasm's backend this uses (its kernel API: makeOutput, dataIdMap, the module). */
interface WasmBackend {
  wasm: { asm?: { memory?: WebAssembly.Memory } };
  dataIdMap: { get(id: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: "float32" | "int32"): tf.TensorInfo;
}

const QK = "CausalmmDecodeQK";
const PV = "CausalmmDecodePV";
const CUTOFF = "CausalmmCutoff";
const instances = new WeakMap<object, Exports | null>();
let mode: "auto" | "never" = "auto";

/** For tests and benchmarks: "never" turns the kernels off (tfjs batched matMuls, the JS cutoff). */
export function setDecodeKernel(m: "auto" | "never"): void {
  mode = m;
}

function kernelsFor(backend: WasmBackend): Exports | null {
  if (!instances.has(backend)) {
    const memory = backend.wasm?.asm?.memory;
    let exports: Exports | null = null;
    if (memory instanceof WebAssembly.Memory) {
      const module = new WebAssembly.Module(Uint8Array.from(atob(WASM_KERNELS), (ch) => ch.charCodeAt(0)));
      exports = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Exports;
    }
    instances.set(backend, exports);
  }
  return instances.get(backend)!;
}

/** One kernel: out `[B,H,1,width]` from a `[B,H,1,·]` row tensor and a `[B,Hkv,T,hd]` cache tensor. */
function register(name: string, run: (k: Exports) => Exports["qk"], width: (row: tf.TensorInfo, cache: tf.TensorInfo) => number): void {
  tf.registerKernel({
    kernelName: name,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend }) => {
      const be = backend as unknown as WasmBackend;
      const { row, cache } = inputs as { row: tf.TensorInfo; cache: tf.TensorInfo };
      const [B, H] = row.shape;
      const [, Hkv, T, hd] = cache.shape;
      const out = be.makeOutput([B, H, 1, width(row, cache)], "float32");
      const at = (t: tf.TensorInfo) => be.dataIdMap.get(t.dataId).memoryOffset;
      run(kernelsFor(be)!)(at(row), at(cache), at(out), B * H, T, hd, H, Hkv);
      return out;
    },
  });
}

function registerCutoff(): void {
  tf.registerKernel({
    kernelName: CUTOFF,
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

let registered = false;

function ready(): boolean {
  if (mode === "never" || tf.getBackend() !== "wasm" || !kernelsFor(tf.backend() as unknown as WasmBackend)) return false;
  if (!registered) {
    register(QK, (k) => k.qk, (_row, cache) => cache.shape[2]);
    register(PV, (k) => k.pv, (_row, cache) => cache.shape[3]);
    registerCutoff();
    registered = true;
  }
  return true;
}

/**
 * q·Kᵀ (`[B,H,1,hd]` × `[B,Hkv,T,hd]` → `[B,H,1,T]`) and P·V (`[B,H,1,T]` × `[B,Hkv,T,hd]` →
 * `[B,H,1,hd]`), or null when the active backend cannot run them.
 */
export function decodeAttention(): { qk(q: tf.Tensor4D, k: tf.Tensor4D): tf.Tensor4D; pv(p: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor4D } | null {
  if (!ready()) return null;
  const run = (name: string, row: tf.Tensor4D, cache: tf.Tensor4D) => tf.engine().runKernel(name, { row, cache }, {}) as tf.Tensor4D;
  return { qk: (q, k) => run(QK, q, k), pv: (p, v) => run(PV, p, v) };
}

/**
 * The plausibility cutoff of logits `[B,V]` on the device: `masked` = the logits with −∞ where
 * ℓ < fround(log ε) + max ℓ, and `kept` `[B, maxKept+1]` = per row the count of kept tokens followed by
 * their ascending indices (only the first maxKept are written). Null off wasm.
 */
export function cutoffKernel(): ((logits: tf.Tensor2D, epsilon: number, maxKept: number) => { masked: tf.Tensor2D; kept: tf.Tensor2D }) | null {
  if (!ready()) return null;
  return (logits, epsilon, maxKept) => {
    const attrs = { logEps: Math.fround(Math.log(epsilon)), maxKept };
    const [masked, kept] = tf.engine().runKernel(CUTOFF, { logits }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor2D[];
    return { masked, kept };
  };
}
