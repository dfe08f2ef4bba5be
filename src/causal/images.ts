// Image features for every vision variant of a decoding plan, through the model's own image path
// (LlavaModel.encodeImages). Variants that read the same pixels share CLIP's layers before their first
// intervention: those run once on N rows (visionStates), then the rows are tiled (variant-major) and
// encodeImages continues from there as one batched forward with each variant's hook on its rows.
import * as tf from "@tensorflow/tfjs-core";
import type { LlavaModel } from "../model/llava.js";
import { selectedHiddenIndex } from "../model/config.js";
import { makeInterventionHook } from "./counterfactual.js";
import { rowBlockHook } from "./row-blocks.js";
import { officialReweightMap, reweightFeatures } from "./official.js";
import { addDiffusionNoise } from "./noise.js";
import { firstLayer, variantKey, type DecodingPlan, type VisionVariant } from "./plan.js";
import type { AttentionHook, AttentionSite } from "../model/hooks.js";

/** Hooks applied in turn, at both points (pre-softmax `scores`, then post-softmax); each touches only its own rows. */
export function composeHooks(hooks: AttentionHook[]): AttentionHook | undefined {
  if (hooks.length === 0) return undefined;
  const inTurn =
    <T>(fs: ((x: T, site: AttentionSite) => T | undefined)[]) =>
    (x: T, site: AttentionSite): T | undefined => {
      let cur = x;
      let changed = false;
      for (const f of fs) {
        const next = f(cur, site);
        if (next) {
          cur = next;
          changed = true;
        }
      }
      return changed ? cur : undefined;
    };
  const hook: AttentionHook = inTurn(hooks);
  const scores = hooks.flatMap((h) => (h.scores ? [h.scores] : []));
  if (scores.length) hook.scores = inTurn(scores);
  return hook;
}

/** Rows `[N·K, ...]`: K copies of x stacked variant-major. */
export function tileRows<T extends tf.Tensor>(x: T, k: number): T {
  return k === 1
    ? x
    : (tf.concat(
        Array.from({ length: k }, () => x),
        0,
      ) as T);
}

interface ClipRun {
  /** Image features per variant `[N,n,D]`. */
  features: tf.Tensor3D[];
  /** Selected hidden state per variant `[N,P+1,Dv]`. */
  selected: tf.Tensor3D[];
  /** Post-softmax attention of the layer producing the selected state, factual rows `[N,H,P+1,P+1]`. */
  selAttention?: tf.Tensor4D;
}

/** CLIP for several intervention sets over the same pixels, sharing the unintervened early layers. */
function runClipVariants(
  model: LlavaModel,
  pixels: tf.Tensor4D,
  sets: { interventions: VisionVariant & { kind: "clip" } }[],
  wantAttention: boolean,
): ClipRun {
  const cfg = model.config;
  const sel = selectedHiddenIndex(cfg);
  const N = pixels.shape[0];
  const K = sets.length;
  // the layer whose attention the reweighting reads (sel − 1) must run in the second stage
  const split = Math.min(wantAttention ? sel - 1 : sel, ...sets.map((s) => firstLayer(s.interventions.interventions)));
  const trunk = model.visionStates(pixels, { upTo: split }).last; // [N,P+1,Dv]
  // variant k's hook sees only its own N rows (block k of the K·N rows)
  const variants = rowBlockHook(
    sets.map((s) => makeInterventionHook(s.interventions.interventions)),
    N,
  );
  let selAttention: tf.Tensor4D | undefined;
  const record: AttentionHook = (p, site) => {
    // factual rows come first; kept past the layer's tidy, disposed by encodeVariants
    if (wantAttention && site.layer === sel - 1) selAttention = tf.keep(p.slice([0], [N]) as tf.Tensor4D);
    return undefined;
  };
  const hook = composeHooks(variants ? [variants, record] : [record]);
  const out = model.encodeImages({ index: split, hidden: tileRows(trunk, K) }, { hook }); // [K·N,…]
  return { features: tf.split(out.features, K, 0) as tf.Tensor3D[], selected: tf.split(out.selected, K, 0) as tf.Tensor3D[], selAttention };
}

/**
 * Features `[N,n,D]` for each distinct variant, keyed by `variantKey`. Must run inside `tf.tidy`
 * (callers keep what they return).
 */
export function encodeVariants(model: LlavaModel, pixels: tf.Tensor4D, variants: VisionVariant[]): Map<string, tf.Tensor3D> {
  const out = new Map<string, tf.Tensor3D>();
  const unique = [...new Map(variants.map((v) => [variantKey(v), v])).values()];
  const factual: VisionVariant = { kind: "clip", interventions: [] };
  const clipSets = unique.filter((v): v is VisionVariant & { kind: "clip" } => v.kind === "clip");
  const reweights = unique.filter((v): v is VisionVariant & { kind: "reweight" } => v.kind === "reweight");
  if (reweights.length && !clipSets.some((v) => v.interventions.length === 0))
    clipSets.unshift(factual as VisionVariant & { kind: "clip" });
  // the factual set (if any) goes first so that recorded attention rows are the factual ones
  clipSets.sort((a, b) => Number(b.interventions.length === 0) - Number(a.interventions.length === 0));
  if (clipSets.length) {
    const run = runClipVariants(
      model,
      pixels,
      clipSets.map((interventions) => ({ interventions })),
      reweights.length > 0,
    );
    clipSets.forEach((v, k) => out.set(variantKey(v), run.features[k]));
    for (const r of reweights) out.set(variantKey(r), reweightedFeatures(model, run.selected[0], run.selAttention!, r));
    run.selAttention?.dispose();
  }
  for (const v of unique.filter((v): v is VisionVariant & { kind: "noised" } => v.kind === "noised")) {
    const noised = tf.tensor4d(addDiffusionNoise(pixels.dataSync() as Float32Array, v.noiseStep, v.seed), pixels.shape);
    out.set(variantKey(v), model.encodeImages(noised).features);
  }
  return out;
}

/** Features of every vision variant a plan's branches read, kept outside tf.tidy; the caller disposes them. */
export function encodePlanFeatures(model: LlavaModel, pixels: tf.Tensor4D, plan: DecodingPlan): Map<string, tf.Tensor3D> {
  const variants = plan.branches.map((b) => b.vision).filter((v): v is VisionVariant => v !== null);
  let out = new Map<string, tf.Tensor3D>();
  if (variants.length === 0) return out;
  tf.tidy(() => {
    out = encodeVariants(model, pixels, variants);
    out.forEach((t) => tf.keep(t));
  });
  return out;
}

function reweightedFeatures(
  model: LlavaModel,
  selected: tf.Tensor3D,
  attention: tf.Tensor4D,
  v: VisionVariant & { kind: "reweight" },
): tf.Tensor3D {
  if (model.config.visionFeatureSelectStrategy !== "default")
    throw new Error("the official reweighting needs vision_feature_select_strategy 'default'");
  const grid = model.config.vision.imageSize / model.config.vision.patchSize;
  const map = officialReweightMap(attention, v.type, grid, v.seed); // [N, grid²]
  const patches = selected.slice([0, 1, 0], [-1, -1, -1]) as tf.Tensor3D; // [N,P,Dv] drops CLS
  return model.projectPatches(reweightFeatures(patches, map));
}
