// Decode-step attention products on the wasm backend: q·Kᵀ and P·V for one query row per (batch row,
// head), as two tfjs kernels backed by a small WebAssembly SIMD module (decode-attention.wat) that works
// in tfjs-wasm's own memory. tfjs-wasm runs batched matMuls in a scalar loop; these products are what
// every extra decode row (a CausalMM branch, a batch row) pays for its KV cache, 4–7× faster here
// (docs/benchmarks.md). Grouped-query attention reads the shared kv head directly (no repeat copy).
// Available only on the wasm backend; elsewhere `decodeAttention()` returns null and callers keep the
// batched matMul.
import * as tf from "@tensorflow/tfjs-core";
import { DECODE_ATTENTION_WASM } from "./decode-attention-wasm.js";

interface Exports {
  qk(q: number, k: number, out: number, C: number, T: number, hd: number, H: number, Hkv: number): void;
  pv(p: number, v: number, out: number, C: number, T: number, hd: number, H: number, Hkv: number): void;
}

/** The parts of tfjs-wasm's backend this uses (its kernel API: makeOutput, dataIdMap, the module). */
interface WasmBackend {
  wasm: { asm?: { memory?: WebAssembly.Memory } };
  dataIdMap: { get(id: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: "float32"): tf.TensorInfo;
}

const QK = "CausalmmDecodeQK";
const PV = "CausalmmDecodePV";
const instances = new WeakMap<object, Exports | null>();
let mode: "auto" | "never" = "auto";

/** For tests and benchmarks: "never" keeps tfjs's batched matMul for decode attention too. */
export function setDecodeKernel(m: "auto" | "never"): void {
  mode = m;
}

function kernelsFor(backend: WasmBackend): Exports | null {
  if (!instances.has(backend)) {
    const memory = backend.wasm?.asm?.memory;
    let exports: Exports | null = null;
    if (memory instanceof WebAssembly.Memory) {
      const module = new WebAssembly.Module(Uint8Array.from(atob(DECODE_ATTENTION_WASM), (ch) => ch.charCodeAt(0)));
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

let registered = false;

/**
 * q·Kᵀ (`[B,H,1,hd]` × `[B,Hkv,T,hd]` → `[B,H,1,T]`) and P·V (`[B,H,1,T]` × `[B,Hkv,T,hd]` →
 * `[B,H,1,hd]`), or null when the active backend cannot run them.
 */
export function decodeAttention(): { qk(q: tf.Tensor4D, k: tf.Tensor4D): tf.Tensor4D; pv(p: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor4D } | null {
  if (mode === "never" || tf.getBackend() !== "wasm" || !kernelsFor(tf.backend() as unknown as WasmBackend)) return null;
  if (!registered) {
    register(QK, (k) => k.qk, (_row, cache) => cache.shape[2]);
    register(PV, (k) => k.pv, (_row, cache) => cache.shape[3]);
    registered = true;
  }
  const run = (name: string, row: tf.Tensor4D, cache: tf.Tensor4D) => tf.engine().runKernel(name, { row, cache }, {}) as tf.Tensor4D;
  return { qk: (q, k) => run(QK, q, k), pv: (p, v) => run(PV, p, v) };
}
