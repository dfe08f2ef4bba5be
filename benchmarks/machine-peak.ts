// This machine's WebAssembly SIMD limits, one and two cores, for benchmarks/real-width.ts:
// - arithmetic: 12 independent f32x4 mul+add chains (x ← x·m + c; 8 FLOP per chain and step), enough in
//   flight to cover the mul and add latencies; the most any 128-bit wasm kernel can do per core;
// - read bandwidth: f32x4 sums over a 256 MiB buffer per thread (far beyond the caches), what a
//   one-row decode step is bound by.
// Each thread runs in its own worker with its own memory; two threads start together.
// - native: the addon's AVX-512/AVX2 FMA limit (nativePeak), what its GEMM's GFLOP/s are a fraction of.
import { Worker } from "node:worker_threads";
import { createRequire } from "node:module";
import { loadAddon, setNativeThreads } from "../src/model/kernels/native.js";
import { table } from "./common.js";

const CHAINS = 12;
const BUFFER_BYTES = 256 * 1024 ** 2;

function peakWat(): string {
  const acc = Array.from({ length: CHAINS }, (_, i) => `(local $a${i} v128)`).join(" ");
  const init = Array.from({ length: CHAINS }, (_, i) => `(local.set $a${i} (f32x4.splat (f32.const ${1 + i / 100})))`).join("\n");
  const step = Array.from(
    { length: CHAINS },
    (_, i) => `(local.set $a${i} (f32x4.add (f32x4.mul (local.get $a${i}) (local.get $m)) (local.get $c)))`,
  ).join("\n");
  const sum = Array.from({ length: CHAINS - 1 }, (_, i) => `(local.set $a0 (f32x4.add (local.get $a0) (local.get $a${i + 1})))`).join("\n");
  return `(module
  (memory (export "memory") ${BUFFER_BYTES / 65536 + 1})
  ;; steps × ${CHAINS} chains × 4 lanes × (mul + add)
  (func (export "flops") (param $steps i32) (result f32)
    (local $i i32) (local $m v128) (local $c v128) ${acc}
    (local.set $m (f32x4.splat (f32.const 0.999)))
    (local.set $c (f32x4.splat (f32.const 0.001)))
    ${init}
    (block $done (loop $loop
      (br_if $done (i32.ge_u (local.get $i) (local.get $steps)))
      ${step}
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $loop)))
    ${sum}
    (f32x4.extract_lane 0 (local.get $a0)))
  ;; sums bytes [0, n) of memory with four accumulators
  (func (export "read") (param $n i32) (result f32)
    (local $p i32) (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (block $done (loop $loop
      (br_if $done (i32.ge_u (local.get $p) (local.get $n)))
      (local.set $s0 (f32x4.add (local.get $s0) (v128.load offset=0 (local.get $p))))
      (local.set $s1 (f32x4.add (local.get $s1) (v128.load offset=16 (local.get $p))))
      (local.set $s2 (f32x4.add (local.get $s2) (v128.load offset=32 (local.get $p))))
      (local.set $s3 (f32x4.add (local.get $s3) (v128.load offset=48 (local.get $p))))
      (local.set $p (i32.add (local.get $p) (i32.const 64)))
      (br $loop)))
    (f32x4.extract_lane 0 (f32x4.add (f32x4.add (local.get $s0) (local.get $s1)) (f32x4.add (local.get $s2) (local.get $s3))))))`;
}

async function assemble(): Promise<Uint8Array> {
  const wabt = await (
    createRequire(import.meta.url)("wabt") as () => Promise<{
      parseWat(n: string, s: string, f: object): { toBinary(o: object): { buffer: Uint8Array } };
    }>
  )();
  return wabt.parseWat("peak.wat", peakWat(), { simd: true }).toBinary({}).buffer;
}

