// Training throughput of the lab model (forward + backward + AdamW) on the cpu and wasm backends.
// Build with `npx tsc -p tsconfig.json`, run `node dist/benchmarks/train.js [steps] [batch]`.
// Data: a small synthetic lab dataset made in a temporary directory (no fixtures needed).
import * as tf from "@tensorflow/tfjs-core";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "../src/backend.js";
import { parseLlavaConfig } from "../src/model/config.js";
import { Tokenizer } from "../src/text/index.js";
import { defaultProcessorConfig } from "../src/vision/index.js";
import { AdamW } from "../src/lab/adamw.js";
import { batchIndices, loadTrainingData, makeBatch, type TrainingData } from "../src/lab/data.js";
import { LAB_MODEL, labConfigJson } from "../src/lab/export.js";
import { batchLoss } from "../src/lab/loss.js";
import { makeLab } from "../src/lab/make.js";
import { disposeParams, trainableModel } from "../src/lab/variables.js";
import { withMatMulGradient } from "../src/lab/fast-grads.js";
import type { PerformanceOptions } from "../src/model/performance.js";
import { labTokenizerJson } from "../src/lab/vocab.js";

interface Row {
  backend: string;
  gradient: string;
  msPerStep: number;
  tokensPerSec: number;
}

function timeSteps(
  data: TrainingData,
  steps: number,
  batch: number,
  gradient: PerformanceOptions["matMulGradient"],
): { ms: number; tokens: number } {
  const cfg = parseLlavaConfig(labConfigJson(LAB_MODEL));
  // As `causalmm train` runs: one batched matMul per attention product.
  const tm = trainableModel(cfg, 0, undefined, { attentionMatMul: "batched", matMulGradient: gradient });
  const opt = new AdamW(tm.params);
  const vars = tm.params.map((p) => p.variable);
  let ms = 0;
  let tokens = 0;
  // Step 0 is a warm-up (kernel set-up, XNNPACK packing) and is not timed.
  for (let s = 0; s <= steps; s++) {
    const b = makeBatch(data, batchIndices(0, s, batch, data.samples.length), cfg.padTokenId ?? 0, tm.model.numImageTokens);
    const t0 = performance.now();
    const { value, grads } = withMatMulGradient(tm.model.performance.matMulGradient, () =>
      tf.variableGrads(() => batchLoss(tm.model, b), vars),
    );
    value.dataSync();
    opt.step(grads, 1e-3);
    value.dispose();
    tf.dispose(Object.values(grads));
    if (s > 0) {
      ms += performance.now() - t0;
      tokens += b.ids.length * b.seqLen;
    }
  }
  opt.dispose();
  disposeParams(tm.params);
  return { ms: ms / steps, tokens: (tokens / ms) * 1000 };
}

async function main(): Promise<void> {
  const steps = Number(process.argv[2] ?? 4);
  const batch = Number(process.argv[3] ?? 16);
  const dir = mkdtempSync(join(tmpdir(), "labbench-"));
  await makeLab({ out: dir, seed: 0, train: 64, test: 1 });
  const tok = Tokenizer.fromJson(labTokenizerJson(), { bos_token: "<s>", eos_token: "</s>", pad_token: "<pad>" });
  const data = await loadTrainingData(dir, tok, defaultProcessorConfig(56));
  const rows: Row[] = [];
  for (const backend of ["cpu", "wasm"]) {
    await initBackend(backend);
    for (const fast of [false, true]) {
      const r = timeSteps(data, steps, batch, fast ? "explicit-transpose" : "tfjs");
      rows.push({
        backend,
        gradient: fast ? "explicit transposes (lab)" : "tfjs (transpose flags)",
        msPerStep: Math.round(r.ms),
        tokensPerSec: Math.round(r.tokens),
      });
    }
  }
  console.log(`lab model ${JSON.stringify(LAB_MODEL)}; batch ${batch} conversations; ${steps} timed steps\n`);
  console.log("| backend | BatchMatMul gradient | ms / step | tokens / s |\n|---|---|---:|---:|");
  for (const r of rows) console.log(`| ${r.backend} | ${r.gradient} | ${r.msPerStep} | ${r.tokensPerSec} |`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
