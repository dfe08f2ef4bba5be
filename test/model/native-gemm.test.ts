// The native GEMM addon (src/model/kernels/native.ts): against a float64 reference on odd shapes (GEMV rows
// M ≤ 4 and GEMM tiles, K and N off the tile sizes), F32/F16/BF16 weights in both layouts, with and without
// bias, on wasm and cpu, on every ISA path this CPU runs; 16-bit weights widened exactly; a row's result
// independent of the rows batched with it and of the thread count; no leaked tensors; off when turned off
// and under a gradient tape. Under CI=true a missing addon fails; elsewhere the suite is skipped with the reason.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend.js";
import { matMulKernel } from "../../src/model/kernels/kernels.js";
import {
  loadAddon,
  nativeAvailable,
  nativeLinear,
  nativeMatMul,
  nativeUnavailableReason,
  nativeWeight,
  setNativeThreads,
  type NativeDtype,
} from "../../src/model/kernels/native.js";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "../../src/weights/dtype.js";
import { linear } from "../../src/model/layers.js";
import { DEFAULT_PERFORMANCE } from "../../src/model/performance.js";

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** A K×N weight in dtype and layout, and its float32 widening as [K,N]. */
function weight(K: number, N: number, dtype: NativeDtype, layout: "out,in" | "in,out", seed: number) {
  const kn = values(K * N, seed); // [K,N]
  const stored = new Float32Array(K * N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) stored[layout === "in,out" ? k * N + n : n * K + k] = kn[k * N + n];
  if (dtype === "F32") return { data: stored as Float32Array | Uint16Array, widened: kn };
  const bits = new Uint16Array(K * N);
  (dtype === "BF16" ? f32ToBf16 : f32ToF16)(stored, bits);
  const back = new Float32Array(K * N);
  (dtype === "BF16" ? bf16ToF32 : f16ToF32)(bits, back);
  const widened = new Float32Array(K * N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) widened[k * N + n] = back[layout === "in,out" ? k * N + n : n * K + k];
  return { data: bits as Float32Array | Uint16Array, widened };
}

/** max |c − ref| / (Σ_k |a·b| + |bias| + 1e-30) over the output, ref in float64. */
function relError(c: Float32Array, a: Float32Array, b: Float32Array, bias: Float32Array | null, M: number, K: number, N: number): number {
  let worst = 0;
  for (let i = 0; i < M; i++)
    for (let n = 0; n < N; n++) {
      let s = bias ? bias[n] : 0;
      let scale = bias ? Math.abs(bias[n]) : 0;
      for (let k = 0; k < K; k++) {
        s += a[i * K + k] * b[k * N + n];
        scale += Math.abs(a[i * K + k] * b[k * N + n]);
      }
      worst = Math.max(worst, Math.abs(c[i * N + n] - s) / (scale + 1e-30));
    }
  return worst;
}

const SHAPES: [number, number, number][] = [
  [1, 67, 45],
  [2, 300, 129],
  [3, 33, 77],
  [5, 130, 70],
  [577, 70, 130],
  [13, 257, 33],
  // out,in packing: a panel with whole VW-row groups plus a tail (AVX-512 NR 32 / VW 16; AVX2 NR 16 / VW 8),
  // two KC slices (the second with a k tail), several MR panels of the packed A
  [7, 300, 52],
  [29, 41, 45],
];
const TOL = 1e-6;

