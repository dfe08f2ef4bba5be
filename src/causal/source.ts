// CausalMM decoding as a LogitsSource: the factual branch and every counterfactual branch run as rows
// of one batched forward per prompt (branches that read the same prompt; the layout is groups.ts), each
// with its own KV cache rows; layers before a group's first intervened layer run once and are shared.
// Every step the branches' logits are contrasted into one score row per batch row (scores.ts).
import * as tf from "@tensorflow/tfjs-core";
import type { LlavaModel } from "../model/llava.js";
import type { KVCache } from "../model/kv-cache.js";
import type { LogitsSource, SourceStats } from "../generate/source.js";
import { stepScores } from "./scores.js";
import { encodePlanFeatures, tileRows } from "./images.js";
import { promptKey, variantKey, type DecodingPlan } from "./plan.js";
import { assertCachesFit, branchesPerChunk } from "./budget.js";
import { joinChunks, makeGroups, type Group, type Layout } from "./groups.js";
import { traceNonFinite, type NonFiniteOrigin } from "../model/finite-trace.js";

export interface CausalSourceOptions {
  plan: DecodingPlan;
  /** Token ids per prompt key ("main" and any other a branch names), one row per batch row. */
  prompts: Record<string, number[][]>;
  /** Images for the `<image>` tokens of the batch. Not owned. */
  pixels?: tf.Tensor4D | null;
  /** Precomputed features per variant key (image caching across questions). Not owned. */
  features?: Map<string, tf.Tensor3D>;
  /** Sees every step's per-branch logits (branch → row → [V]) and the contrast scores. */
  onStep?: (step: number, branchLogits: Float32Array[][], scores: Float32Array[]) => void;
  /** A shared prompt prefix already run through every branch (see buildPrefix); not owned. */
  prefix?: PrefixState;
  /**
   * Most branches of one prompt run in one batched forward; more run in chunks, each with its own
   * cache, with the same results row for row. Default: as many as fit FORWARD_BUDGET_BYTES of
   * activations for the longest prompt (a prefix's own choice when starting from one).
   */
  branchesPerForward?: number;
  /** Internal (buildPrefix): the prompts are a prefix of the real ones, which end later. */
  prefixOnly?: boolean;
}

/** KV caches of every branch group after a common prompt prefix (system prompt + image tokens). */
export interface PrefixState {
  /** The prefix ids per prompt key. */
  ids: Record<string, number[]>;
  caches: Map<string, KVCache>;
  /** The chunking the caches were built with; a source started from this prefix keeps it. */
  branchesPerForward: number;
  dispose(): void;
}

export class CausalSource implements LogitsSource {
  readonly vocabSize: number;
  readonly batchSize: number;
  readonly stats: SourceStats = { visionEncodeMs: 0, prefillTokens: 0 };
  private groups: Group[];
  private stepIndex = 0;
  /** Branches whose logits are the factual ones after prefill (the released code's shared cache). */
  private frozen = new Set<number>();
  readonly branchesPerForward: number;
  private readonly layout: Layout;
  /** At most this many tokens will be generated (expectNewTokens); null = unknown. */
  private newTokens: number | null = null;

  constructor(
    private readonly model: LlavaModel,
    private readonly opts: CausalSourceOptions,
  ) {
    const main = opts.prompts.main;
    if (!main?.length) throw new Error("CausalSource: prompts.main is required");
    this.batchSize = main.length;
    this.vocabSize = model.config.text.vocabSize;
    const cfg = model.config.text;
    const s = Math.max(...Object.values(opts.prompts).flatMap((rows) => rows.map((r) => r.length)));
    const past = opts.prefix ? Math.max(...Object.values(opts.prefix.ids).map((r) => r.length)) : 0;
    this.branchesPerForward =
      opts.branchesPerForward ?? opts.prefix?.branchesPerForward ?? branchesPerChunk(cfg, this.batchSize, s, s + past);
    if (!(Number.isInteger(this.branchesPerForward) && this.branchesPerForward >= 1)) {
      throw new Error(`CausalSource: branchesPerForward must be a positive integer, got ${this.branchesPerForward}`);
    }
    this.layout = { model, plan: opts.plan, prompts: opts.prompts, batchSize: this.batchSize, prefixOnly: opts.prefixOnly };
    this.groups = makeGroups(this.layout, this.branchesPerForward);
    const rows = this.groups.reduce((n, g) => n + g.k * this.batchSize, 0);
    assertCachesFit(cfg, rows, opts.plan.branches.length, s + past);
    if (opts.prefix) this.startFromPrefix(opts.prefix);
  }

