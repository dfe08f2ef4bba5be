// A faster gradient for BatchMatMul. tfjs's own gradient multiplies with transpose flags
// (dA = dY·Bᵀ as matMul(dy, b, false, true), dB = Aᵀ·dY as matMul(a, dy, true, false)); on the wasm
// backend a flagged matMul leaves XNNPACK's fast path and was 15–20× slower than the forward product
// in our profile (it dominated training time). Here the operands are transposed explicitly (an O(n)
// copy) and multiplied without flags. Same mathematics, so it is safe to install process-wide; batch
// broadcasting cases fall back to the original gradient.
import * as tf from "@tensorflow/tfjs-core";

let installed = false;
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

export function installFastMatMulGradient(): void {
  if (installed) return;
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
  installed = true;
}

/** Puts tfjs's own gradient back (benchmarks compare the two). */
export function uninstallFastMatMulGradient(): void {
  if (!installed || !original) return;
  tf.registerGradient(original);
  installed = false;
}
