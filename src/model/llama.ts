// LLaMA decoder (HF LlamaModel + lm_head): RMSNorm, RoPE, grouped-query attention, SwiGLU MLP.
import * as tf from "@tensorflow/tfjs-core";
import type { TextConfig } from "./config.js";
import type { AttentionHook, Tap } from "./hooks.js";
import { attention, causalBias } from "./attention.js";
import { KVCache } from "./kv-cache.js";
import { linear, rmsNorm, silu, type Linear } from "./layers.js";
import { applyRope, ropeTables, type RopeTables } from "./rope.js";
import type { Take } from "../weights/params.js";
import type { LayerStack, TokenTable } from "../weights/stack.js";
import { guardWasmHeap } from "../backend.js";
import { DEFAULT_PERFORMANCE, type PerformanceOptions } from "./performance.js";
import { matMulKernel } from "./kernels/kernels.js";

export interface LlamaLayer {
  inputNorm: tf.Tensor1D;
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  postNorm: tf.Tensor1D;
  gate: Linear;
  up: Linear;
  down: Linear;
}

export interface LlamaParams {
  /** `[V, D]` token embeddings */
  embed: TokenTable;
  layers: LayerStack<LlamaLayer>;
  norm: tf.Tensor1D;
  /** lm_head, `[V, D]` rows (x·Wᵀ gives logits) */
  lmHead: TokenTable;
}

export function llamaParams(cfg: TextConfig, take: Take, prefix: string, lmHeadName: string): LlamaParams {
  const D = cfg.hiddenSize;
  const qDim = cfg.numHeads * cfg.headDim;
  const kvDim = cfg.numKvHeads * cfg.headDim;
  const layer = (i: number, take: Take): LlamaLayer => {
    const lin = (name: string, i: number, o: number, bias: boolean): Linear => ({
      w: take.linear(`${name}.weight`, i, o),
      b: bias ? take.vec(`${name}.bias`, o) : undefined,
    });
    const l = `${prefix}.layers.${i}`;
    const ab = cfg.attentionBias;
    return {
      inputNorm: take.vec(`${l}.input_layernorm.weight`, D),
      q: lin(`${l}.self_attn.q_proj`, D, qDim, ab),
      k: lin(`${l}.self_attn.k_proj`, D, kvDim, ab),
      v: lin(`${l}.self_attn.v_proj`, D, kvDim, ab),
      o: lin(`${l}.self_attn.o_proj`, qDim, D, ab),
      postNorm: take.vec(`${l}.post_attention_layernorm.weight`, D),
      gate: lin(`${l}.mlp.gate_proj`, D, cfg.intermediateSize, cfg.mlpBias),
      up: lin(`${l}.mlp.up_proj`, D, cfg.intermediateSize, cfg.mlpBias),
      down: lin(`${l}.mlp.down_proj`, cfg.intermediateSize, D, cfg.mlpBias),
    };
  };
  const embedName = `${prefix}.embed_tokens.weight`;
  return {
    embed: take.table(embedName, cfg.vocabSize, D, "embed"),
    layers: take.stack("text", cfg.numLayers, layer),
    norm: take.vec(`${prefix}.norm.weight`, D),
    lmHead: take.table(cfg.tieWordEmbeddings ? embedName : lmHeadName, cfg.vocabSize, D, "head"),
  };
}

/** What every decoder layer of one forward shares. */
interface LayerContext {
  cfg: TextConfig;
  rope: RopeTables;
  /** Positions already in the cache before this forward. */
  past: number;
  /** One causal mask for every layer (a single decode row needs none). */
  mask?: tf.Tensor2D;
  cache?: KVCache;
  hook?: AttentionHook;
  tap?: Tap;
  performance: PerformanceOptions;
}

/**
 * Decoder layer `i`: x `[B,T,D]` → `[B,T,D]`. The attention half and the MLP half each run in a tf.tidy
 * of their own, so the attention's `[B,H,T,T]` intermediates are freed before the MLP's `[B,T,I]` ones
 * are made (a long prompt's layer peak is the larger half, not their sum); the numbers are the same.
 */