function nativeSuite(backend: "wasm" | "cpu") {
  describe(`native GEMM on ${backend}`, () => {
    const original = loadAddon()?.isa() ?? "portable";
    beforeAll(() => initBackend(backend));
    afterAll(() => {
      loadAddon()!.setIsa(original);
      setNativeThreads(2);
    });
    const isas = ["avx512", "avx2", "portable"];

    test.each(isas)("%s: nativeLinear on F32/F16/BF16 × both layouts × bias, odd shapes, against float64", (isa) => {
      if (!loadAddon()!.setIsa(isa)) return void console.warn(`[skip] ${isa}: this CPU does not run it`);
      let seed = 1;
      for (const [M, K, N] of SHAPES)
        for (const dtype of ["F32", "F16", "BF16"] as const)
          for (const layout of ["in,out", "out,in"] as const)
            for (const withBias of [false, true]) {
              const a = values(M * K, seed++);
              const { data, widened } = weight(K, N, dtype, layout, seed++);
              const bias = withBias ? values(N, seed++) : null;
              const before = tf.memory().numTensors;
              const c = tf.tidy(() => {
                const w = nativeWeight(data, dtype, K, N, layout);
                return nativeLinear(tf.tensor2d(a, [M, K]), w, bias ? tf.tensor1d(bias) : undefined).dataSync() as Float32Array;
              });
              expect(tf.memory().numTensors).toBe(before);
              const err = relError(c, a, widened, bias, M, K, N);
              expect(err, `${isa} ${dtype} ${layout} bias=${withBias} M=${M} K=${K} N=${N}`).toBeLessThan(TOL);
            }
    });

    test.each(isas)("%s: nativeMatMul and matMulKernel (with bias) on tensors, against float64", (isa) => {
      if (!loadAddon()!.setIsa(isa)) return;
      for (const [M, K, N] of SHAPES) {
        const a = values(M * K, M),
          b = values(K * N, K),
          bias = values(N, N);
        const before = tf.memory().numTensors;
        const [c, cb] = tf.tidy(() => {
          const at = tf.tensor2d(a, [M, K]),
            bt = tf.tensor2d(b, [K, N]);
          return [nativeMatMul(at, bt).dataSync(), matMulKernel()!(at, bt, tf.tensor1d(bias)).dataSync()] as Float32Array[];
        });
        expect(tf.memory().numTensors).toBe(before);
        expect(relError(c, a, b, null, M, K, N)).toBeLessThan(TOL);
        expect(relError(cb, a, b, bias, M, K, N)).toBeLessThan(TOL);
      }
    });

    test("16-bit weights are widened exactly: every F16 and BF16 bit pattern, GEMV and GEMM rows", () => {
      const bits = Uint16Array.from({ length: 65536 }, (_, i) => i);
      for (const dtype of ["F16", "BF16"] as const) {
        const expected = new Float32Array(65536);
        (dtype === "F16" ? f16ToF32 : bf16ToF32)(bits, expected);
        for (const M of [1, 5]) {
          const got = tf.tidy(() => nativeLinear(tf.ones([M, 1]) as tf.Tensor2D, nativeWeight(bits, dtype, 1, 65536, "in,out")).dataSync());
          let bad = 0;
          for (let r = 0; r < M; r++)
            for (let i = 0; i < 65536; i++) {
              const g = got[r * 65536 + i],
                e = expected[i];
              if (!(g === e || (Number.isNaN(g) && Number.isNaN(e)))) bad++;
            }
          expect(bad, `${dtype} M=${M}`).toBe(0);
        }
      }
    });

    test("a row's result does not depend on the rows batched with it, nor on the thread count", () => {
      const M = 37,
        K = 300,
        N = 200;
      const a = tf.tensor2d(values(M * K, 5), [M, K]),
        b = tf.tensor2d(values(K * N, 6), [K, N]);
      setNativeThreads(2);
      const all = nativeMatMul(a, b);
      const rows = tf.tidy(() => tf.concat(Array.from({ length: M }, (_, i) => nativeMatMul(tf.slice(a, [i, 0], [1, K]), b))));
      setNativeThreads(1);
      const one = nativeMatMul(a, b);
      expect(Array.from(rows.dataSync())).toEqual(Array.from(all.dataSync()));
      expect(Array.from(one.dataSync())).toEqual(Array.from(all.dataSync()));
      tf.dispose([a, b, all, rows, one]);
    });

    // out,in GEMV (M ≤ 4) sums along k in vector lanes, so there only GEMM batches (M ≥ 5) are compared
    test("an F16 out,in weight (register-transposed packing): a row's result does not depend on the batch or threads", () => {
      const M = 30,
        K = 300,
        N = 200;
      const { data } = weight(K, N, "F16", "out,in", 7);
      const w = nativeWeight(data, "F16", K, N, "out,in");
      const a = tf.tensor2d(values(M * K, 8), [M, K]),
        bias = tf.tensor1d(values(N, 9));
      setNativeThreads(2);
      const all = nativeLinear(a, w, bias);
      const rows = tf.tidy(() =>
        tf.concat(Array.from({ length: M / 5 }, (_, i) => nativeLinear(tf.slice(a, [5 * i, 0], [5, K]), w, bias))),
      );
      setNativeThreads(1);
      const one = nativeLinear(a, w, bias);
      setNativeThreads(2);
      expect(Array.from(rows.dataSync())).toEqual(Array.from(all.dataSync()));
      expect(Array.from(one.dataSync())).toEqual(Array.from(all.dataSync()));
      tf.dispose([a, bias, all, rows, one]);
    });

    test("fmaPeak measures a positive GFLOP/s on 1 and 2 threads and refuses bad arguments", () => {
      const addon = loadAddon()!;
      for (const t of [1, 2]) expect(addon.fmaPeak(1e5, t)).toBeGreaterThan(0);
      expect(() => addon.fmaPeak(0, 1)).toThrow(/fmaPeak/);
      expect(() => addon.fmaPeak(1e5, 3)).toThrow(/fmaPeak/);
    });

    test("linear() runs it, equal to tf.matMul within tolerance; off when turned off and under a gradient tape", () => {
      const x = tf.tensor3d(values(2 * 7 * 64, 9), [2, 7, 64]);
      const p = { w: tf.tensor2d(values(64 * 96, 10), [64, 96]), b: tf.tensor1d(values(96, 11)) };
      expect(matMulKernel()).not.toBeNull();
      const y = linear(x, p, DEFAULT_PERFORMANCE);
      const ref = linear(x, p, { ...DEFAULT_PERFORMANCE, matmul: "tfjs" });
      expect(matMulKernel({ kernels: "never", matmul: "auto" })).toBeNull();
      expect(matMulKernel({ kernels: "auto", matmul: "tfjs" })).toBeNull();
      expect(y.shape).toEqual([2, 7, 96]);
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(y, ref))).dataSync()[0]);
      expect(diff).toBeLessThan(1e-5);
      let underTape: unknown = "unset";
      tf.grad((w: tf.Tensor) => {
        underTape = matMulKernel();
        return tf.sum(w);
      })(tf.ones([2]));
      expect(underTape).toBeNull();
      tf.dispose([x, p.w, p.b, y, ref]);
    });

    test("bad input: mismatched shapes, dtypes and disposed weights are refused with a clear error", () => {
      expect(() => nativeWeight(new Float32Array(6), "F16", 2, 3, "out,in")).toThrow(/Uint16Array/);
      expect(() => nativeWeight(new Float32Array(5), "F32", 2, 3, "out,in")).toThrow(/5 values/);
      const w = nativeWeight(new Float32Array(6), "F32", 2, 3, "in,out");
      const x = tf.zeros([4, 3]) as tf.Tensor2D;
      expect(() => nativeLinear(x, w)).toThrow(/in 2/);
      w.dispose();
      expect(() => nativeLinear(tf.zeros([4, 2]) as tf.Tensor2D, w)).toThrow(/disposed/);
      expect(() => nativeMatMul(x, x)).toThrow(/nativeMatMul/);
      x.dispose();
    });
  });
}

if (nativeAvailable()) {
  nativeSuite("wasm");
  nativeSuite("cpu");
} else if (process.env.CI === "true") {
  describe("native GEMM", () => {
    test("the addon built and loaded (required under CI)", () => {
      throw new Error(`native GEMM addon unavailable under CI: ${nativeUnavailableReason()}`);
    });
  });
} else {
  console.warn(`[skip] native GEMM: ${nativeUnavailableReason()}`);
  describe.skip("native GEMM", () => test("addon", () => undefined));
}
