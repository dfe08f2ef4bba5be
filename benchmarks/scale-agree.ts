// wasm vs cpu on a real-width model of a few layers (the streaming policy, as a 24 GB machine runs the
// 7B): image features of the fixture photo, and the logits of a short text prompt. A child process per
// backend (tfjs keeps one backend's tensors per process); the parent compares what they print.
import * as tf from "@tensorflow/tfjs-core";
import { loadModel } from "../src/model/load.js";
import { argmax } from "../src/util/argmax.js";
import { loadImage, loadProcessorConfig, preprocessWithShape } from "../src/vision/index.js";

const PROMPT = [1, 3148, 1001, 29901, 1724, 338, 297, 445, 7623, 29973, 319, 1799, 9047, 13566, 29901];

/** Child: prints {features: [first 4096 values], logits: [last row], seconds} as JSON. */
export async function agreeChild(argv: string[]): Promise<void> {
  const [backend, dir, imagePath] = argv;
  const t0 = performance.now();
  const model = await loadModel(dir, { backend, residency: { policy: "stream", workload: { maxNewTokens: 1, rows: 1, images: 1 } } });
  const loadS = (performance.now() - t0) / 1000;
  const proc = loadProcessorConfig(dir, model.config.vision.imageSize);
  const pre = preprocessWithShape(await loadImage(imagePath), proc);
  const t1 = performance.now();
  const features = tf.tidy(() => {
    const pixels = tf.tensor4d(pre.data, [1, 3, pre.height, pre.width]);
    return model.encodeImages(pixels).features.dataSync() as Float32Array;
  });
  const visionS = (performance.now() - t1) / 1000;
  const t2 = performance.now();
  const logits = tf.tidy(() => {
    const out = model.decode(model.embed([PROMPT]), { logits: "last" });
    return out.logits!.dataSync() as Float32Array;
  });
  const textS = (performance.now() - t2) / 1000;
  model.dispose();
  process.stdout.write(
    JSON.stringify({
      backend,
      loadS,
      visionS,
      textS,
      features: [...features.subarray(0, 4096)],
      featureCount: features.length,
      logits: [...logits],
    }) + "\n",
  );
}

interface ChildResult {
  visionS: number;
  textS: number;
  loadS: number;
  features: number[];
  logits: number[];
}

/** One line of the scale log, as read back: each case fills its own fields. */
export interface ScaleRow {
  case: string;
  backend?: string;
  policy?: string;
  cf?: string;
  model?: string;
  status: number;
  seconds: number;
  peakRssKiB?: number;
  output?: string;
  message?: string;
  timings?: Record<string, number>;
  /** agree: each child's parsed result, or the tail of its stderr when it failed. */
  wasm?: { result?: ChildResult | string };
  cpu?: { result?: ChildResult | string };
}

function maxAbs(a: number[], b: number[]): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** A table row from the parent's record of the two children. */
export function agreeRow(r: ScaleRow): string[] {
  const w = r.wasm?.result;
  const c = r.cpu?.result;
  if (typeof w !== "object" || typeof c !== "object")
    return [String(r.model), String(r.policy), "failed", "failed", String(w).slice(-80), String(c).slice(-80), "?"];
  const s = (x: ChildResult) => `${x.loadS.toFixed(0)} + ${x.visionS.toFixed(0)} + ${x.textS.toFixed(0)}`;
  return [
    String(r.model),
    String(r.policy),
    s(w),
    s(c),
    maxAbs(w.features, c.features).toExponential(1),
    maxAbs(w.logits, c.logits).toExponential(1),
    String(argmax(w.logits) === argmax(c.logits)),
  ];
}