  /** The plan this source runs (what the settings of a call describe). */
  get plan(): DecodingPlan {
    return this.opts.plan;
  }

  /** Runs `prefixIds` (one row per prompt key) through every branch; the caller owns the result. */
  static buildPrefix(
    model: LlavaModel,
    plan: DecodingPlan,
    prefixIds: Record<string, number[]>,
    images: { pixels?: tf.Tensor4D | null; features?: Map<string, tf.Tensor3D> },
  ): PrefixState {
    const prompts = Object.fromEntries(Object.entries(prefixIds).map(([k, ids]) => [k, [ids]]));
    const src = new CausalSource(model, { plan, prompts, ...images, prefixOnly: true });
    src.runGroups().forEach((h) => h.dispose());
    const caches = new Map(src.groups.map((g) => [g.cacheKey, g.cache]));
    return { ids: prefixIds, caches, branchesPerForward: src.branchesPerForward, dispose: () => caches.forEach((c) => c.dispose()) };
  }

  private startFromPrefix(prefix: PrefixState): void {
    for (const g of this.groups) {
      const pre = prefix.ids[g.key];
      const cache = prefix.caches.get(g.cacheKey);
      if (!pre || !cache) throw new Error(`CausalSource: the prefix has no state for prompt '${g.cacheKey}'`);
      g.ids = g.ids.map((row) => {
        if (row.length <= pre.length || pre.some((t, i) => row[i] !== t))
          throw new Error(`CausalSource: prompt '${g.key}' does not start with the cached prefix`);
        return row.slice(pre.length);
      });
      g.cache.dispose();
      g.cache = cache.clone();
    }
  }

  expectNewTokens(n: number): void {
    this.newTokens = n;
  }

  prefill(): Float32Array[] {
    const scores = this.score(this.runGroups());
    if (this.opts.plan.sharedCache) this.shareFactualCache();
    this.groups = joinChunks(this.layout, this.groups);
    return scores;
  }

  /** Every group's prompt through the model (features are only needed when the prompt holds the image). */
  private runGroups(): tf.Tensor2D[] {
    const features = this.opts.prefix ? new Map<string, tf.Tensor3D>() : (this.opts.features ?? this.encode());
    try {
      return this.groups.map((g) => {
        // counted as the plain source does: embedded positions (image features included) times rows
        return this.forward(g, () => {
          const x = this.groupEmbeds(g, features);
          this.stats.prefillTokens += x.shape[0] * x.shape[1];
          return x;
        });
      });
    } finally {
      if (!this.opts.features) for (const f of features.values()) f.dispose();
    }
  }

  step(tokens: number[]): Float32Array[] {
    if (tokens.length !== this.batchSize) throw new Error(`CausalSource: step() got ${tokens.length} tokens for ${this.batchSize} rows`);
    // groups without a shared trunk take every branch's copy of the token as its own row: [k·B,1,D]
    const rows = (g: Group) => (g.sharedInput ? tokens : Array.from({ length: g.k }, () => tokens).flat());
    return this.score(this.groups.map((g) => this.forward(g, () => this.model.embedStep(rows(g)))));
  }

  dispose(): void {
    for (const g of this.groups) g.cache.dispose();
  }

  /** The factual branch's trace (the plain model); undefined when it has edits or its inputs are not all here. */
  traceNonFinite(row: number, generated: number[]): NonFiniteOrigin | null | undefined {
    const f = this.opts.plan.branches[0];
    const plain =
      f.text.length === 0 && !f.amplify && (f.vision === null || (f.vision.kind === "clip" && f.vision.interventions.length === 0));
    const ids = this.opts.prompts[promptKey(f)];
    if (!plain || !ids || this.opts.prefix || (f.vision !== null && !this.opts.pixels)) return undefined;
    return traceNonFinite(
      this.model,
      ids.map((p) => [...p, ...generated]),
      f.vision === null ? null : this.opts.pixels!,
      row,
    );
  }

