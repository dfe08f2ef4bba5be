// The native GEMM kernels (docs/benchmarks.md): C[M,N] = A[M,K]·B (+bias) in a C++ addon built at `npm ci`
// (src/model/kernels/native/), AVX2/AVX-512 with runtime dispatch and its own thread pool. tfjs-wasm's
// XNNPACK is 128-bit SIMD on one thread; these reach the CPU's 256/512-bit FMA on every core.
// Where the addon did not build, every function here still works through tfjs ops (the fallback).
// API agreed in /work/coord/NATIVE-API.md.
import * as tf from "@tensorflow/tfjs-core";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../../paths.js";
import { bf16ToF32, f16ToF32 } from "../../weights/dtype.js";
import type { HostLinearWeight } from "../../weights/params.js";
import { runnerFor, type NativeRunner } from "./native-run.js";

/** A linear weight held OUTSIDE tfjs (a host typed array), read directly by the kernel: inDim K, outDim N. */
export type NativeWeight = HostLinearWeight;
export type NativeDtype = NativeWeight["dtype"];

/** The addon's functions (native/addon.cc). */
export interface Addon {
  /** c = a·b (+bias); b is [K,N] or, transposed, [N,K], of dtype 0 F32 (Float32Array), 1 F16 or 2 BF16 (Uint16Array). */
  gemm(
    a: Float32Array,
    b: Float32Array | Uint16Array,
    bias: Float32Array | null,
    c: Float32Array,
    M: number,
    N: number,
    K: number,
    dtype: number,
    transposed: number,
  ): void;
  setThreads(n: number): void;
  /** The kernels in use: "avx512", "avx2" or "portable". */
  isa(): string;
  /** Use another ISA's kernels (tests run every path); false where this CPU lacks it. */
  setIsa(name: string): boolean;
  /** GFLOP/s of `iterations` steps of 12 register-only vector FMA chains on `threads` (≤ setThreads) pool threads together. */
  fmaPeak(iterations: number, threads: number): number;
}

let addon: Addon | null | undefined;
let reason: string | null = null;

/** Where `npm ci` (the install script: node-gyp on src/model/kernels/native/binding.gyp) puts the addon. */
export const ADDON_PATH = join(PACKAGE_ROOT, "src", "model", "kernels", "native", "build", "Release", "causalmm_gemm.node");

/** The loaded addon or null (the reason in nativeUnavailableReason()). */
export function loadAddon(): Addon | null {
  if (addon !== undefined) return addon;
  if (process.env.CAUSALMM_NATIVE === "0") {
    reason = "turned off by CAUSALMM_NATIVE=0";
    return (addon = null);
  }
  const path = ADDON_PATH;
  try {
    addon = createRequire(import.meta.url)(path) as Addon;
    addon.setThreads(threads);
  } catch (e) {
    reason = `the native GEMM addon did not load from ${path} (${(e as Error).message.split("\n")[0]}); run \`npm run build:native\``;
    addon = null;
  }
  return addon;
}

/** Whether the compiled addon loaded (false: every function below still works through the fallback). */
export function nativeAvailable(): boolean {
  return loadAddon() !== null;
}

/** Why it did not load (null when it did), for `causalmm plan`/doctor output and test skip reasons. */
export function nativeUnavailableReason(): string | null {
  loadAddon();
  return reason;
}

let threads = availableParallelism();

/** Threads the native kernels use (default: os.availableParallelism()). */
export function setNativeThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`setNativeThreads: expected a positive integer, got ${n}`);
  threads = n;
  loadAddon()?.setThreads(n);
}

const DTYPE_CODE: Record<NativeDtype, number> = { F32: 0, F16: 1, BF16: 2 };

/** A weight over host data (kept by reference). */
export class HostWeight implements NativeWeight {
  private disposed = false;
  constructor(
    readonly data: Float32Array | Uint16Array,
    readonly dtype: NativeDtype,
    readonly inDim: number,
    readonly outDim: number,
    readonly layout: "out,in" | "in,out",
  ) {}
  get bytes(): number {
    return this.data.byteLength;
  }
  get isDisposed(): boolean {
    return this.disposed;
  }
  dispose(): void {
    this.disposed = true;
  }
}

