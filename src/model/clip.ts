// CLIP ViT vision tower (HF CLIPVisionTransformer without post_layernorm, which LLaVA never uses):
// patch embedding → [CLS] + positions → pre_layrnorm → pre-LN encoder layers.
import * as tf from "@tensorflow/tfjs-core";
import type { VisionConfig } from "./config.js";
import type { AttentionHook, Tap } from "./hooks.js";
import { attention } from "./attention.js";
import { layerNorm, linear, quickGelu, gelu, type Linear, type Norm } from "./layers.js";
import type { Take } from "../weights/params.js";
import type { LayerStack } from "../weights/stack.js";
import { guardWasmHeap } from "../backend.js";
import { DEFAULT_PERFORMANCE, type PerformanceOptions } from "./performance.js";

export interface ClipLayer {
  ln1: Norm;
  q: Linear;
  k: Linear;
  v: Linear;
  out: Linear;
  ln2: Norm;
  fc1: Linear;
  fc2: Linear;
}

export interface ClipParams {
  /** Conv weight flattened to `[C·p·p, D]` so the patch embedding is one matMul. */
  patch: tf.Tensor2D;
  cls: tf.Tensor1D;
  /** `[N+1, D]` */
  pos: tf.Tensor2D;
  preLn: Norm;
  layers: LayerStack<ClipLayer>;
}

export function clipParams(cfg: VisionConfig, take: Take, prefix: string): ClipParams {
  const D = cfg.hiddenSize;
  const I = cfg.intermediateSize;
  const p = cfg.patchSize;
  const n = (cfg.imageSize / p) ** 2;
  const norm = (name: string, take: Take): Norm => ({ w: take.vec(`${name}.weight`, D), b: take.vec(`${name}.bias`, D) });
  const layer = (i: number, take: Take): ClipLayer => {
    const lin = (name: string, i: number, o: number): Linear => ({
      w: take.linear(`${name}.weight`, i, o),
      b: take.vec(`${name}.bias`, o),
    });
    const l = `${prefix}.encoder.layers.${i}`;
    return {
      ln1: norm(`${l}.layer_norm1`, take),
      q: lin(`${l}.self_attn.q_proj`, D, D),
      k: lin(`${l}.self_attn.k_proj`, D, D),
      v: lin(`${l}.self_attn.v_proj`, D, D),
      out: lin(`${l}.self_attn.out_proj`, D, D),
      ln2: norm(`${l}.layer_norm2`, take),
      fc1: lin(`${l}.mlp.fc1`, D, I),
      fc2: lin(`${l}.mlp.fc2`, I, D),
    };
  };
  return {
    patch: take.conv2dAsLinear(`${prefix}.embeddings.patch_embedding.weight`, D, cfg.numChannels, p),
    cls: take.vec(`${prefix}.embeddings.class_embedding`, D),
    pos: take.matrix(`${prefix}.embeddings.position_embedding.weight`, n + 1, D),
    preLn: norm(`${prefix}.pre_layrnorm`, take),
    layers: take.stack("vision", cfg.numLayers, layer),
  };
}

/** pixels `[B,C,H,W]` → embeddings `[B,N+1,D]` (before pre_layrnorm). */
export function clipEmbeddings(P: ClipParams, cfg: VisionConfig, pixels: tf.Tensor4D): tf.Tensor3D {
  const [B, C] = pixels.shape;
  const p = cfg.patchSize;
  const g = cfg.imageSize / p;
  const D = cfg.hiddenSize;
  // Patchify without a rank-6 transpose: split rows, then gather each patch's pixels contiguously.
  const rows = pixels.reshape([B * C * g, p, g, p]); // [B·C·gy, py, gx, px]
  const perPatch = rows.transpose([0, 2, 1, 3]).reshape([B, C, g * g, p * p]); // [B, C, gy·gx, py·px]
  const patches = perPatch.transpose([0, 2, 1, 3]).reshape([B * g * g, C * p * p]); // [B·N, C·p·p]
  const emb = tf.matMul(patches, P.patch).reshape([B, g * g, D]); // [B, N, D]
  const cls = P.cls.reshape([1, 1, D]).tile([B, 1, 1]); // [B, 1, D]
  return tf.add(tf.concat([cls, emb], 1), P.pos) as tf.Tensor3D; // [B, N+1, D]
}

