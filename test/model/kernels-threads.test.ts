// tfjs-wasm's threaded SIMD build under Node (src/model/kernels/wasm-threads.ts), started through
// initBackend({wasmThreads: 2}) in a child process (the backend is fixed once per process): XNNPACK
// gets two threads, a matMul matches the single-threaded build's, and the process exits by itself.
import { describe, expect, test } from "vitest";
import { execFileSync } from "node:child_process";
import { join } from "node:path";

const script = (threads: number) => `
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from ${JSON.stringify(join(process.cwd(), "dist/src/backend.js"))};
const info = await initBackend("wasm", { wasmThreads: ${threads} });
const a = tf.tensor2d(Array.from({ length: 300 * 200 }, (_, i) => Math.sin(i)), [300, 200]);
const b = tf.tensor2d(Array.from({ length: 200 * 100 }, (_, i) => Math.cos(i)), [200, 100]);
const y = tf.matMul(a, b).dataSync();
console.log(JSON.stringify({ threads: info.threads, sum: Array.from(y).reduce((s, v) => s + v, 0), first: y[0] }));
`;

function run(threads: number): { threads: number; sum: number; first: number } {
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
  });
});