function llamaLayer(L: LlamaLayer, x: tf.Tensor3D, i: number, ctx: LayerContext): tf.Tensor3D {
  const x1 = tf.tidy(() => tf.add(x, selfAttention(L, x, i, ctx)) as tf.Tensor3D);
  const out = tf.tidy(() => tf.add(x1, mlp(L, x1, ctx)).reshape(x.shape) as tf.Tensor3D);
  x1.dispose();
  return out;
}

/** RMSNorm → q/k/v → RoPE → KV cache → attention → o_proj: the attention half's output `[B,T,D]`. */
function selfAttention(L: LlamaLayer, x: tf.Tensor3D, i: number, ctx: LayerContext): tf.Tensor {
  const { cfg, rope, past, cache, tap, performance: perf } = ctx;
  const [B, T] = x.shape;
  const hd = cfg.headDim;
  const h = tf.tidy(() => rmsNorm(x, L.inputNorm, cfg.rmsNormEps));
  const q = linear(h, L.q, perf);
  const k = linear(h, L.k, perf);
  const v = linear(h, L.v, perf);
  tap?.("text", i, "q", q);
  tap?.("text", i, "k", k);
  tap?.("text", i, "v", v);
  const heads = (t: tf.Tensor, n: number) => t.reshape([B, T, n, hd]).transpose([0, 2, 1, 3]) as tf.Tensor4D; // [B,n,T,hd]
  // RoPE's intermediates (halves, rotations, products) are freed as soon as each result exists
  const qh = tf.tidy(() => applyRope(heads(q, cfg.numHeads), rope));
  let kh = tf.tidy(() => applyRope(heads(k, cfg.numKvHeads), rope));
  let vh = heads(v, cfg.numKvHeads);
  let kvLength: number | undefined;
  if (cache) ({ k: kh, v: vh, length: kvLength } = cache.append(i, kh, vh, ctx.performance.kvWrites)); // storage [B,Hkv,S,hd]
  const mixed = attention({
    q: qh,
    k: kh,
    v: vh,
    kvLength,
    scale: 1 / Math.sqrt(hd),
    mask: ctx.mask,
    site: { module: "text", layer: i, numLayers: cfg.numLayers, causalOffset: past },
    hook: ctx.hook,
    performance: ctx.performance,
  }); // [B,H,T,hd]
  const merged = mixed.transpose([0, 2, 1, 3]).reshape([B, T, cfg.numHeads * hd]); // [B,T,H·hd]
  return linear(merged, L.o, perf);
}

/** Post-attention RMSNorm → SwiGLU MLP `[B,T,D]`. */
function mlp(L: LlamaLayer, x1: tf.Tensor3D, ctx: LayerContext): tf.Tensor {
  const { cfg, performance: perf } = ctx;
  const h2 = tf.tidy(() => rmsNorm(x1, L.postNorm, cfg.rmsNormEps));
  const act = tf.tidy(() => silu(linear(h2, L.gate, perf))); // [B,T,I]; the gate and its sigmoid freed here
  return linear(tf.mul(act, linear(h2, L.up, perf)), L.down, perf);
}

export interface LlamaRunOptions {
  cache?: KVCache;
  hook?: AttentionHook;
  /** Which positions get logits: every one, only the last, or none. Default "last". */
  logits?: "all" | "last" | "none";
  /** Return HF-style hidden states (`[0]` = input embeddings, last = after the final norm). */
  allHidden?: boolean;
  tap?: Tap;
  /** Run layers from this index on, starting from `embeds` as that layer's input (shared prefixes). */
  startLayer?: number;
  /** Stop after this many layers (returns the raw hidden state, no norm/logits). */
  stopLayer?: number;
  /** Absolute position of the first input row; default: the cache's length (set it when a forward is
   * split into layer ranges, since the first range already grew the cache). */
  positionOffset?: number;
}

