// The one intervention point of the model: every attention (CLIP and LLaMA) hands its post-softmax
// probabilities to an optional hook right before `P @ V`. Recording and counterfactual attention are
// both plain functions of this shape; the model files never know which one is plugged in.
import type * as tf from "@tensorflow/tfjs-core";

export type ModuleName = "vision" | "text";

export interface AttentionSite {
  module: ModuleName;
  /** 0-based layer index within the module. */
  layer: number;
  /** Number of layers of the module. */
  numLayers: number;
  /**
   * Causal offset: query row q (0-based within this call) may attend key j iff j <= q + causalOffset.
   * For the LLM this is Tk - Tq (the number of cached positions), which is also the absolute position
   * of the first query row. `null` for CLIP, where every key is allowed.
   */
  causalOffset: number | null;
}

/**
 * Receives P `[B,H,Tq,Tk]` and where it comes from. Return a tensor of the same shape to replace P, or
 * undefined to keep it. Called inside `tf.tidy`: a hook that keeps data beyond the call must copy it
 * out (`dataSync`) or `tf.keep` it and own its disposal.
 */
export type AttentionHook = (probs: tf.Tensor4D, site: AttentionSite) => tf.Tensor4D | undefined;

/**
 * Observes per-layer intermediates (projection outputs before RoPE / scaling) for introspection and
 * conformance tests. Called inside `tf.tidy`; keep or copy what you need.
 */
export type Tap = (module: ModuleName, layer: number, name: "q" | "k" | "v", t: tf.Tensor) => void;
