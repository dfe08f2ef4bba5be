// Where values first become non-finite, for the error path only: when a decoding step's logits hold NaN
// or ±Infinity, the loop reruns that row's whole sequence (prompt + the tokens generated so far) one
// layer at a time, checking each layer's output, from the vision tower through the projector and the
// LLM's layers to the final norm and lm_head. Normal decoding never pays for it.
import * as tf from "@tensorflow/tfjs-core";
import type { LlavaModel } from "./llava.js";
import { selectedHiddenIndex } from "./config.js";
import { clipForward } from "./clip.js";

export interface NonFiniteOrigin {
  tower: "vision" | "projector" | "text";
  /** 0-based layer within the tower, when the origin is a layer. */
  layer?: number;
  numLayers?: number;
  /** What produced the first non-finite values, in words (e.g. "text layer 1 of 2"). */
  where: string;
}

/** Whether `x` (rows `rows` of axis 0, all when omitted) holds a NaN or ±Infinity. */
function nonFinite(x: tf.Tensor, rows?: [number, number]): boolean {
  return tf.tidy(() => {
    const part = rows ? tf.slice(x, [rows[0], ...x.shape.slice(1).map(() => 0)], [rows[1], ...x.shape.slice(1)]) : x;
    return tf.any(tf.logicalNot(tf.isFinite(part))).dataSync()[0] === 1;
  });
}

/** Steps `x` through `steps` one at a time (each result replaces x); the first step whose output is non-finite. */
function firstBad<T extends tf.Tensor>(x: T, steps: ((x: T) => T)[], bad: (x: T) => boolean): { index: number; out: T } {
  let cur = x;
  for (let i = 0; i < steps.length; i++) {
    const next = tf.tidy(() => steps[i](cur));
    if (cur !== x) cur.dispose();
    cur = next;
    if (bad(cur)) return { index: i, out: cur };
  }
  return { index: -1, out: cur };
}

/** The vision tower up to the selected layer, then the projector: the origin, or the features (caller disposes). */
function traceVision(model: LlavaModel, pixels: tf.Tensor4D): { origin: NonFiniteOrigin | null; features?: tf.Tensor3D } {
  const P = model.params.vision;
  const cfg = model.config.vision;
  const sel = selectedHiddenIndex(model.config);
  const steps: ((x: tf.Tensor3D) => tf.Tensor3D)[] = [
    () => clipForward(P, cfg, pixels, { upTo: 0 }).last,
    ...Array.from(
      { length: sel },
      (_, i) => (x: tf.Tensor3D) => clipForward(P, cfg, null, { from: { index: i, hidden: x }, upTo: i + 1 }).last,
    ),
    (x: tf.Tensor3D) => model.project(x),
  ];
  const start = tf.zeros([1, 1, 1]) as tf.Tensor3D;
  const { index, out } = firstBad(start, steps, (x) => nonFinite(x));
  start.dispose();
  if (index === -1) return { origin: null, features: out };
  out.dispose();
  if (index === 0) return { origin: { tower: "vision", where: "the vision embeddings (patch/position embeddings or pre_layrnorm)" } };
  if (index === steps.length - 1) return { origin: { tower: "projector", where: "the multi-modal projector" } };
  const n = cfg.numLayers;
  return { origin: { tower: "vision", layer: index - 1, numLayers: n, where: `vision layer ${index - 1} (of ${n})` } };
}

/**
 * The first place row `row` of the batch `ids` (all rows the same length; images `pixels` as in the
 * forward) turns non-finite; null when every value up to the logits is finite.
 */
export function traceNonFinite(model: LlavaModel, ids: number[][], pixels: tf.Tensor4D | null, row = 0): NonFiniteOrigin | null {
  const usesImage = ids.some((r) => r.includes(model.config.imageTokenIndex));
  let features: tf.Tensor3D | undefined;
  if (pixels && usesImage) {
    const v = traceVision(model, pixels);
    if (v.origin) return v.origin;
    features = v.features;
  }
  const L = model.config.text.numLayers;
  const rows: [number, number] = [row, 1];
  const layer = (i: number) => (x: tf.Tensor3D) =>
    model.decode(x, { startLayer: i, stopLayer: i + 1, positionOffset: 0, logits: "none" }).last;
  const steps: ((x: tf.Tensor3D) => tf.Tensor3D)[] = [
    () => model.embed(ids, features),
    ...Array.from({ length: L }, (_, i) => layer(i)),
    (x) => model.normOf(x.slice([row, x.shape[1] - 1, 0], [1, 1, -1]).reshape([1, -1])).reshape([1, 1, -1]),
    (x) => model.headOf(x.reshape([1, -1])).reshape([1, 1, -1]),
  ];
  try {
    const start = tf.zeros([1, 1, 1]) as tf.Tensor3D;
    const { index, out } = firstBad(start, steps, (x) => nonFinite(x, x.shape[0] === 1 ? undefined : rows));
    start.dispose();
    out.dispose();
    if (index === -1) return null;
    if (index === 0) return { tower: "text", where: "the LLM's input embeddings (embed_tokens, or the image features merged in)" };
    if (index <= L) return { tower: "text", layer: index - 1, numLayers: L, where: `text layer ${index - 1} (of ${L})` };
    return { tower: "text", where: index === L + 1 ? "the LLM's final norm (model.norm)" : "lm_head" };
  } finally {
    features?.dispose();
  }
}
