// Package entry point (`import { loadLlava } from "causalmm"`): the high-level API first, then the
// lower-level pieces it is built from, for callers that want their own loop or source.
export { loadLlava, Llava, DEFAULT_TEMPLATE, DEFAULT_MAX_NEW_TOKENS } from "./api.js";
export type { LoadLlavaOptions, AskOptions, AskResult, AskSettings, BatchResult } from "./api.js";
export type { AskInput } from "./ask-inputs.js";

export { generate, stream, run } from "./generate/generate.js";
export type { GenerateOptions, GenerateResult, StreamEvent, FinishReason, Timings } from "./generate/generate.js";
export { ModelSource, logitsRows } from "./generate/source.js";
export type { LogitsSource, ModelSourceOptions, SourceStats } from "./generate/source.js";
export { makeSelector, sampleToken, softmaxWithTemperature } from "./generate/sampling.js";
export type { SamplingOptions, Selector } from "./generate/sampling.js";
export { applyProcessors, repetitionPenalty, suppressTokens, minNewTokens } from "./generate/processors.js";
export type { LogitsProcessor, ProcessorState } from "./generate/processors.js";
export { loadGenerationDefaults } from "./generate/defaults.js";
export type { GenerationDefaults } from "./generate/defaults.js";
export { greedyDecode } from "./generate/greedy.js";
export { argmax } from "./util/argmax.js";

export { initBackend, currentBackend, BACKENDS } from "./backend.js";
export type { BackendName, BackendInfo } from "./backend.js";
export { loadModel, buildModel } from "./model/load.js";
export type { LoadOptions } from "./model/load.js";
export { LlavaModel } from "./model/llava.js";
export type { ImageEncoding, ImageEncodeOptions } from "./model/llava.js";
export { loadLlavaConfig } from "./model/config.js";
export type { LlavaConfig, TextConfig, VisionConfig } from "./model/config.js";
export { KVCache } from "./model/kv-cache.js";
export type { AttentionHook, AttentionSite, Tap, ModuleName } from "./model/hooks.js";
export type { LoadProgress } from "./weights/params.js";

export {
  Tokenizer,
  StreamDecoder,
  buildPrompt,
  encodePrompt,
  encodePromptOriginal,
  TEMPLATE_NAMES,
  ONE_WORD_SUFFIX,
  SINGLE_WORD_PHRASE_SUFFIX,
} from "./text/index.js";
export type { TemplateName, PromptOptions } from "./text/index.js";
export { loadImage, decodeImage, preprocess, preprocessWithShape, loadProcessorConfig, defaultProcessorConfig } from "./vision/index.js";
export type { RgbImage, ProcessorConfig, PreprocessMode } from "./vision/index.js";
export { resolveModelDir, EMBEDDED_MODEL_DIR } from "./paths.js";

// CausalMM: interventions as data, decoding plans, the batched branch source, presets and baselines.
export { counterfactualProbs, makeInterventionHook, validateIntervention, CF_TYPES } from "./causal/counterfactual.js";
export type { Intervention, CfType } from "./causal/counterfactual.js";
export { CausalSource } from "./causal/source.js";
export type { CausalSourceOptions, PrefixState } from "./causal/source.js";
export { buildPlan, describePlan, presetSampling, ICD_DISTURBANCE } from "./causal/presets.js";
export type { CausalOptions, Preset, Baseline } from "./causal/presets.js";
export { FACTUAL } from "./causal/plan.js";
export type { Branch, ContrastTerm, DecodingPlan, VisionVariant } from "./causal/plan.js";
export { contrastLogits, averageDraws } from "./causal/contrast.js";
export { officialReweightMap, reweightFeatures } from "./causal/official.js";
export { addDiffusionNoise } from "./causal/noise.js";
export { parseCfSpec, parseCfSpecs, formatCfSpec } from "./causal/spec.js";
export { stream as rngStream, Rng } from "./util/rng.js";

// Introspection: one-forward capture, attention recording, heatmaps, sweeps, the HTML explorer.
export { inspectForward } from "./introspect/inspect.js";
export { AttentionRecorder } from "./introspect/recorder.js";
export type { AttentionRecord, RecorderOptions } from "./introspect/recorder.js";
export { recordAnswer } from "./introspect/session.js";
export type { Recording } from "./introspect/session.js";
export { renderHeatmap } from "./introspect/heatmap.js";
export { runSweep } from "./introspect/sweep.js";
export { exploreAnswer, explorerPage } from "./introspect/explore.js";
