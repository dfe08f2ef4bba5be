// The GEMM rows of benchmarks/real-width.ts: the big matMuls of CLIP-L and a Vicuna-7B layer alone, as
// XNNPACK (tf.matMul on wasm) or the native addon (src/model/kernels/native.ts) runs them. Shapes are
// M×K×N: 577×1024×4096 (CLIP fc1), 595×4096×11008 (7B gate/up over the prompt), 1×4096×11008 (a decode
// step's gate/up; F32 as tfjs tensors [K,N], and F16 as a safetensors-layout [N,K] weight read in place).
import * as tf from "@tensorflow/tfjs-core";
import { matMulKernel } from "../src/model/kernels/kernels.js";
import { nativeLinear, nativeWeight } from "../src/model/kernels/native.js";

export const GEMM_ROWS = ["gemm-577x1024x4096", "gemm-595x4096x11008", "gemm-1x4096x11008", "gemm-1x4096x11008-f16"];

/** M, K, N and whether the weight is F16 of a GEMM row name. */
export function gemmShape(row: string): { M: number; K: number; N: number; f16: boolean } {
  const [M, K, N] = row.split("-")[1].split("x").map(Number);
  return { M, K, N, f16: row.endsWith("-f16") };
}

/** GFLOP of a GEMM row, and the weight bytes it reads. */
export function gemmCost(row: string): { gflop: number; bytes: number } {
  const { M, K, N, f16 } = gemmShape(row);
  return { gflop: (2 * M * K * N) / 1e9, bytes: K * N * (f16 ? 2 : 4) };
}

/** The timed GEMM rows of a server (ms per call); F16 only where the native addon runs. */
export function gemmRows(native: boolean): Record<string, () => number> {
  const rows: Record<string, () => number> = {};
  for (const row of GEMM_ROWS) {
    const { M, K, N, f16 } = gemmShape(row);
    if (f16 && !native) continue;
    const a = tf.randomNormal([M, K], 0, 1, "float32", 1) as tf.Tensor2D;
    const b = f16 ? null : (tf.randomUniform([K, N], -0.03, 0.03, "float32", 2) as tf.Tensor2D);
    const w16 = f16 ? nativeWeight(new Uint16Array(K * N).fill(0x2000), "F16", K, N, "out,in") : null;
    rows[row] = () => {
      const t = performance.now();
      const kernel = native ? matMulKernel() : null;
      const y = w16 ? nativeLinear(a, w16) : kernel ? kernel(a, b!) : tf.matMul(a, b!);
      const ms = performance.now() - t;
      y.dispose();
      return ms;
    };
  }
  return rows;
}