// Worker: instantiate, wait for "go", run `reps` timed repetitions of each measurement, report medians.
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const { bytes, steps, reps, bufferBytes } = workerData;
const ex = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports;
new Float32Array(ex.memory.buffer, 0, bufferBytes / 4).fill(1);
ex.flops(steps / 10); ex.read(bufferBytes);
const med = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
parentPort.once("message", () => {
  const f = [], r = [];
  for (let i = 0; i < reps; i++) {
    let t = performance.now(); ex.flops(steps); f.push(performance.now() - t);
    t = performance.now(); ex.read(bufferBytes); r.push(performance.now() - t);
  }
  parentPort.postMessage({ flopsMs: med(f), readMs: med(r) });
});
parentPort.postMessage("ready");
`;

export interface PeakResult {
  threads: number;
  /** mul+add GFLOP/s over all threads. */
  gflops: number;
  /** Read bandwidth over all threads, GB/s (10⁹ bytes). */
  readGBs: number;
}

async function runThreads(bytes: Uint8Array, threads: number, steps: number, reps: number): Promise<PeakResult> {
  const workers = Array.from(
    { length: threads },
    () => new Worker(WORKER, { eval: true, workerData: { bytes, steps, reps, bufferBytes: BUFFER_BYTES } }),
  );
  await Promise.all(workers.map((w) => new Promise((ok) => w.once("message", ok))));
  const results = await Promise.all(
    workers.map((w) => {
      const done = new Promise<{ flopsMs: number; readMs: number }>((ok) => w.once("message", ok));
      w.postMessage("go");
      return done;
    }),
  );
  await Promise.all(workers.map((w) => w.terminate()));
  const flop = steps * CHAINS * 8;
  return {
    threads,
    gflops: results.reduce((s, r) => s + flop / (r.flopsMs * 1e6), 0),
    readGBs: results.reduce((s, r) => s + BUFFER_BYTES / (r.readMs * 1e6), 0),
  };
}

/** One- and two-thread SIMD arithmetic peak and read bandwidth (medians of `reps`). */
export async function machinePeak(reps = 7): Promise<PeakResult[]> {
  const bytes = await assemble();
  const steps = 20_000_000;
  return [await runThreads(bytes, 1, steps, reps), await runThreads(bytes, 2, steps, reps)];
}

export interface NativePeak {
  isa: string;
  threads: number;
  /** FMA GFLOP/s over all threads (2 FLOP per lane and FMA). */
  gflops: number;
}

/**
 * The native addon's arithmetic limit: 12 register-only vector FMA chains per thread (addon fmaPeak), for
 * each ISA this CPU runs, 1 and 2 threads (medians of `reps`): what the GEMM's GFLOP/s are a fraction of.
 */
export function nativePeak(reps = 5): NativePeak[] {
  const addon = loadAddon();
  if (!addon) return [];
  const original = addon.isa();
  setNativeThreads(2);
  const out: NativePeak[] = [];
  for (const isa of ["avx512", "avx2"]) {
    if (!addon.setIsa(isa)) continue;
    for (const threads of [1, 2]) {
      const runs = Array.from({ length: reps }, () => addon.fmaPeak(30_000_000, threads)).sort((a, b) => a - b);
      out.push({ isa, threads, gflops: runs[reps >> 1] });
    }
  }
  addon.setIsa(original);
  return out;
}

/** Both peak tables as printed by benchmarks/real-width.ts --parts peak. */
export async function peakReport(): Promise<string> {
  const wasm = await machinePeak();
  let out = "wasm SIMD limits (f32x4 mul+add chains; f32x4 sums over 256 MiB per thread):\n\n";
  out += table(
    ["threads", "mul+add GFLOP/s", "read GB/s"],
    wasm.map((p) => [p.threads, p.gflops, p.readGBs]),
  );
  const native = nativePeak();
  out += "\n\nnative FMA limits (12 register-only vector FMA chains per thread, the addon's kernels):\n\n";
  out += native.length
    ? table(
        ["ISA", "threads", "FMA GFLOP/s"],
        native.map((p) => [p.isa, p.threads, p.gflops]),
      )
    : "(addon unavailable)";
  return out + "\n";
}
