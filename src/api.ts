// The library entry point: `loadLlava(dir)` → an object that answers questions about pictures.
// It owns the model, the tokenizer and the preprocessing settings of one model directory; every call
// builds a fresh LogitsSource (own KV cache) and disposes it, so calls never share state.
import * as tf from "@tensorflow/tfjs-core";
import { existsSync } from "node:fs";
import { currentBackend, type BackendName } from "./backend.js";
import { planLoad, type LoadOptions } from "./model/load.js";
import type { PlanRequest } from "./model/memory-plan.js";
import { loadLlavaConfig } from "./model/config.js";
import type { LlavaModel } from "./model/llava.js";
import type { LoadProgress } from "./weights/params.js";
import { resolveModelDir } from "./paths.js";
import { DEFAULTS } from "./defaults.js";
import { cleanupAfter, withCleanup } from "./util/cleanup.js";
import { Tokenizer } from "./text/tokenizer.js";
import type { TemplateName } from "./text/templates.js";
import { loadProcessorConfig, type PreprocessMode, type ProcessorConfig, type RgbImage } from "./vision/index.js";
import { branchPrompts, mainPrompts, pixelBatch, preprocessImages, type AskInput, type PromptStyle } from "./ask-inputs.js";
import {
  generate,
  stream as streamTokens,
  type FinishReason,
  type GenerateOptions,
  type GenerateResult,
  type StreamEvent,
  type Timings,
} from "./generate/generate.js";
import { loadGenerationDefaults, type GenerationDefaults } from "./generate/defaults.js";
import type { LogitsSource } from "./generate/source.js";
import type { LogitsProcessor } from "./generate/processors.js";
import { checkSamplingOptions, type SamplingOptions } from "./generate/sampling.js";
import { describePlan, withPresetSampling, type CausalOptions } from "./causal/presets.js";
import { decodingPlan, decodingSource } from "./causal/decoding.js";
import type { DecodingPlan } from "./causal/plan.js";

export interface LoadLlavaOptions {
  backend?: BackendName | string;
  /** Called after each tensor is read: `{file, tensor, loadedBytes, totalBytes}`. */
  onProgress?: (p: LoadProgress) => void;
  /** Where tokenizer.json lives, when not in the model directory. */
  tokenizerDir?: string;
  /** Weight residency policy and the workload the memory plan provisions for (see LoadOptions.residency). */
  residency?: PlanRequest;
  /** How the model computes (kernels, matMul strategies, KV cache writes); see src/model/performance.ts. */
  performance?: LoadOptions["performance"];
  /** The machine's memory as the plan sees it (default: measured now). */
  machine?: LoadOptions["machine"];
}

export interface AskOptions extends SamplingOptions {
  /** Prompt template; default "llava_v1" (the CausalMM/VCD/LLaVA eval format). */
  template?: TemplateName;
  /** Appended to the question verbatim, e.g. ONE_WORD_SUFFIX. */
  suffix?: string;
  /** "crop" (llava-hf CLIPImageProcessor, default) or "pad" (original LLaVA expand2square). */
  mode?: PreprocessMode;
  maxNewTokens?: number;
  stop?: string[];
  /** Default: the model directory's EOS id(s). */
  eosTokenIds?: number[];
  processors?: LogitsProcessor[];
  /** CausalMM / baseline contrastive decoding (see docs/causalmm.md); plain decoding when absent. */
  causal?: CausalOptions;
}

/** What a call actually used, for logs and `--json`. */
export interface AskSettings {
  template: TemplateName;
  mode: PreprocessMode;
  suffix: string;
  maxNewTokens: number;
  temperature: number;
  topK?: number;
  topP?: number;
  seed?: number;
  stop: string[];
  eosTokenIds: number[];
  backend: string;
  causal?: Record<string, unknown>;
}

export interface AskResult {
  text: string;
  tokens: number[];
  finishReason: FinishReason;
  timings: Timings;
  settings: AskSettings;
}

