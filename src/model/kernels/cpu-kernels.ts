// The cpu backend's implementations of the project's kernels (names in kernels.ts), in plain JS:
// - softmax over the last axis. tfjs-cpu composes it from max, sub, exp, sum and div with broadcasting
//   that walks index by index: 1.3 ms for [1,4,1,600] and 340 ms for one [1,4,577,577] CLIP layer,
//   against 0.1 and 28 ms here (docs/benchmarks.md). Same float32 formula: exp(x − max) / Σ.
// - the attention products q·Kᵀ and P·V for any number of query rows, reading the KV cache's filled
//   positions in place. A batched matMul would need them copied out of the cache's storage first, and
//   tfjs-cpu's slice of a non-contiguous block walks index by index (22 ms for [1,4,595,16]); these
//   loops are also faster than tfjs-cpu's matMul (43 vs 58 ms for q·Kᵀ at [1,4,595,16]).
import * as tf from "@tensorflow/tfjs-core";
import { KERNEL_NAMES, productArgs } from "./names.js";

interface CpuBackend {
  data: { get(id: object): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: "float32", values: Float32Array): tf.TensorInfo;
}

const valuesOf = (be: CpuBackend, t: tf.TensorInfo): Float32Array => be.data.get(t.dataId).values;

/** Rows of length n: y = exp(x − max) / Σ exp(x − max), each step rounded to float32 as tfjs-cpu does. */
function softmaxRows(x: Float32Array, n: number): Float32Array {
  const y = new Float32Array(x.length);
  for (let o = 0; o < x.length; o += n) {
    let max = -Infinity;
    for (let j = o; j < o + n; j++) if (x[j] > max) max = x[j];
    let sum = 0;
    for (let j = o; j < o + n; j++) {
      y[j] = Math.exp(Math.fround(x[j] - max));
      sum += y[j];
    }
    const total = Math.fround(sum);
    for (let j = o; j < o + n; j++) y[j] /= total;
  }
  return y;
}

/** Offset (in floats) of the kv head serving query head c = b·H + h (HF repeat_kv order). */
function kvBase(c: number, H: number, Hkv: number, S: number, hd: number): number {
  return (Math.floor(c / H) * Hkv + Math.floor((c % H) / (H / Hkv))) * S * hd;
}

/** Sizes: C = B·H query heads of R rows each, the first T of S cached positions, head size hd. */
interface Dims {
  C: number;
  R: number;
  T: number;
  S: number;
  hd: number;
  H: number;
  Hkv: number;
}

/** out[c,r,t] = Σ_d q[c,r,d]·k[kv(c),t,d] */
function qk(q: Float32Array, k: Float32Array, { C, R, T, S, hd, H, Hkv }: Dims): Float32Array {
  const out = new Float32Array(C * R * T);
  for (let c = 0; c < C; c++) {
    const base = kvBase(c, H, Hkv, S, hd);
    for (let r = 0, row = c * R; r < R; r++, row++) {
      for (let t = 0; t < T; t++) {
        let s = 0;
        for (let d = 0, qd = row * hd, kd = base + t * hd; d < hd; d++) s += q[qd + d] * k[kd + d];
        out[row * T + t] = s;
      }
    }
  }
  return out;
}

/** out[c,r,d] = Σ_t p[c,r,t]·v[kv(c),t,d] */
function pv(p: Float32Array, v: Float32Array, { C, R, T, S, hd, H, Hkv }: Dims): Float32Array {
  const out = new Float32Array(C * R * hd);
  const acc = new Float64Array(hd);
  for (let c = 0; c < C; c++) {
    const base = kvBase(c, H, Hkv, S, hd);
    for (let r = 0, row = c * R; r < R; r++, row++) {
      acc.fill(0);
      for (let t = 0; t < T; t++) {
        const w = p[row * T + t];
        if (w === 0) continue; // masked keys (exact: w·v adds 0 unless v is ±∞/NaN, which cached values are not)
        for (let d = 0, vd = base + t * hd; d < hd; d++) acc[d] += w * v[vd + d];
      }
      out.set(acc, row * hd);
    }
  }
  return out;
}

/** One product: out `[B,H,R,width]` from `[B,H,R,·]` rows and `[B,Hkv,S,hd]` storage (first `length` positions). */
function registerProduct(name: string, run: typeof qk, width: (length: number, hd: number) => number): void {
  tf.registerKernel({
    kernelName: name,
    backendName: "cpu",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const be = backend as unknown as CpuBackend;
      const { row, cache, length, B, H, R, Hkv, S, hd } = productArgs(inputs, attrs);
      const out = run(valuesOf(be, row), valuesOf(be, cache), { C: B * H, R, T: length, S, hd, H, Hkv });
      return be.makeTensorInfo([B, H, R, width(length, hd)], "float32", out);
    },
  });
}

/** Registers the cpu kernels once. */
export function registerCpuKernels(): boolean {
  if (tf.getKernel(KERNEL_NAMES.qk, "cpu")) return true;
  registerProduct(KERNEL_NAMES.qk, qk, (length) => length);
  registerProduct(KERNEL_NAMES.pv, pv, (_length, hd) => hd);
  tf.registerKernel({
    kernelName: KERNEL_NAMES.softmax,
    backendName: "cpu",
    kernelFunc: ({ inputs, backend }) => {
      const be = backend as unknown as CpuBackend;
      const { x } = inputs as { x: tf.TensorInfo };
      return be.makeTensorInfo(x.shape, "float32", softmaxRows(valuesOf(be, x), x.shape[x.shape.length - 1]));
    },
  });
  // the lab trains through attention: dx = y·(dy − Σ dy·y), as tfjs's own softmax gradient
  tf.registerGradient({
    kernelName: KERNEL_NAMES.softmax,
    outputsToSave: [true],
    gradFunc: (dy, saved) => {
      const [y] = saved;
      const dyTimesY = tf.mul(dy as tf.Tensor, y);
      return { x: () => tf.sub(dyTimesY, tf.mul(tf.sum(dyTimesY, -1, true), y)) };
    },
  });
  return true;
}
