// The intervention points of the model: every attention (CLIP and LLaMA) hands its post-softmax
// probabilities to an optional hook right before `P @ V`, and, when the hook carries a `scores`
// function, its pre-softmax scores right before the softmax. Recording, counterfactual attention (post-
// softmax) and PAI's amplification (pre-softmax) are plain functions of these shapes; the model files
// never know which one is plugged in.
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
 *
 * `scores`, when present, runs first: it receives the pre-softmax scores S `[B,H,Tq,Tk]` of the same
 * site, (q·kᵀ)·scale with the causal mask added (−∞ on the keys row q may not attend), and may return
 * replacement scores of the same shape (keep −∞ where it is: softmax turns it into exactly 0). The
 * same rules about tidy apply. P is then softmax of whatever it returned.
 */
export interface AttentionHook {
  (probs: tf.Tensor4D, site: AttentionSite): tf.Tensor4D | undefined;
  scores?: ScoresHook;
}

/** The pre-softmax point: scores `[B,H,Tq,Tk]` in, replacement scores or undefined out. */
export type ScoresHook = (scores: tf.Tensor4D, site: AttentionSite) => tf.Tensor4D | undefined;

/**
 * Observes per-layer intermediates (projection outputs before RoPE / scaling) for introspection and
 * conformance tests. Called inside `tf.tidy`; keep or copy what you need.
 */
export type Tap = (module: ModuleName, layer: number, name: "q" | "k" | "v", t: tf.Tensor) => void;
