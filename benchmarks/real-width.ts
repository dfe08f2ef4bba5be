// Real-width speed against PyTorch eager, side by side in one run (issue 16): CLIP ViT-L/14-336 + the
// 7B projector, one Vicuna-7B layer's 595-position prefill and decode step, CausalMM decoding at 7B
// widths against plain decoding, the big matMuls alone (gemm), and this machine's SIMD peak and read bandwidth.
// Each row runs on tfjs-wasm with XNNPACK (wasm-Nt) and with linear() on the native GEMM addon (native-Nt).
// Run: npm run build && flock /work/coord/bigmem.lock node dist/benchmarks/real-width.js [--parts peak,gemm,clip,text]
//        [--rounds 3] [--wasm-threads 1,2|none] [--native-threads 1,2|none] [--torch-threads 1,2]
//        [--openblas-threads 1,2] [--allow-reference-blas] [--decode-runs 5]
// Each configuration is a server process holding its model (wasm with 1 or 2 threads: one Node process
// each, the thread count is fixed per process; PyTorch: one Python process per OpenBLAS thread count,
// torch threads set per call), and
// the rounds go through every row of every configuration in turn, so the machine's drift hits all alike.
// Peak memory: ≈ 2.6 GB per wasm process for CLIP (weights + XNNPACK's packed copies), ≈ 3.5 GB for the
// 7B layer, ≈ 1.3–1.9 GB for PyTorch: take /work/coord/bigmem.lock.
import * as tf from "@tensorflow/tfjs-core";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { initBackend } from "../src/backend.js";
import { buildModel } from "../src/model/load.js";
import { KVCache } from "../src/model/kv-cache.js";
import { CausalSource } from "../src/causal/source.js";
import { ModelSource, type LogitsSource } from "../src/generate/source.js";
import { buildPlan } from "../src/causal/presets.js";
import type { LlavaModel } from "../src/model/llava.js";
import { PACKAGE_ROOT } from "../src/paths.js";
import { median, table } from "./common.js";
import { lazyRandomSource, realWidthConfig, textPrompt, PROMPT_POSITIONS, type RealWidthPart } from "./real-width-models.js";
import { peakReport } from "./machine-peak.js";
import { GEMM_ROWS, gemmCost, gemmRows } from "./real-width-gemm.js";
import { nativeAvailable, nativeUnavailableReason, setNativeThreads } from "../src/model/kernels/native.js";

/** The model parts, and "gemm": the big matMuls alone (real-width-gemm.ts). */
type Part = RealWidthPart | "gemm";

const CAUSAL_STEPS = 4;

/** GFLOP of each row (2 per multiply-add of the weight matMuls and attention products). */
function gflop(row: string): number {
  const T = 577,
    D = 1024,
    I = 4096,
    L = 23; // CLIP-L up to the selected layer
  const clip = L * (2 * T * (4 * D * D + 2 * D * I) + 2 * 2 * T * T * D) + 2 * 576 * (1024 * 4096 + 4096 * 4096) + 2 * 576 * 588 * D;
  const S = PROMPT_POSITIONS,
    D7 = 4096,
    I7 = 11008,
    V = 32064;
  const layer = 4 * D7 * D7 + 3 * D7 * I7;
  if (row.startsWith("gemm-")) return gemmCost(row).gflop;
  if (row === "clip") return clip / 1e9;
  if (row === "prefill") return (2 * S * layer + 2 * 2 * S * S * D7 + 2 * D7 * V) / 1e9;
  return (2 * (layer + D7 * V) + 2 * 2 * (S + 1) * D7) / 1e9;
}

/** Float32 weight bytes one decode step reads (the layer and lm_head). */
const DECODE_BYTES = 4 * (4 * 4096 * 4096 + 3 * 4096 * 11008 + 4096 * 32064);

// ---------------------------------------------------------------- server side (one model per process)

/** Prefilled sources stepped together: one call = CAUSAL_STEPS steps, ms per step. */
function stepper(sources: LogitsSource[]): () => number {
  sources.forEach((s) => s.prefill());
  let k = 0;
  return () => {
    const t = performance.now();
    for (let i = 0; i < CAUSAL_STEPS; i++, k++) sources.forEach((s) => s.step([5 + (k % 900)]));
    return (performance.now() - t) / CAUSAL_STEPS;
  };
}

