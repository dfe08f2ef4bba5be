// A faster gradient for BatchMatMul. tfjs's own gradient multiplies with transpose flags
// (dA = dY·Bᵀ as matMul(dy, b, false, true), dB = Aᵀ·dY as matMul(a, dy, true, false)); on the wasm
// backend a flagged matMul leaves XNNPACK's fast path and was 15–20× slower than the forward product
// in our profile (it dominated training time). Here the operands are transposed explicitly (an O(n)
// copy) and multiplied without flags. Same mathematics; batch broadcasting cases fall back to the
// original gradient. tfjs keeps one gradient per kernel for the whole process, so the model's choice
// (performance.matMulGradient) is installed for the duration of a training run and put back after.
import * as tf from "@tensorflow/tfjs-core";
import type { PerformanceOptions } from "../model/performance.js";

let installed = 0;
let original: tf.GradConfig | undefined;

/** Swaps the last two axes. */
function t(x: tf.Tensor): tf.Tensor {
  const perm = [...Array(x.rank).keys()];
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  return tf.transpose(x, perm);
}

const mm = (a: tf.Tensor, b: tf.Tensor) => tf.matMul(a, b);

function sameBatch(a: tf.Tensor, b: tf.Tensor): boolean {
  return a.rank === b.rank && a.shape.slice(0, -2).every((d, i) => d === b.shape[i]);
}

/** Runs `run` with BatchMatMul's gradient as `mode` says (nested runs share one installation). */
export function withMatMulGradient<T>(mode: PerformanceOptions["matMulGradient"], run: () => T): T {
  if (mode === "tfjs") return run();
  install();
  try {
    return run();
  } finally {
    uninstall();
  }
}

function install(): void {
  if (installed > 0) {
    installed++;
    return;
  }
  original = tf.getGradient("BatchMatMul");
  if (!original) throw new Error("tfjs has no BatchMatMul gradient to replace");
  const fallback = original;
  tf.registerGradient({
    kernelName: "BatchMatMul",
    inputsToSave: ["a", "b"],
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved;
      if (!sameBatch(a, b)) return fallback.gradFunc(dy, saved, attrs);
      const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
      const g = dy as tf.Tensor;
      if (!transposeA && !transposeB) return { a: () => mm(g, t(b)), b: () => mm(t(a), g) };
      if (!transposeA && transposeB) return { a: () => mm(g, b), b: () => mm(t(g), a) };
      if (transposeA && !transposeB) return { a: () => mm(b, t(g)), b: () => mm(a, g) };
      return { a: () => mm(t(b), t(g)), b: () => mm(t(g), t(a)) };
    },
  });
  installed = 1;
}

/** Puts tfjs's own gradient back when the outermost run ends. */
function uninstall(): void {
  if (--installed > 0 || !original) return;
  tf.registerGradient(original);
}
