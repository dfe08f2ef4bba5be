// Where next-token scores come from. The generation loop (generate.ts) only ever talks to a
// LogitsSource, so anything that can produce one score row per batch row per step plugs in: the
// plain model (ModelSource below), or CausalMM's factual + counterfactual branches, each with its own
// KV cache, combined into one contrastive score row.
import * as tf from "@tensorflow/tfjs-core";
import type { LlavaModel } from "../model/llava.js";
import type { AttentionHook } from "../model/hooks.js";
import { KVCache } from "../model/kv-cache.js";
import { traceNonFinite, type NonFiniteOrigin } from "../model/finite-trace.js";

export interface LogitsSource {
  /** Length of every score row. */
  readonly vocabSize: number;
  /** Number of rows prefill() and step() return. */
  readonly batchSize: number;
  /**
   * Optional, before prefill(): at most `n` tokens will be generated, so KV caches can be made exactly
   * big enough (KVCache.expect) instead of with spare room for a longer answer.
   */
  expectNewTokens?(n: number): void;
  /** Runs the prompt; one `[V]` score row per batch row for the first new token. Called once. */
  prefill(): Float32Array[];
  /** Feeds one token per row (finished rows get a pad token); the scores for the next token. */
  step(tokens: number[]): Float32Array[];
  /** Frees everything the source owns (KV caches, features). Safe to call twice. */
  dispose(): void;
  /** Optional work counters the loop folds into its timings. */
  readonly stats?: SourceStats;
  /**
   * Error path only: where row `row`'s values first turn non-finite, rerunning its prompt + `generated`
   * layer by layer; null when all are finite, undefined when this source cannot tell.
   */
  traceNonFinite?(row: number, generated: number[]): NonFiniteOrigin | null | undefined;
}

export interface SourceStats {
  /** Time spent in the vision tower + projector during prefill (included in the prefill call). */
  visionEncodeMs: number;
  /** Positions the LLM ran over in prefill, summed over rows (image tokens included). */
  prefillTokens: number;
}

export interface ModelSourceOptions {
  /** Normalised pixels `[N,3,H,W]`, one image per `<image>` token. Not owned: the caller disposes it. */
  pixels?: tf.Tensor4D | null;
  /** Precomputed image features `[N,n,D]` instead of pixels (shared between branches). Not owned. */
  features?: tf.Tensor3D;
  /** Attention hook for every CLIP and LLaMA attention of this source (counterfactual branches). */
  hook?: AttentionHook;
}

/** Splits logits `[B,1,V]` into one fresh Float32Array per row (the loop may modify them). */
export function logitsRows(logits: tf.Tensor, batch: number): Float32Array[] {
  const data = logits.dataSync() as Float32Array;
  const V = data.length / batch;
  return Array.from({ length: batch }, (_, b) => data.slice(b * V, (b + 1) * V));
}

function now(): number {
  return performance.now();
}

/** One LLaVA model over a batch of prompts with its own KV cache. */
export class ModelSource implements LogitsSource {
  readonly vocabSize: number;
  readonly batchSize: number;
  readonly stats: SourceStats = { visionEncodeMs: 0, prefillTokens: 0 };
  private cache: KVCache | null = null;
  private disposed = false;
  private newTokens: number | null = null;

  constructor(
    private readonly model: LlavaModel,
    private readonly prompt: number[][],
    private readonly opts: ModelSourceOptions = {},
  ) {
    if (prompt.length === 0) throw new Error("ModelSource: empty batch");
    this.vocabSize = model.config.text.vocabSize;
    this.batchSize = prompt.length;
  }

  expectNewTokens(n: number): void {
    this.newTokens = n;
  }

  prefill(): Float32Array[] {
    if (this.cache || this.disposed) throw new Error("ModelSource: prefill() may only be called once");
    const cache = (this.cache = new KVCache(this.model.config.text.numLayers));
    const features = this.imageFeatures();
    try {
      const logits = tf.tidy(() => {
        const embeds = this.model.embed(this.prompt, features ?? undefined);
        this.stats.prefillTokens = embeds.shape[0] * embeds.shape[1];
        // the last token generated is never fed back: prompt + n − 1 positions are ever cached
        if (this.newTokens !== null) cache.expect(embeds.shape[1] + Math.max(0, this.newTokens - 1));
        return this.model.decode(embeds, { cache: this.cache!, hook: this.opts.hook, logits: "last" }).logits!;
      });
      return this.rows(logits);
    } finally {
      if (features && features !== this.opts.features) features.dispose();
    }
  }

  step(tokens: number[]): Float32Array[] {
    const cache = this.cache;
    if (!cache || this.disposed) throw new Error("ModelSource: step() before prefill() or after dispose()");
    if (tokens.length !== this.batchSize) throw new Error(`ModelSource: step() got ${tokens.length} tokens for ${this.batchSize} rows`);
    const logits = tf.tidy(() => this.model.decode(this.model.embedStep(tokens), { cache, hook: this.opts.hook, logits: "last" }).logits!);
    return this.rows(logits);
  }

  dispose(): void {
    this.disposed = true;
    this.cache?.dispose();
  }

  traceNonFinite(row: number, generated: number[]): NonFiniteOrigin | null | undefined {
    // a hook or precomputed features change the forward: the plain model's trace would not be this source's
    if (this.opts.hook || this.opts.features) return undefined;
    return traceNonFinite(
      this.model,
      this.prompt.map((p) => [...p, ...generated]),
      this.opts.pixels ?? null,
      row,
    );
  }

  /** Features for prefill; timed on its own (cpu/wasm/node kernels run synchronously, so no sync needed). */
  private imageFeatures(): tf.Tensor3D | null {
    if (this.opts.features) return this.opts.features;
    const pixels = this.opts.pixels;
    if (!pixels) return null;
    const t0 = now();
    const features = tf.tidy(() => this.model.encodeImages(pixels, { hook: this.opts.hook }).features);
    this.stats.visionEncodeMs = now() - t0;
    return features;
  }

  private rows(logits: tf.Tensor): Float32Array[] {
    try {
      return logitsRows(logits, this.batchSize);
    } finally {
      logits.dispose();
    }
  }
}
