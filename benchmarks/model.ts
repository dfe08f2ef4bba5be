// CLIP forward, prefill and per-token decode of the tiny-336 fixture model on wasm and cpu, with the
// project's attention paths and kernels vs tfjs ops only, and load-time peak RSS vs weight bytes.
// Run: npm run build && node dist/benchmarks/model.js [--model DIR] [--backends wasm,cpu]
import * as tf from "@tensorflow/tfjs-core";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { initBackend } from "../src/backend.js";
import { loadModel } from "../src/model/load.js";
import { TFJS_ONLY } from "../src/model/performance.js";
import { KVCache } from "../src/model/kv-cache.js";
import type { LlavaModel } from "../src/model/llava.js";
import { readNpy } from "../src/weights/npy.js";
import { Checkpoint } from "../src/weights/checkpoint.js";
import { fixturesDir, median, table } from "./common.js";
import { PACKAGE_ROOT } from "../src/paths.js";

type Mode = "auto" | "never";

/**
 * "auto": what the project runs (wasm: per-head 2-D matMuls for multi-row queries and the SIMD kernels
 * for decode; cpu: the JS softmax and attention products; both: the KV cache written in place).
 * "never": tfjs ops only (TFJS_ONLY: batched matMuls, tfjs's softmax, the KV cache reallocated every step).
 * The "never" model is a view of the same weights.
 */
function modelFor(model: LlavaModel, mode: Mode): LlavaModel {
  return mode === "auto" ? model : model.withPerformance(TFJS_ONLY);
}

/**
 * CLIP, prefill and decode times per mode, the modes interleaved round by round (this machine's speed
 * drifts within seconds; timing one mode after the other once made either look 1.5–2× slower).
 * Medians over rounds; decode = `steps` cached steps per round on one growing cache per mode.
 */
function phases(base: LlavaModel, ids: number[][], pixels: tf.Tensor4D, rounds: number, steps: number) {
  const modes: Mode[] = ["auto", "never"];
  const models = modes.map((m) => modelFor(base, m));
  const feats = tf.keep(tf.tidy(() => base.encodeImages(pixels).features));
  const prefill = (model: LlavaModel, cache: KVCache) =>
    tf.tidy(() => void model.decode(model.embed(ids, feats), { cache, logits: "last" }).logits!.dataSync());
  const caches = models.map((model) => {
    const c = new KVCache(model.config.text.numLayers);
    prefill(model, c);
    return c;
  });
  const times = modes.map(() => ({ clip: [] as number[], prefill: [] as number[], decode: [] as number[] }));
  let token = 0;
  for (let r = -1; r < rounds; r++) {
    models.forEach((model, i) => {
      const t = [performance.now()];
      tf.tidy(() => void model.encodeImages(pixels).features.dataSync());
      t.push(performance.now());
      const c = new KVCache(model.config.text.numLayers);
      prefill(model, c);
      c.dispose();
      t.push(performance.now());
      for (let s = 0; s < steps; s++)
        tf.tidy(() => void model.decode(model.embedStep([(token++ % 1000) + 3]), { cache: caches[i], logits: "last" }).logits!.dataSync());
      t.push(performance.now());
      if (r < 0) return; // untimed warm-up round: V8 tiers wasm and JS up during the first calls
      times[i].clip.push(t[1] - t[0]);
      times[i].prefill.push(t[2] - t[1]);
      times[i].decode.push((t[3] - t[2]) / steps);
    });
  }
  caches.forEach((c) => c.dispose());
  feats.dispose();
  return modes.map((mode, i) => ({
    mode,
    clip: median(times[i].clip),
    prefill: median(times[i].prefill),
    decode: median(times[i].decode),
  }));
}

/** The same model in PyTorch eager (benchmarks/torch_reference.py), when Debian's python3-torch is installed. */
function torchReference(fixtureModel: string): Record<string, number | string> | null {
  const script = join(PACKAGE_ROOT, "benchmarks", "torch_reference.py");
  try {
    const out = execFileSync("/usr/bin/python3", [script, fixtureModel, "1"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return JSON.parse(out.trim().split("\n").pop()!);
  } catch {
    return null;
  }
}

function loadRss(dir: string): { rssMiB: number; weightMiB: number } {
  // A fresh process per measurement: maxRSS is a high-water mark and never goes down.
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), "--rss-child", dir], { encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").pop()!);
}

async function rssChild(dir: string): Promise<void> {
  await initBackend("cpu");
  const before = process.resourceUsage().maxRSS;
  const model = await loadModel(dir);
  const after = process.resourceUsage().maxRSS;
  const ckpt = Checkpoint.open(dir);
  const weightMiB = ckpt.totalBytes() / 1024 ** 2;
  ckpt.close();
  model.dispose();
  process.stdout.write(JSON.stringify({ rssMiB: (after - before) / 1024, weightMiB }) + "\n");
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === "--rss-child") return rssChild(argv[1]);
  const base = join(fixturesDir(), "llava-tiny");
  const modelDir =
    argv[argv.indexOf("--model") + 1] && argv.includes("--model") ? argv[argv.indexOf("--model") + 1] : join(base, "model-f32");
  const ids = [Array.from(readNpy(join(base, "golden", "input_ids.npy")).data)];
  const pv = readNpy(join(base, "golden", "pixel_values.npy"));
  const rows: (string | number)[][] = [];
  const backends = (argv.includes("--backends") ? argv[argv.indexOf("--backends") + 1] : "wasm,cpu").split(",") as ("wasm" | "cpu")[];
  for (const backend of backends) {
    await initBackend(backend);
    const model = await loadModel(modelDir);
    const pixels = tf.tensor4d(pv.data as Float32Array, pv.shape as [number, number, number, number]);
    const seq = ids[0].length - 1 + model.numImageTokens;
    for (const r of phases(model, ids, pixels, backend === "cpu" ? 5 : 15, backend === "cpu" ? 5 : 20)) {
      const label =
        r.mode === "never"
          ? "tfjs ops only"
          : backend === "wasm"
            ? "per-head 2-D; decode: SIMD kernels; in-place KV"
            : "JS softmax and products; in-place KV";
      rows.push([backend, label, r.clip, r.prefill, seq / (r.prefill / 1000), r.decode, 1000 / r.decode]);
    }
    pixels.dispose();
    model.dispose();
  }
  const torch = torchReference(base);
  if (torch) {
    const seq = torch.prefill_tokens as number;
    const [clip, prefill, decode] = [Number(torch.clip_ms), Number(torch.prefill_ms), Number(torch.decode_ms)];
    rows.push([
      `pytorch ${torch.torch} eager, ${torch.threads} thread(s)`,
      "batched",
      clip,
      prefill,
      seq / (prefill / 1000),
      decode,
      1000 / decode,
    ]);
  } else rows.push(["pytorch eager", "not available (apt-get install python3-torch)", "", "", "", "", ""]);
  console.log(`model: ${modelDir}\n`);
  console.log(table(["backend", "attention", "CLIP ms", "prefill ms", "prefill tok/s", "decode ms/token", "decode tok/s"], rows));
  const f32 = loadRss(join(base, "model-f32"));
  const f16 = loadRss(join(base, "model-f16"));
  console.log(
    "\n" +
      table(
        ["weights", "on disk MiB", "load peak RSS increase MiB"],
        [
          ["F32 (1 file)", f32.weightMiB, f32.rssMiB],
          ["F16 (2 shards)", f16.weightMiB, f16.rssMiB],
        ],
      ),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