export interface BatchResult extends GenerateResult {
  text: string[];
  settings: AskSettings;
}

/** What `createSource` gets: the call's plan (null = plain), the main prompt ids, pixels and inputs. */
export interface SourceRequest {
  plan: DecodingPlan | null;
  prompt: number[][];
  pixels: tf.Tensor4D | null;
  inputs: AskInput[];
  opts: AskOptions;
}

interface Job {
  source: LogitsSource;
  gen: GenerateOptions;
  settings: AskSettings;
  imageMs: number;
  dispose(): void;
}

export const DEFAULT_TEMPLATE: TemplateName = DEFAULTS.template;
export const DEFAULT_MAX_NEW_TOKENS = DEFAULTS.maxNewTokens;

export class Llava {
  constructor(
    readonly dir: string,
    readonly model: LlavaModel,
    readonly tokenizer: Tokenizer,
    readonly processor: ProcessorConfig,
    readonly generation: GenerationDefaults,
    /** Milliseconds spent in loadLlava (weights, tokenizer, configs). */
    readonly loadMs: number,
  ) {}

  /** One question about one image; resolves when the answer is complete. */
  async ask(image: string | RgbImage | null, question: string, opts: AskOptions = {}): Promise<AskResult> {
    const res = await this.generate([{ image, question }], opts);
    return { text: res.text[0], tokens: res.tokens[0], finishReason: res.finishReasons[0], timings: res.timings, settings: res.settings };
  }

  /** Several prompts as one batch (their prompts must encode to the same length). */
  async generate(inputs: AskInput | AskInput[], opts: AskOptions = {}): Promise<BatchResult> {
    const job = await this.prepare(Array.isArray(inputs) ? inputs : [inputs], opts);
    return withCleanup(
      () => this.finish(generate(job.source, job.gen), job),
      () => job.dispose(),
    );
  }

  /** Token-by-token events; the generator's return value is the full result. */
  async *stream(image: string | RgbImage | null, question: string, opts: AskOptions = {}): AsyncGenerator<StreamEvent, AskResult, void> {
    const job = await this.prepare([{ image, question }], opts);
    let failure: { error: unknown } | null = null;
    try {
      const res = this.finish(yield* streamTokens(job.source, job.gen), job);
      return { text: res.text[0], tokens: res.tokens[0], finishReason: res.finishReasons[0], timings: res.timings, settings: res.settings };
    } catch (error) {
      failure = { error };
      throw error;
    } finally {
      cleanupAfter(failure, () => job.dispose());
    }
  }

  dispose(): void {
    this.model.dispose();
  }

  /**
   * The scores for a prepared prompt: the single place a different LogitsSource (CausalMM's factual +
   * counterfactual branches, selected by the plan) plugs in, through `decodingSource`.
   */
  protected createSource(req: SourceRequest): LogitsSource {
    const prompts = this.branchPrompts(req.plan, req.prompt, req.inputs, req.opts);
    return decodingSource(this.model, req.plan, { prompts, pixels: req.pixels });
  }

  /** Token ids for every prompt a plan's branches read ("main" is `prompt`), in the call's template and suffix. */
  branchPrompts(plan: DecodingPlan | null, prompt: number[][], inputs: AskInput[], opts: AskOptions): Record<string, number[][]> {
    return branchPrompts(this.tokenizer, plan, prompt, inputs, promptStyle(opts));
  }