export interface LlamaOutput {
  /** `[B, S or 1, V]` unless logits = "none". */
  logits?: tf.Tensor3D;
  hidden: tf.Tensor3D[];
  /** Output of the last layer that ran (before the final norm). */
  last: tf.Tensor3D;
}

/** Normed rows `[N,D]` → logits `[N,V]`: a backend-held lm_head through the native GEMM where `perf` allows it. */
export function lmHead(P: LlamaParams, normed: tf.Tensor2D, perf: PerformanceOptions): tf.Tensor2D {
  return P.lmHead.project(normed, matMulKernel(perf) ?? ((a, b) => tf.matMul(a, b)));
}

/** embeds `[B,S,D]` → logits; positions continue after the cache's length. */
export function llamaForward(
  P: LlamaParams,
  cfg: TextConfig,
  embeds: tf.Tensor3D,
  opts: LlamaRunOptions = {},
  performance: PerformanceOptions = DEFAULT_PERFORMANCE,
): LlamaOutput {
  const S = embeds.shape[1];
  const start = opts.positionOffset ?? opts.cache?.length ?? 0;
  const rope = ropeTables(start, S, cfg.headDim, cfg.ropeTheta);
  const first = opts.startLayer ?? 0;
  const stop = opts.stopLayer ?? cfg.numLayers;
  // one causal mask for every layer of this forward (a single decode row needs none)
  const mask = S > 1 ? causalBias(S, start + S, start) : undefined;
  // every layer's cache storage is made before the first layer's intermediates exist (KVCache.reserve)
  opts.cache?.reserve(first, stop, embeds.shape[0], cfg.numKvHeads, cfg.headDim, start + S);
  const ctx: LayerContext = { cfg, rope, past: start, mask, cache: opts.cache, hook: opts.hook, tap: opts.tap, performance };
  let x = embeds;
  const hidden: tf.Tensor3D[] = opts.allHidden ? [x] : [];
  for (let i = first; i < stop; i++) {
    const input = x;
    // each layer in its own scope: a long prompt's attention intermediates are freed layer by layer
    x = P.layers.use(i, (L) => tf.tidy(() => llamaLayer(L, input, i, ctx)));
    if (input !== embeds && !opts.allHidden) input.dispose();
    guardWasmHeap(`text layer ${i}`);
    if (opts.allHidden && i < cfg.numLayers - 1) hidden.push(x);
  }
  rope.cos.dispose();
  rope.sin.dispose();
  mask?.dispose();
  const mode = opts.logits ?? "last";
  if (stop < cfg.numLayers || (mode === "none" && !opts.allHidden)) return { hidden, last: x };
  const normed = rmsNorm(x, P.norm, cfg.rmsNormEps) as tf.Tensor3D;
  if (opts.allHidden) hidden.push(normed);
  if (mode === "none") return { hidden, last: x };
  const rows = mode === "last" ? (normed.slice([0, S - 1, 0], [-1, 1, -1]) as tf.Tensor3D) : normed; // [B,S|1,D]
  const [B, R] = rows.shape;
  const logits = lmHead(P, rows.reshape([B * R, rows.shape[2]]) as tf.Tensor2D, performance).reshape([B, R, P.lmHead.vocab]) as tf.Tensor3D;
  return { logits, hidden, last: x };
}

/** The final RMSNorm alone (row-wise), for callers that apply lm_head themselves. */
export function finalNorm(P: LlamaParams, cfg: TextConfig, rows: tf.Tensor2D): tf.Tensor2D {
  return rmsNorm(rows, P.norm, cfg.rmsNormEps) as tf.Tensor2D;
}

/** Token ids `[B][S]` → embeddings `[B,S,D]`. */
export function embedTokens(P: LlamaParams, ids: number[][]): tf.Tensor3D {
  return P.embed.gather(ids);
}