function textRows(model: LlavaModel): Record<string, () => number> {
  const ids = textPrompt(model);
  const pixels = tf.randomNormal([1, 3, 56, 56], 0, 1, "float32", 1) as tf.Tensor4D;
  const feats = tf.keep(tf.tidy(() => model.encodeImages(pixels).features));
  const prefill = (cache: KVCache) =>
    tf.tidy(() => void model.decode(model.embed(ids, feats), { cache, logits: "last" }).logits!.dataSync());
  let cache = new KVCache(1);
  prefill(cache);
  const timed = (fn: () => void) => () => {
    const t = performance.now();
    fn();
    return performance.now() - t;
  };
  const plan = (cf: string[]) => buildPlan({ cf }, model.config);
  const causal = {
    "causal-plain": stepper([new ModelSource(model, ids, { pixels })]),
    "causal-multimodal": stepper([new CausalSource(model, { plan: plan(["both"]), prompts: { main: ids }, pixels })]),
    "causal-vision": stepper([new CausalSource(model, { plan: plan(["vision:uniform@sel"]), prompts: { main: ids }, pixels })]),
  };
  return {
    prefill: timed(() => {
      const c = new KVCache(1);
      prefill(c);
      c.dispose();
    }),
    decode: () => {
      if (cache.length > PROMPT_POSITIONS + 100) {
        cache.dispose();
        cache = new KVCache(1);
        prefill(cache);
      }
      return timed(() => tf.tidy(() => void model.decode(model.embedStep([7]), { cache, logits: "last" }).logits!.dataSync()))();
    },
    ...causal,
  };
}

function clipRows(model: LlavaModel): Record<string, () => number> {
  const pixels = tf.randomNormal([1, 3, 336, 336], 0, 1, "float32", 2) as tf.Tensor4D;
  return {
    clip: () => {
      const t = performance.now();
      tf.tidy(() => void model.encodeImages(pixels).features.dataSync());
      return performance.now() - t;
    },
  };
}

/** Weight bytes a row reads once (decode rows: bandwidth-bound), or 0. */
function rowBytes(row: string): number {
  if (row === "decode") return DECODE_BYTES;
  return row.startsWith("gemm-1x") ? gemmCost(row).bytes : 0;
}

/** One configuration's server: wasm with `threads` threads; linear() through the native addon on `native` threads, or "off". */
async function serve(part: Part, threads: number, native: string): Promise<void> {
  const info = await initBackend("wasm", { wasmThreads: threads });
  if (native !== "off") {
    if (!nativeAvailable()) throw new Error(`native GEMM asked for but unavailable: ${nativeUnavailableReason()}`);
    setNativeThreads(Number(native));
  }
  let rows: Record<string, () => number>;
  if (part === "gemm") {
    rows = gemmRows(native !== "off");
  } else {
    const perf = { matmul: native === "off" ? "tfjs" : "native" } as const; // "off": the XNNPACK rows
    const model = buildModel(realWidthConfig(part), lazyRandomSource(realWidthConfig(part)), { performance: perf });
    rows = part === "clip" ? clipRows(model) : textRows(model);
  }
  console.log(JSON.stringify({ ready: part, threads: info.threads, native }));
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === "quit") break;
    const row = line.trim();
    console.log(JSON.stringify({ row, ms: rows[row]() }));
  }
  process.exit(0);
}

// ---------------------------------------------------------------- orchestration

interface Server {
  name: string;
  /** The server's first JSON line. */
  ready: Record<string, unknown>;
  ask(line: string): Promise<{ ms: number }>;
  close(): void;
}

async function startServer(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Server> {
  const child: ChildProcessWithoutNullStreams = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
  child.stderr.on("data", (d) => process.stderr.write(`[${name}] ${d}`));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    for (;;) {
      const { value, done } = await lines.next();
      if (done) throw new Error(`${name} exited (see its stderr above)`);
      if (value.startsWith("{")) return JSON.parse(value);
    }
  };
  const ready = await next();
  process.stderr.write(`${name} ready ${JSON.stringify(ready)}\n`);
  return {
    name,
    ready,
    ask: async (line) => {
      child.stdin.write(line + "\n");
      return next();
    },
    close: () => child.stdin.end("quit\n"),
  };
}

const torchLabel = (threads: number, blas: number) => `torch-${threads}t-ob${blas}`;