  private async prepare(inputs: AskInput[], opts: AskOptions): Promise<Job> {
    if (inputs.length === 0) throw new Error("no prompts given");
    opts = withPresetSampling(opts);
    checkSamplingOptions(opts); // before any image work
    const plan = decodingPlan(opts.causal, this.model.config); // built once: the source runs what the settings describe
    const settings = this.settings(opts, plan);
    const t0 = performance.now();
    const images = await preprocessImages(inputs, this.processor, settings.mode);
    const imageMs = performance.now() - t0;
    const prompt = mainPrompts(this.tokenizer, inputs, settings);
    settings.maxNewTokens = this.fitMaxNew(prompt[0], settings.maxNewTokens);
    const pixels = pixelBatch(images);
    let source: LogitsSource;
    try {
      source = this.createSource({ plan, prompt, pixels, inputs, opts });
    } catch (e) {
      pixels?.dispose();
      throw e;
    }
    const gen: GenerateOptions = {
      ...opts,
      maxNewTokens: settings.maxNewTokens,
      eosTokenIds: settings.eosTokenIds,
      stop: settings.stop,
      tokenizer: this.tokenizer,
      padTokenId: this.generation.padTokenId ?? settings.eosTokenIds[0],
    };
    const dispose = () => {
      source.dispose();
      pixels?.dispose();
    };
    return { source, gen, settings, imageMs, dispose };
  }

  private settings(opts: AskOptions, plan: DecodingPlan | null): AskSettings {
    const s: AskSettings = {
      ...promptStyle(opts),
      mode: opts.mode ?? DEFAULTS.mode,
      maxNewTokens: opts.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS,
      temperature: opts.temperature ?? 0,
      stop: opts.stop ?? [],
      eosTokenIds: opts.eosTokenIds ?? this.generation.eosTokenIds,
      backend: currentBackend()?.name ?? tf.getBackend(),
    };
    if (s.temperature > 0) Object.assign(s, { topK: opts.topK, topP: opts.topP });
    if (opts.causal !== undefined && plan !== null) s.causal = { ...opts.causal, plan: describePlan(plan) };
    return s;
  }

  /** Keeps prompt + answer within the model's positions (as HF warns, RoPE past it is untrained). */
  private fitMaxNew(ids: number[], maxNew: number): number {
    const images = ids.filter((id) => id === this.model.config.imageTokenIndex).length;
    const positions = ids.length + images * (this.model.numImageTokens - 1);
    const limit = this.model.config.text.maxPositionEmbeddings;
    if (positions >= limit) throw new Error(`the prompt needs ${positions} positions, the model supports ${limit}`);
    return Math.min(maxNew, limit - positions);
  }

  private finish(res: GenerateResult, job: Job): BatchResult {
    if (res.seed !== undefined) job.settings.seed = res.seed;
    const timings = { ...res.timings, loadMs: this.loadMs, imageMs: job.imageMs };
    return { ...res, text: res.text ?? res.tokens.map(() => ""), timings, settings: job.settings };
  }
}

/** The call's template and suffix, defaults filled in. */
function promptStyle(opts: AskOptions): PromptStyle {
  return { template: opts.template ?? DEFAULT_TEMPLATE, suffix: opts.suffix ?? "" };
}

/**
 * Loads a llava-hf model directory (default: the embedded model) with its tokenizer, CLIP
 * preprocessing (preprocessor_config.json, else the config's image size) and generation_config.json.
 */
export async function loadLlava(dir?: string, opts: LoadLlavaOptions = {}): Promise<Llava> {
  const t0 = performance.now();
  const modelDir = resolveModelDir(dir);
  if (!existsSync(modelDir)) throw new Error(`model directory not found: ${modelDir}`);
  const cfg = loadLlavaConfig(modelDir);
  // the memory plan first: a machine that cannot hold the model is told so before the tokenizer loads
  const planned = await planLoad(modelDir, {
    backend: opts.backend,
    onProgress: opts.onProgress,
    residency: opts.residency,
    performance: opts.performance,
    machine: opts.machine,
  });
  let tokenizer: Tokenizer, processor: ProcessorConfig, generation: GenerationDefaults;
  try {
    tokenizer = await Tokenizer.fromDir(opts.tokenizerDir ?? modelDir, { imageTokenId: cfg.imageTokenIndex });
    processor = loadProcessorConfig(modelDir, cfg.vision.imageSize);
    generation = loadGenerationDefaults(modelDir, cfg, tokenizer);
  } catch (e) {
    planned.close();
    throw e;
  }
  return new Llava(modelDir, planned.read(), tokenizer, processor, generation, performance.now() - t0);
}
