// tfjs-wasm's threaded SIMD build under Node (src/model/kernels/wasm-threads.ts), started through
// initBackend({wasmThreads: 2}) in a child process (the backend is fixed once per process): XNNPACK
// gets two threads, a matMul matches the single-threaded build's, the project's SIMD decode kernels
// run on its shared memory and equal tfjs ops, and the process exits by itself.
import { describe, expect, test } from "vitest";
import { execFileSync } from "node:child_process";
import { join } from "node:path";

const script = (threads: number) => `
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from ${JSON.stringify(join(process.cwd(), "dist/src/backend.js"))};
import { attentionKernels, cutoffKernel } from ${JSON.stringify(join(process.cwd(), "dist/src/model/kernels/kernels.js"))};
const info = await initBackend("wasm", { wasmThreads: ${threads} });
// the project's decode kernels against tfjs ops: [B,H,1,hd] rows over [B,Hkv,S,hd] storage, 2 spare positions
const q = tf.randomNormal([2, 4, 1, 20], 0, 1, "float32", 1), k = tf.randomNormal([2, 2, 39, 20], 0, 1, "float32", 2);
const kernels = attentionKernels(1, { kernels: "auto" });
let kernelDiff = null, cutoffKept = null;
if (kernels) {
  const used = tf.gather(k.slice([0, 0, 0, 0], [-1, -1, 37, -1]), [0, 0, 1, 1], 1);
  const scores = kernels.qk(q, k, 37);
  kernelDiff = Math.max(tf.max(tf.abs(tf.sub(scores, tf.matMul(q, used, false, true)))).dataSync()[0],
    tf.max(tf.abs(tf.sub(kernels.pv(tf.softmax(scores), k), tf.matMul(tf.softmax(scores), used)))).dataSync()[0]);
  const logits = tf.tensor2d([[0, -5, 1, -0.5, 2]]);
  cutoffKept = Array.from(cutoffKernel({ kernels: "auto" })(logits, 0.1, 4).kept.dataSync()).slice(0, 4);
}
const a = tf.tensor2d(Array.from({ length: 300 * 200 }, (_, i) => Math.sin(i)), [300, 200]);
const b = tf.tensor2d(Array.from({ length: 200 * 100 }, (_, i) => Math.cos(i)), [200, 100]);
const y = tf.matMul(a, b).dataSync();
console.log(JSON.stringify({ kernelDiff, cutoffKept, threads: info.threads, sum: Array.from(y).reduce((s, v) => s + v, 0), first: y[0] }));
`;

function run(threads: number): { threads: number; sum: number; first: number; kernelDiff: number | null; cutoffKept: number[] | null } {
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script(threads)], { encoding: "utf8", timeout: 60_000 });
  return JSON.parse(out.trim().split("\n").pop()!);
}

describe("wasm threads", () => {
  test("two XNNPACK threads under Node, same matMul as one thread, the process exits", () => {
    const one = run(1);
    const two = run(2);
    expect(one.threads).toBe(1);
    expect(two.threads).toBe(2);
    expect(two.first).toBe(one.first);
    expect(two.sum).toBeCloseTo(one.sum, 3);
    // the decode kernels run on the threaded build's shared memory too, and equal tfjs ops there
    for (const r of [one, two]) {
      expect(r.kernelDiff).not.toBeNull();
      expect(r.kernelDiff!).toBeLessThan(1e-5);
      expect(r.cutoffKept).toEqual([3, 0, 2, 4]);
    }
  });
});