/**
 * The PyTorch server with OpenBLAS on `blas` threads (OPENBLAS_NUM_THREADS is read once per process).
 * Refuses a torch that mapped Debian's reference libblas3 instead of OpenBLAS (≈ 25× slower: every ratio
 * against it would flatter this project) unless the caller asks for it.
 */
async function startTorch(part: Part, blas: number, allowReferenceBlas: boolean): Promise<Server> {
  const script = join(PACKAGE_ROOT, "benchmarks", "real_width_torch.py");
  const s = await startServer(`torch-ob${blas}`, "/usr/bin/python3", [script, part], { OPENBLAS_NUM_THREADS: String(blas) });
  const blasLibs = (s.ready.blas as string[] | undefined) ?? [];
  console.log(`PyTorch ${String(s.ready.torch)}, OpenBLAS threads ${blas}, BLAS libraries: ${blasLibs.join(", ") || "none mapped"}`);
  if (!blasLibs.some((l) => l.includes("openblas")) && !allowReferenceBlas) {
    s.close();
    throw new Error(
      "PyTorch is not using OpenBLAS (see the BLAS libraries above): `apt-get install libopenblas0-pthread`, " +
        "or pass --allow-reference-blas to time it anyway",
    );
  }
  return s;
}

function arg(argv: string[], name: string, def: string): string {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : def;
}

/** Rounds over every (row, configuration); returns medians in ms keyed "config/row". */
async function measure(
  servers: { s: Server; cfgs: { label: string; line: (row: string) => string }[]; rows: string[] }[],
  rounds: number,
  repeat: Record<string, number>,
) {
  const times = new Map<string, number[]>();
  for (let r = -1; r < rounds; r++) {
    for (const { s, cfgs, rows } of servers)
      for (const row of rows)
        for (const c of cfgs)
          for (let k = 0; k < (repeat[row] ?? 1); k++) {
            const { ms } = await s.ask(c.line(row));
            if (r < 0) continue; // untimed warm-up round
            const key = `${c.label}/${row}`;
            times.set(key, [...(times.get(key) ?? []), ms]);
          }
    process.stderr.write(`round ${r + 1}/${rounds} done, load ${loadavg()[0].toFixed(2)}\n`);
  }
  return new Map([...times].map(([k, v]) => [k, median(v)]));
}

/** The rows each kind of server times in a part (torch has no F16 GEMM row and no CausalMM rows). */
function partRows(part: Part, kind: "torch" | "wasm" | "native"): string[] {
  if (part === "gemm") return GEMM_ROWS.filter((r) => kind === "native" || !r.endsWith("-f16"));
  if (part === "clip") return ["clip"];
  return kind === "torch" ? ["prefill", "decode"] : ["prefill", "decode", "causal-plain", "causal-multimodal", "causal-vision"];
}

/** Configuration labels: `wasm-Nt` (XNNPACK on N wasm threads), `native-Nt` (the addon on N threads, wasm backend). */
async function runPart(
  part: Part,
  wasmThreads: number[],
  nativeThreads: number[],
  torchThreads: number[],
  blasThreads: number[],
  allowReferenceBlas: boolean,
  rounds: number,
  decodeRuns: number,
) {
  const self = fileURLToPath(import.meta.url);
  const torches: Server[] = [];
  for (const b of blasThreads) torches.push(await startTorch(part, b, allowReferenceBlas));
  const servers: { s: Server; label: string; kind: "wasm" | "native" }[] = [];
  for (const t of wasmThreads)
    servers.push({
      s: await startServer(`wasm-${t}t`, process.execPath, [self, "--serve", part, String(t), "off"], {}),
      label: `wasm-${t}t`,
      kind: "wasm",
    });
  for (const t of nativeThreads) {
    servers.push({
      s: await startServer(`native-${t}t`, process.execPath, [self, "--serve", part, "1", String(t)], {}),
      label: `native-${t}t`,
      kind: "native",
    });
  }
  const loadBefore = loadavg();
  const med = await measure(
    [
      ...torches.map((s, i) => ({
        s,
        cfgs: torchThreads.map((t) => ({ label: torchLabel(t, blasThreads[i]), line: (row: string) => `${row} ${t}` })),
        rows: partRows(part, "torch"),
      })),
      ...servers.map(({ s, label, kind }) => ({ s, cfgs: [{ label, line: (row: string) => row }], rows: partRows(part, kind) })),
    ],
    rounds,
    {
      decode: decodeRuns,
      "gemm-1x4096x11008": decodeRuns,
      "gemm-1x4096x11008-f16": decodeRuns,
      "causal-plain": 2,
      "causal-multimodal": 2,
      "causal-vision": 2,
    },
  );
  [...torches, ...servers.map((x) => x.s)].forEach((s) => s.close());
  return { med, load: [loadBefore, loadavg()] };
}

