// LLaVA-1.5 = CLIP vision tower + projector + LLaMA. Image features replace the `<image>` token(s).
import * as tf from "@tensorflow/tfjs-core";
import { numImageTokens, selectedHiddenIndex, type LlavaConfig } from "./config.js";
import type { AttentionHook, Tap } from "./hooks.js";
import { clipForward, clipParams, type ClipOutput, type ClipParams, type ClipRunOptions } from "./clip.js";
import { projectorForward, projectorParams, type ProjectorParams } from "./projector.js";
import {
  embedTokens,
  finalNorm,
  lmHead,
  llamaForward,
  llamaParams,
  type LlamaOutput,
  type LlamaParams,
  type LlamaRunOptions,
} from "./llama.js";
import type { RawTensor, Take } from "../weights/params.js";
import { collectTensors } from "../weights/stack.js";
import { resolvePerformance, type PerformanceOptions } from "./performance.js";

export interface LlavaParams {
  vision: ClipParams;
  projector: ProjectorParams;
  text: LlamaParams;
}

/** Canonical (transformers ≤ 4.4x) tensor names; src/weights maps newer layouts onto these. */
export function llavaParams(cfg: LlavaConfig, take: Take): LlavaParams {
  return {
    vision: clipParams(cfg.vision, take, "vision_tower.vision_model"),
    projector: projectorParams(take, "multi_modal_projector", cfg.vision.hiddenSize, cfg.text.hiddenSize, cfg.projectorBias),
    text: llamaParams(cfg.text, take, "language_model.model", "language_model.lm_head.weight"),
  };
}

/** Checkpoint tensors LLaVA does not use. */
export const UNUSED_TENSORS = [/post_layernorm\.(weight|bias)$/, /rotary_emb\.inv_freq$/, /position_ids$/];

export interface ImageEncodeOptions {
  hook?: AttentionHook;
  tap?: Tap;
  /** Keep every CLIP hidden state (and run every layer, as HF does). */
  allHidden?: boolean;
  /** Receives projector intermediates. */
  stages?: { linear1?: tf.Tensor; gelu?: tf.Tensor };
}

/** A CLIP hidden state to continue from: `hidden` `[N,P+1,Dv]` is hidden state `index` (0 = after pre_layrnorm). */
export interface VisionStart {
  index: number;
  hidden: tf.Tensor3D;
}

export interface ImageEncoding {
  /** Projector output `[N_images, N_img_tokens, D_text]`. */
  features: tf.Tensor3D;
  /** CLIP hidden state that feeds the projector, CLS included `[N_images, P+1, D_vision]`. */
  selected: tf.Tensor3D;
  /** Every CLIP hidden state when asked for (0 = after pre_layrnorm). */
  visionHidden: tf.Tensor3D[];
}

export class LlavaModel {
  /** How this model computes (never what); fixed at creation, see model/performance.ts. */
  readonly performance: Readonly<PerformanceOptions>;
  /** False for a `withPerformance` view, which shares the weights of the model it was made from. */
  private ownsWeights = true;

  constructor(
    readonly config: LlavaConfig,
    readonly params: LlavaParams,
    /** Releases what the weights hold outside the backend (16-bit host copies); set by the loader. */
    private readonly releaseHost: () => void = () => {},
    performance: Partial<PerformanceOptions> = {},
  ) {
    this.performance = resolvePerformance(performance);
  }

  /**
   * The same weights computed another way (benchmarks and tests compare the two side by side). The view
   * does not own the weights: dispose the model it was made from, not the view.
   */
  withPerformance(performance: Partial<PerformanceOptions>): LlavaModel {
    const view = new LlavaModel(this.config, this.params, () => {}, { ...this.performance, ...performance });
    view.ownsWeights = false;
    return view;
  }

  get numImageTokens(): number {
    return numImageTokens(this.config);
  }

  /**
   * pixels `[N,C,H,W]` → image features: CLIP up to the selected hidden state (every layer when
   * `allHidden`), then the projector. The one image path: CausalMM's branches and the sweep enter it
   * with a `VisionStart` (a shared trunk of early layers run once by `visionStates`, tiled per branch).
   */
  encodeImages(input: tf.Tensor4D | VisionStart, opts: ImageEncodeOptions = {}): ImageEncoding {
    const sel = selectedHiddenIndex(this.config);
    const upTo = opts.allHidden ? this.config.vision.numLayers : sel;
    const out = this.visionStates(input, { hook: opts.hook, tap: opts.tap, upTo, allHidden: opts.allHidden });
    const start = "hidden" in input ? input.index : 0;
    const selected = opts.allHidden ? out.hidden[sel - start] : out.last;
    return { features: this.project(selected, opts.stages), selected, visionHidden: out.hidden };
  }

  /**
   * The vision tower alone: CLIP hidden state `upTo` (default: the selected one) from the pixels or
   * from an earlier hidden state.
   */
  visionStates(input: tf.Tensor4D | VisionStart, opts: Omit<ClipRunOptions, "from"> = {}): ClipOutput {
    const cfg = this.config;
    const run = { ...opts, upTo: opts.upTo ?? selectedHiddenIndex(cfg) };
    if ("hidden" in input) return clipForward(this.params.vision, cfg.vision, null, { ...run, from: input }, this.performance);
    return clipForward(this.params.vision, cfg.vision, input, run, this.performance);
  }