  private encode(): Map<string, tf.Tensor3D> {
    const pixels = this.opts.pixels;
    if (!pixels) return new Map();
    const t0 = performance.now();
    const out = encodePlanFeatures(this.model, pixels, this.opts.plan);
    this.stats.visionEncodeMs = performance.now() - t0;
    return out;
  }

  /** `[B,S,D]` when the group's branches share their input, else `[k·B,S,D]` branch-major. */
  private groupEmbeds(g: Group, features: Map<string, tf.Tensor3D>): tf.Tensor3D {
    const embed = (i: number) => {
      const v = this.opts.plan.branches[i].vision;
      return this.model.embed(g.ids, v === null || this.opts.prefix ? undefined : features.get(variantKey(v)));
    };
    return g.sharedInput ? embed(g.branches[0]) : (tf.concat(g.branches.map(embed), 0) as tf.Tensor3D);
  }

  /**
   * One forward of a group on `[B,S,D]` (shared or step input) or `[k·B,S,D]`: the last position's
   * pre-norm output `[k·B,D]`, branch-major, kept for the caller to dispose.
   */
  private forward(g: Group, input: () => tf.Tensor3D): tf.Tensor2D {
    return tf.tidy(() => {
      const x = input();
      const position = g.cache.length;
      // caches exactly big enough for the prompt and the answer (the last token is never fed back)
      if (this.newTokens !== null && x.shape[1] > 1) g.cache.expect(position + x.shape[1] + Math.max(0, this.newTokens - 1));
      let h = x;
      if (g.sharedInput) {
        if (g.split > 0) h = this.model.decode(x, { cache: g.cache, stopLayer: g.split, positionOffset: position, logits: "none" }).last;
        h = tileRows(h, g.k);
      }
      const last = this.model.decode(h, {
        cache: g.cache,
        hook: g.hook,
        startLayer: g.sharedInput ? g.split : 0,
        positionOffset: position,
        logits: "none",
      }).last;
      const [R, S, D] = last.shape;
      const final = S === 1 ? last : last.slice([0, S - 1, 0], [R, 1, D]); // [k·B,1,D]
      return final.reshape([R, D]) as tf.Tensor2D; // [k·B,D]
    });
  }

  /** Contrast scores from each group's rows (disposed here); branch logits go to onStep if set. */
  private score(perGroup: tf.Tensor2D[]): Float32Array[] {
    const B = this.batchSize;
    const rowOf: number[][] = new Array(this.opts.plan.branches.length);
    let offset = 0;
    for (const g of this.groups) {
      g.branches.forEach((bi, j) => (rowOf[bi] = Array.from({ length: B }, (_, b) => offset + Math.min(j, g.k - 1) * B + b)));
      offset += g.k * B;
    }
    for (const bi of this.frozen) rowOf[bi] = rowOf[0];
    const hidden = perGroup.length === 1 ? perGroup[0] : (tf.concat(perGroup, 0) as tf.Tensor2D); // [R,D]
    try {
      const step = this.stepIndex++;
      const { scores, branchLogits } = stepScores(this.model, this.opts.plan, step, { hidden, rowOf }, this.opts.onStep !== undefined);
      this.opts.onStep?.(step, branchLogits!, scores);
      return scores;
    } finally {
      hidden.dispose();
      perGroup.forEach((h) => h.dispose());
    }
  }

  /** Keep only the factual rows; every other branch reads the factual logits from now on. */
  private shareFactualCache(): void {
    const B = this.batchSize;
    this.groups = this.groups.filter((g) => {
      if (!g.branches.includes(0)) {
        g.branches.forEach((i) => this.frozen.add(i));
        g.cache.dispose();
        return false;
      }
      g.branches.filter((i) => i !== 0).forEach((i) => this.frozen.add(i));
      const j = g.branches.indexOf(0);
      if (g.k > 1) {
        const rows = Array.from({ length: B }, (_, b) => j * B + b);
        const cache = g.cache.selectRows(rows, g.split);
        g.cache.dispose();
        Object.assign(g, { cache, k: 1, hook: undefined, sharedInput: true, split: Math.max(g.split, 0) });
      }
      Object.assign(g, { branches: [0], branchHooks: [g.branchHooks[j]] });
      return true;
    });
  }
}