/** What every encoder layer of one forward shares. */
interface LayerContext {
  cfg: VisionConfig;
  hook?: AttentionHook;
  tap?: Tap;
  performance: PerformanceOptions;
}

/** Encoder layer `layer`: x `[B,T,D]` → `[B,T,D]`. */
function clipLayer(L: ClipLayer, x: tf.Tensor3D, layer: number, ctx: LayerContext): tf.Tensor3D {
  const { cfg, tap, performance: perf } = ctx;
  const [B, T, D] = x.shape;
  const H = cfg.numHeads;
  const hd = cfg.headDim;
  const heads = (t: tf.Tensor) => t.reshape([B, T, H, hd]).transpose([0, 2, 1, 3]) as tf.Tensor4D; // [B,H,T,hd]
  const h = layerNorm(x, L.ln1, cfg.layerNormEps);
  const [q, k, v] = [linear(h, L.q, perf), linear(h, L.k, perf), linear(h, L.v, perf)];
  tap?.("vision", layer, "q", q);
  tap?.("vision", layer, "k", k);
  tap?.("vision", layer, "v", v);
  const mixed = attention({
    q: heads(q),
    k: heads(k),
    v: heads(v),
    scale: hd ** -0.5,
    site: { module: "vision", layer, numLayers: cfg.numLayers, causalOffset: null },
    hook: ctx.hook,
    performance: ctx.performance,
  }); // [B,H,T,hd]
  const merged = mixed.transpose([0, 2, 1, 3]).reshape([B, T, D]); // [B,T,D]
  const x1 = tf.add(x, linear(merged, L.out, perf));
  const act = cfg.hiddenAct === "quick_gelu" ? quickGelu : gelu;
  const m = linear(act(linear(layerNorm(x1, L.ln2, cfg.layerNormEps), L.fc1, perf)), L.fc2, perf);
  return tf.add(x1, m) as tf.Tensor3D;
}

export interface ClipRunOptions {
  hook?: AttentionHook;
  tap?: Tap;
  /** Hidden-state index to stop at (0 = after pre_layrnorm); default: run every layer. */
  upTo?: number;
  /** Also return every hidden state up to `upTo` (HF `hidden_states`). */
  allHidden?: boolean;
  /** Start from this hidden state instead of the pixels (layers before `from` are skipped). */
  from?: { index: number; hidden: tf.Tensor3D };
}

export interface ClipOutput {
  /** Hidden state `upTo` `[B,N+1,D]`. */
  last: tf.Tensor3D;
  /** `hidden[i]` = hidden state i, when `allHidden`. */
  hidden: tf.Tensor3D[];
}

/** Runs the tower; hidden state i is the input of encoder layer i (0 = after pre_layrnorm). */
export function clipForward(
  P: ClipParams,
  cfg: VisionConfig,
  pixels: tf.Tensor4D | null,
  opts: ClipRunOptions = {},
  performance: PerformanceOptions = DEFAULT_PERFORMANCE,
): ClipOutput {
  const upTo = opts.upTo ?? cfg.numLayers;
  let x: tf.Tensor3D;
  let start: number;
  if (opts.from) {
    x = opts.from.hidden;
    start = opts.from.index;
  } else {
    if (!pixels) throw new Error("clipForward: pixels or a starting hidden state is required");
    x = layerNorm(clipEmbeddings(P, cfg, pixels), P.preLn, cfg.layerNormEps) as tf.Tensor3D;
    start = 0;
  }
  const hidden: tf.Tensor3D[] = opts.allHidden ? [x] : [];
  const first = x;
  const ctx: LayerContext = { cfg, hook: opts.hook, tap: opts.tap, performance };
  for (let i = start; i < upTo; i++) {
    const input = x;
    // each layer in its own scope: attention intermediates are freed layer by layer
    x = P.layers.use(i, (L) => tf.tidy(() => clipLayer(L, input, i, ctx)));
    if (input !== first && !opts.allHidden) input.dispose();
    guardWasmHeap(`vision layer ${i}`);
    if (opts.allHidden) hidden.push(x);
  }
  return { last: x, hidden };
}