  /** Selected CLIP hidden state `[N,P+1,Dv]` → projector output, applying the select strategy. */
  project(selected: tf.Tensor3D, stages?: ImageEncodeOptions["stages"]): tf.Tensor3D {
    const feats =
      this.config.visionFeatureSelectStrategy === "default" ? (selected.slice([0, 1, 0], [-1, -1, -1]) as tf.Tensor3D) : selected; // [N,P,Dv] drops CLS
    return projectorForward(this.params.projector, feats, this.performance, stages);
  }

  /** Already-selected patch features `[N,n,Dv]` → projector output (no CLS handling). */
  projectPatches(feats: tf.Tensor3D): tf.Tensor3D {
    return projectorForward(this.params.projector, feats, this.performance);
  }

  /** Token ids (rows of equal final length) + image features → merged input embeddings `[B,S,D]`. */
  embed(inputIds: number[][], features?: tf.Tensor3D): tf.Tensor3D {
    const plan = planMerge(inputIds, this.config.imageTokenIndex, this.numImageTokens, features?.shape[0] ?? 0);
    const B = inputIds.length;
    const S0 = inputIds[0].length;
    const D = this.config.text.hiddenSize;
    const ids = inputIds.map((row) => row.map((t) => (t === this.config.imageTokenIndex ? 0 : t)));
    const text = embedTokens(this.params.text, ids).reshape([B * S0, D]); // [B·S0, D]
    if (!plan.usesImages) return text.reshape([B, S0, D]) as tf.Tensor3D;
    const table = tf.concat([text, features!.reshape([-1, D])], 0); // [B·S0 + N·n, D]
    const idx = tf.tensor1d(plan.rows.flat(), "int32");
    return tf.gather(table, idx).reshape([B, plan.rows[0].length, D]) as tf.Tensor3D; // [B,S,D]
  }

  /** The LLM on merged embeddings (prefill or, with a cache, continuation). */
  decode(embeds: tf.Tensor3D, opts: LlamaRunOptions = {}): LlamaOutput {
    return llamaForward(this.params.text, this.config.text, embeds, opts, this.performance);
  }

  /** Pre-norm last-layer rows `[N,D]` → logits `[N,V]`. */
  logitsOf(rows: tf.Tensor2D): tf.Tensor2D {
    return this.headOf(this.normOf(rows));
  }

  /** Pre-norm last-layer rows `[N,D]` → the rows lm_head multiplies (after the final norm). */
  normOf(rows: tf.Tensor2D): tf.Tensor2D {
    return finalNorm(this.params.text, this.config.text, rows);
  }

  /** Normed rows `[N,D]` → logits `[N,V]` (lm_head alone). */
  headOf(normed: tf.Tensor2D): tf.Tensor2D {
    return lmHead(this.params.text, normed, this.performance);
  }

  /**
   * lm_head's rows of `tokens` `[n, D]` in their stored dtype (host weights read in place; a resident
   * lm_head keeps a token-major copy in JS memory, made on first use): a few logits as one small product
   * instead of the full vocabulary. The rows are a scratch buffer that the next call overwrites.
   */
  lmHeadRows(tokens: ArrayLike<number>): RawTensor {
    return this.params.text.lmHead.rowsOf(tokens);
  }

  /** Token ids `[B]` (one per row) → embeddings `[B,1,D]` for a cached decode step. */
  embedStep(tokens: number[]): tf.Tensor3D {
    return embedTokens(
      this.params.text,
      tokens.map((t) => [t]),
    );
  }

  dispose(): void {
    if (!this.ownsWeights) return;
    for (const t of new Set(collectTensors(this.params))) t.dispose();
    this.releaseHost();
  }
}

/**
 * For each row, the index into [text embeddings (B·S0 rows); image features (N·n rows)] of every output
 * position. A run of one `<image>` token expands to the n features of the next image (legacy llava-hf
 * processors); a run of exactly n tokens is replaced by them (transformers ≥ 4.47 processors).
 */
export function planMerge(
  inputIds: number[][],
  imageToken: number,
  n: number,
  numImages: number,
): { rows: number[][]; usesImages: boolean } {
  if (inputIds.length === 0) throw new Error("input ids: empty batch");
  const S0 = inputIds[0].length;
  const B = inputIds.length;
  let image = 0;
  const rows = inputIds.map((row, b) => {
    if (row.length !== S0) throw new Error(`input ids: rows must have equal length (row 0 has ${S0}, row ${b} has ${row.length})`);
    const out: number[] = [];
    for (let i = 0; i < row.length;) {
      if (row[i] !== imageToken) {
        out.push(b * S0 + i++);
        continue;
      }
      let run = 0;
      while (i + run < row.length && row[i + run] === imageToken) run++;
      const images = run === n ? 1 : run;
      if (run !== n && n !== 1 && run > 1)
        throw new Error(`input ids row ${b}: a run of ${run} <image> tokens matches neither 1 nor ${n} (image tokens per image)`);
      for (let k = 0; k < images; k++, image++) {
        if (image >= numImages)
          throw new Error(
            numImages === 0
              ? "input ids contain <image> tokens but no image was given"
              : `input ids: more <image> tokens than images (${numImages} given)`,
          );
        for (let j = 0; j < n; j++) out.push(B * S0 + image * n + j);
      }
      i += run;
    }
    return out;
  });
  if (image !== numImages) throw new Error(`input ids: ${image} image placeholders for ${numImages} images`);
  const len = rows[0].length;
  rows.forEach((r, b) => {
    if (r.length !== len) throw new Error(`input ids: after image expansion row ${b} has ${r.length} positions, row 0 has ${len}`);
  });
  return { rows, usesImages: numImages > 0 };
}
