// Throughput of `ask` (greedy, one image) on the tiny-336 fixture model: vision encode ms, prefill
// and decode tokens/s, median of several runs per backend, printed as a Markdown table.
// Build with `npx tsc -p tsconfig.json`, run `node dist/benchmarks/ask.js [runs] [newTokens] [backends]`
// (backends comma-separated, default "wasm,cpu"). Fixtures: $CAUSALMM_FIXTURES or ../shared/fixtures.
import { existsSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadLlava } from "../src/api.js";
import type { Timings } from "../src/generate/generate.js";
import { loadImage } from "../src/vision/index.js";

const QUESTION = "What is in this picture? Describe it in detail.";

function fixturesDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/benchmarks/ when built, benchmarks/ when run from source.
  const candidates = [process.env.CAUSALMM_FIXTURES, resolve(here, "../../../shared/fixtures"), resolve(here, "../../shared/fixtures")];
  const found = candidates.find((c) => c && existsSync(join(c, "llava-tiny", "model-f32", "config.json")));
  if (!found) throw new Error(`fixtures not found; set CAUSALMM_FIXTURES (looked in ${candidates.filter(Boolean).join(", ")})`);
  return found;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

async function bench(fixtures: string, backend: string, runs: number, newTokens: number): Promise<string[]> {
  const m = await loadLlava(join(fixtures, "llava-tiny", "model-f32"), { backend, tokenizerDir: join(fixtures, "tokenizer") });
  try {
    const image = await loadImage(join(fixtures, "preprocess", "coffee.png"));
    // No EOS: a random model could stop early, and every run must decode the same number of tokens.
    const ask = () => m.ask(image, QUESTION, { maxNewTokens: newTokens, eosTokenIds: [] });
    await ask(); // warm-up: kernel setup, wasm code paths, JIT
    const t: Timings[] = [];
    for (let i = 0; i < runs; i++) t.push((await ask()).timings);
    const med = (f: (x: Timings) => number) => median(t.map(f));
    return [
      backend,
      String(t[0].prefillTokens),
      med((x) => x.imageMs ?? 0).toFixed(1),
      med((x) => x.visionEncodeMs).toFixed(1),
      med((x) => x.prefillMs).toFixed(1),
      med((x) => x.prefillTokensPerSec).toFixed(0),
      String(t[0].decodeTokens),
      med((x) => x.decodeMs / Math.max(1, x.decodeTokens)).toFixed(2),
      med((x) => x.decodeTokensPerSec).toFixed(1),
      med((x) => x.totalMs + (x.imageMs ?? 0)).toFixed(0),
    ];
  } finally {
    m.dispose();
  }
}

function printTable(rows: string[][]): void {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]): string => `| ${r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join(" | ")} |`;
  console.log(line(rows[0]));
  console.log(`| ${widths.map((w, c) => (c === 0 ? "-".repeat(w) : `${"-".repeat(w - 1)}:`)).join(" | ")} |`);
  for (const r of rows.slice(1)) console.log(line(r));
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 5);
  const newTokens = Number(process.argv[3] ?? 32);
  const backends = (process.argv[4] ?? "wasm,cpu").split(",");
  const fixtures = fixturesDir();
  console.log(
    `llava-tiny (336 px, 576 image tokens), greedy, ${newTokens} new tokens, median of ${runs} runs; node ${process.version}, ${cpus().length} CPUs\n`,
  );
  const rows = [
    [
      "backend",
      "prefill tokens",
      "preprocess ms",
      "vision encode ms",
      "prefill ms",
      "prefill tok/s",
      "decode steps",
      "ms/step",
      "decode tok/s",
      "total ms",
    ],
  ];
  for (const b of backends) rows.push(await bench(fixtures, b, runs, newTokens));
  printTable(rows);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
