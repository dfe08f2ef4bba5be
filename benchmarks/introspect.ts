// Memory and time of attention recording: 100 generated tokens on the tiny-336 fixture model (577
// CLIP tokens, 595 prompt positions), every text layer and head plus CLIP's CLS rows. Prints the
// bytes the recorder holds next to the closed-form bound 4·L·H·(N·P0 + N(N−1)/2) + 4·Lv·Hv·(P+1).
// Run: npm run build && node dist/benchmarks/introspect.js [--tokens 100]
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { initBackend } from "../src/backend.js";
import { loadModel } from "../src/model/load.js";
import { readNpy } from "../src/weights/npy.js";
import { generate } from "../src/generate/generate.js";
import { ModelSource } from "../src/generate/source.js";
import { AttentionRecorder } from "../src/introspect/recorder.js";
import { RecordingSource } from "../src/introspect/session.js";
import { fixturesDir, table } from "./common.js";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};

async function main(): Promise<void> {
  const N = arg("tokens", 100);
  await initBackend(process.env.CAUSALMM_BACKEND ?? "cpu");
  const dir = join(fixturesDir(), "llava-tiny");
  const model = await loadModel(join(dir, "model-f32"));
  const ids = Array.from(readNpy(join(dir, "golden", "input_ids.npy")).data, Number);
  const pv = readNpy(join(dir, "golden", "pixel_values.npy"));
  const pixels = tf.tensor4d(pv.data as Float32Array, pv.shape as [number, number, number, number]);
  const { text, vision } = model.config;
  const opts = { maxNewTokens: N, eosTokenIds: [] as number[] };

  let t0 = performance.now();
  const plain = new ModelSource(model, [ids], { pixels });
  generate(plain, opts);
  plain.dispose();
  const plainMs = performance.now() - t0;

  const rec = new AttentionRecorder({ text: { layers: [...Array(text.numLayers).keys()] }, vision: { layers: [0, 1] } });
  const heap0 = process.memoryUsage().heapUsed;
  const tensors0 = tf.memory().numTensors;
  t0 = performance.now();
  const src = new RecordingSource(model, [ids], pixels, rec);
  generate(src, opts);
  src.dispose();
  const recMs = performance.now() - t0;
  const P0 = rec.prefillLength!;
  const bound = 4 * text.numLayers * text.numHeads * (N * P0 + (N * (N - 1)) / 2) + 4 * 2 * vision.numHeads * (P0 - ids.length + 2);
  console.log(
    table(
      ["what", "value"],
      [
        ["generated tokens", N],
        ["prompt positions P0", P0],
        ["records", rec.records.length],
        ["bytes held by the recorder", rec.bytes()],
        ["closed-form bound (bytes)", bound],
        ["JS heap growth (bytes, indicative)", process.memoryUsage().heapUsed - heap0],
        ["tfjs tensors leaked by the recording run", tf.memory().numTensors - tensors0],
        ["ms per token, plain", plainMs / N],
        ["ms per token, recording", recMs / N],
      ],
    ),
  );
  pixels.dispose();
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
