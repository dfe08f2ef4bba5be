// Times the vision front end on the fixture photos: decode, PIL-exact resize, and the whole CLIP
// preprocess (resize + crop + normalise; pad mode also pastes onto a square first).
// Build with `npx tsc -p tsconfig.json`, run `node dist/benchmarks/preprocess.js [runs]`.
// Fixtures come from $CAUSALMM_FIXTURES or ../shared/fixtures next to the repository.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  activeJpegDecoder,
  decodeImage,
  defaultProcessorConfig,
  preprocess,
  resizeBicubic,
  shortestEdgeSize,
  type DecodeOptions,
  type RgbImage,
} from "../src/vision/index.js";

const IMAGES = ["chelsea.png", "coffee.png", "camera.png", "logo.png", "rocket.jpg", "coffee_420.jpg", "chelsea_exif6.jpg"];

function fixturesDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/benchmarks/ when built, benchmarks/ when run from source.
  const candidates = [process.env.CAUSALMM_FIXTURES, resolve(here, "../../../shared/fixtures"), resolve(here, "../../shared/fixtures")];
  const found = candidates.find((c) => c && existsSync(join(c, "preprocess", "manifest.json")));
  if (!found) throw new Error(`fixtures not found; set CAUSALMM_FIXTURES (looked in ${candidates.filter(Boolean).join(", ")})`);
  return join(found, "preprocess");
}

function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

interface Timing {
  median: number;
  min: number;
}

async function timeMs(runs: number, fn: () => unknown): Promise<Timing> {
  await fn(); // warm-up: JIT and, for the wasm decoder, module instantiation
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = now();
    await fn();
    times.push(now() - t);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], min: times[0] };
}

/** "median (min)": on a shared machine the minimum shows the uncontended cost. */
const fmt = (t: Timing): string => `${t.median.toFixed(2)} (${t.min.toFixed(2)})`;

async function row(dir: string, file: string, runs: number, opts: DecodeOptions): Promise<string[]> {
  const bytes = readFileSync(join(dir, file));
  const cfg = defaultProcessorConfig();
  let img: RgbImage = await decodeImage(bytes, file, opts);
  const decode = await timeMs(runs, async () => {
    img = await decodeImage(bytes, file, opts);
  });
  const [w, h] = shortestEdgeSize(img.width, img.height, cfg.size);
  const resize = await timeMs(runs, () => resizeBicubic(img, w, h));
  const crop = await timeMs(runs, () => preprocess(img, cfg, "crop"));
  const pad = await timeMs(runs, () => preprocess(img, cfg, "pad"));
  const total = { median: decode.median + crop.median, min: decode.min + crop.min };
  return [file, `${img.width}x${img.height}`, fmt(decode), fmt(resize), fmt(crop), fmt(pad), fmt(total)];
}

function printTable(rows: string[][]): void {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]): string => `| ${r.map((v, c) => (c < 2 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join(" | ")} |`;
  console.log(line(rows[0]));
  console.log(`| ${widths.map((w, c) => (c < 2 ? "-".repeat(w) : `${"-".repeat(w - 1)}:`)).join(" | ")} |`);
  for (const r of rows.slice(1)) console.log(line(r));
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 15);
  const dir = fixturesDir();
  const jpeg = await activeJpegDecoder();
  console.log(`node ${process.version}, ms per image as median (min) of ${runs} runs, JPEG decoder "auto" = ${jpeg}\n`);
  const header = ["image", "size", "decode", "resize", "preprocess crop", "preprocess pad", "decode + crop"];
  const rows = [header];
  for (const file of IMAGES) rows.push(await row(dir, file, runs, {}));
  printTable(rows);
  if (jpeg === "mozjpeg") {
    console.log("\njpeg-js for comparison:\n");
    const jsRows = [header];
    for (const file of IMAGES.filter((f) => f.endsWith(".jpg"))) jsRows.push(await row(dir, file, runs, { jpegDecoder: "jpeg-js" }));
    printTable(jsRows);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