const LABELS: [RegExp, string][] = [
  [/^torch-(\d+)t-ob(\d+)$/, "PyTorch eager, $1 thread(s), OpenBLAS $2"],
  [/^wasm-(\d+)t$/, "this project, wasm (XNNPACK), $1 thread(s)"],
  [/^native-(\d+)t$/, "this project, wasm + native GEMM, $1 thread(s)"],
];
const describe = (label: string) => LABELS.reduce((s, [re, text]) => s.replace(re, text), label);

function report(part: Part, med: Map<string, number>, labels: string[]): string {
  const torchLabels = labels.filter((l) => l.startsWith("torch-"));
  const rows: (string | number)[][] = [];
  const timed = part === "gemm" ? GEMM_ROWS : part === "clip" ? ["clip"] : ["prefill", "decode"];
  for (const row of timed) {
    const torchMs = torchLabels.map((l) => med.get(`${l}/${row}`)).filter((x): x is number => x !== undefined);
    const torchBest = torchMs.length ? Math.min(...torchMs) : NaN;
    for (const label of labels) {
      const ms = med.get(`${label}/${row}`);
      if (ms === undefined) continue;
      const bytes = rowBytes(row);
      rows.push([
        row,
        describe(label),
        ms,
        gflop(row) / (ms / 1000),
        bytes ? bytes / (ms * 1e6) : "",
        Number.isNaN(torchBest) ? "—" : ms / torchBest,
      ]);
    }
  }
  let out = table(["row", "implementation", "ms (median)", "GFLOP/s", "weight GB/s", "× PyTorch best"], rows);
  if (part === "text") {
    const causal = labels
      .filter((l) => !l.startsWith("torch"))
      .map((label) => {
        const plain = med.get(`${label}/causal-plain`)!;
        const [mm, one] = [med.get(`${label}/causal-multimodal`)!, med.get(`${label}/causal-vision`)!];
        return [describe(label), plain, mm, mm / plain, one, one / plain];
      });
    out += "\n\nCausalMM decode step at 7B widths (one layer + lm_head, batched branches), ms per token:\n";
    out += table(["implementation", "plain", "multimodal (2 branches)", "× plain", "vision CF (1 branch)", "× plain"], causal);
  }
  return out;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === "--serve") return serve(argv[1] as Part, Number(argv[2]), argv[3]);
  const parts = arg(argv, "--parts", "peak,gemm,clip,text").split(",");
  const rounds = Number(arg(argv, "--rounds", "3"));
  const list = (name: string, def: string) => (arg(argv, name, def) === "none" ? [] : arg(argv, name, def).split(",").map(Number));
  const wasmThreads = list("--wasm-threads", "1,2");
  const nativeThreads = list("--native-threads", "1,2");
  const torchThreads = arg(argv, "--torch-threads", "1,2").split(",").map(Number);
  const blasThreads = arg(argv, "--openblas-threads", "1,2").split(",").map(Number);
  const allowReferenceBlas = argv.includes("--allow-reference-blas");
  const decodeRuns = Number(arg(argv, "--decode-runs", "5"));
  console.log(
    `real-width benchmark, ${new Date().toISOString()}, load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}\n`,
  );
  if (parts.includes("peak")) console.log(await peakReport());
  for (const part of ["gemm", "clip", "text"] as const) {
    if (!parts.includes(part)) continue;
    const { med, load } = await runPart(
      part,
      wasmThreads,
      nativeThreads,
      torchThreads,
      blasThreads,
      allowReferenceBlas,
      rounds,
      decodeRuns,
    );
    console.log(
      `${part}: ${rounds} rounds (after one untimed), ` +
        `load average before ${load[0].map((x) => x.toFixed(2)).join(" ")}, after ${load[1].map((x) => x.toFixed(2)).join(" ")}\n`,
    );
    const labels = [
      ...blasThreads.flatMap((b) => torchThreads.map((t) => torchLabel(t, b))),
      ...wasmThreads.map((t) => `wasm-${t}t`),
      ...nativeThreads.map((t) => `native-${t}t`),
    ];
    console.log(report(part, med, labels) + "\n");
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