/** Wrap host data as a weight. "out,in" is the safetensors/torch layout [N, K]; "in,out" is [K, N]. Keeps a reference. */
export function nativeWeight(
  data: Float32Array | Uint16Array,
  dtype: NativeDtype,
  inDim: number,
  outDim: number,
  layout: "out,in" | "in,out",
): NativeWeight {
  if (!(dtype in DTYPE_CODE)) throw new Error(`nativeWeight: unknown dtype ${dtype}`);
  if ((dtype === "F32") !== data instanceof Float32Array) {
    throw new Error(`nativeWeight: ${dtype} data must be a ${dtype === "F32" ? "Float32Array" : "Uint16Array"}`);
  }
  if (data.length !== inDim * outDim) {
    throw new Error(`nativeWeight: ${data.length} values for a ${inDim}×${outDim} weight (expected ${inDim * outDim})`);
  }
  if (layout !== "out,in" && layout !== "in,out") throw new Error(`nativeWeight: unknown layout ${layout}`);
  return new HostWeight(data, dtype, inDim, outDim, layout);
}

/** Widen 16-bit weight data to float32 (exact). */
function widen(data: Uint16Array, dtype: "F16" | "BF16"): Float32Array {
  const out = new Float32Array(data.length);
  (dtype === "F16" ? f16ToF32 : bf16ToF32)(data, out);
  return out;
}

/** The fallback: the weight as a [K,N] float32 tensor, then tf.matMul. */
function fallbackLinear(x: tf.Tensor2D, w: HostWeight, bias?: tf.Tensor1D): tf.Tensor2D {
  return tf.tidy((): tf.Tensor2D => {
    const values = w.dtype === "F32" ? (w.data as Float32Array) : widen(w.data as Uint16Array, w.dtype);
    const shape: [number, number] = w.layout === "in,out" ? [w.inDim, w.outDim] : [w.outDim, w.inDim];
    const wt = tf.tensor2d(values, shape);
    const y = tf.matMul(x, wt, false, w.layout === "out,in") as tf.Tensor2D;
    return bias ? (tf.add(y, bias) as tf.Tensor2D) : y;
  });
}

function checkLinear(x: tf.Tensor2D, w: NativeWeight, bias?: tf.Tensor1D): HostWeight {
  if (!(w instanceof HostWeight)) throw new Error("nativeLinear: the weight was not made by nativeWeight()");
  if (w.isDisposed) throw new Error("nativeLinear: the weight was disposed");
  if (x.rank !== 2 || x.shape[1] !== w.inDim) throw new Error(`nativeLinear: x [${x.shape}] does not match a weight of in ${w.inDim}`);
  if (x.dtype !== "float32") throw new Error(`nativeLinear: x must be float32, got ${x.dtype}`);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== w.outDim)) throw new Error(`nativeLinear: bias [${bias.shape}] for out ${w.outDim}`);
  return w;
}

/** x [M, K] float32 tensor (wasm or cpu backend) · w (+ bias [N]) → [M, N] float32 tensor. Usable inside tf.tidy. */
export function nativeLinear(x: tf.Tensor2D, w: NativeWeight, bias?: tf.Tensor1D): tf.Tensor2D {
  const hw = checkLinear(x, w, bias);
  const run = nativeRunner();
  if (!run) return fallbackLinear(x, hw, bias);
  return run.linear(x, hw.data, DTYPE_CODE[hw.dtype], hw.layout === "out,in", bias);
}

/** a [M, K] · b [K, N], both float32 tensors on the active backend (wasm/cpu) → [M, N]; the XNNPACK replacement. */
export function nativeMatMul(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (a.rank !== 2 || b.rank !== 2 || a.shape[1] !== b.shape[0]) throw new Error(`nativeMatMul: [${a.shape}] · [${b.shape}]`);
  const run = nativeRunner();
  if (!run) return tf.matMul(a, b);
  return run.matMul(a, b);
}

function nativeRunner(): NativeRunner | null {
  const a = loadAddon();
  return a ? runnerFor(a, tf.getBackend()) : null;
}

/**
 * a [M,K] · b [K,N] (+ bias) in the addon on the active backend, or null where it is missing or the backend
 * has none. Whether to use it is the model's choice (performance `matmul`, kernels.ts matMulKernel), not this module's.
 */
export function nativeMatMulKernel(): ((a: tf.Tensor2D, b: tf.Tensor2D, bias?: tf.Tensor1D) => tf.Tensor2D) | null {
  const run = nativeRunner();
  return run ? run.matMul : null;
}
