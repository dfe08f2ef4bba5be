// The flags of `ask` (and of the eval answerer, which takes the same decoding flags): the prompt flags
// shared with the other model commands, sampling, CausalMM and baselines, each declared with how it sets
// AskOptions, so a new flag is one more entry.
import type { ParsedArgs } from "./args.js";
import type { AskOptions } from "../api.js";
import { setMaxImagePixels } from "../vision/index.js";
import { checkSamplingOptions } from "../generate/sampling.js";
import { BASELINES, presetFills, type CausalOptions } from "../causal/presets.js";
import { RESIDENCY_FLAGS } from "./residency.js";
import { DEFAULTS } from "../defaults.js";
import {
  applyFlags,
  IMAGE_FLAG,
  MODE_FLAG,
  MODEL_FLAG,
  SUFFIX_FLAGS,
  TEMPLATE_FLAG,
  TOKENIZER_FLAG,
  type AskFlag,
} from "./prompt-flags.js";

const causal = (o: AskOptions): CausalOptions => (o.causal ??= {});

/** CausalMM and baseline contrastive decoding; any of them turns contrastive decoding on. */
export const CAUSAL_FLAGS: AskFlag[] = [
  {
    name: "cf",
    type: "list",
    key: "causal.cf",
    help:
      "counterfactual branch: MODULE:TYPE@LAYERS[:hHEADS][:sSEED], e.g. vision:uniform@sel, text:random@8-16:h0,3, both; " +
      "A+B = one branch with both (see docs/causalmm.md)",
    apply: (v, o) => (causal(o).cf = v as string[]),
  },
  {
    name: "preset",
    type: "string",
    key: "causal.preset",
    help: "paper (interventions inside attention, own caches) or official (the released code)",
    choices: ["paper", "official"],
    apply: (v, o) => (causal(o).preset = v as CausalOptions["preset"]),
  },
  {
    name: "baseline",
    type: "string",
    key: "causal.baseline",
    help:
      "contrast with a noised image (vcd), no image (noimage, M3ID-style), a disturbance prompt (icd), " +
      "or PAI: amplified image attention + text-only contrast (pai)",
    choices: BASELINES,
    apply: (v, o) => (causal(o).baseline = v as CausalOptions["baseline"]),
  },
  {
    name: "gamma",
    type: "number",
    key: "causal.gamma",
    help: "contrast strength γ in (1+γ)ℓ − γℓ_cf (default 1; PAI: γℓ − (γ−1)ℓ_txt, default 1.1)",
    apply: (v, o) => (causal(o).gamma = Number(v)),
  },
  {
    name: "epsilon",
    type: "number",
    key: "causal.epsilon",
    min: 0,
    exclusiveMin: true,
    max: 1,
    help: "plausibility cutoff ε: tokens below log ε + max ℓ are dropped (default 0.1; official 0.6)",
    apply: (v, o) => (causal(o).epsilon = Number(v)),
  },
  {
    name: "draws",
    type: "number",
    key: "causal.draws",
    integer: true,
    min: 1,
    help: "seeded draws averaged for random/shuffle counterfactuals (default 1)",
    apply: (v, o) => (causal(o).draws = Number(v)),
  },
  {
    name: "cf-seed",
    type: "number",
    key: "causal.seed",
    integer: true,
    help: "seed of random/shuffle counterfactuals and VCD noise (official default 55)",
    apply: (v, o) => (causal(o).seed = Number(v)),
  },
  {
    name: "shared-cache",
    type: "string",
    key: "causal.sharedCache",
    help: "true|false: counterfactual branches reuse the factual KV cache (official default true)",
    choices: ["true", "false"],
    apply: (v, o) => (causal(o).sharedCache = v === "true"),
  },
  {
    name: "official-type",
    type: "string",
    key: "causal.officialType",
    help: "official preset: attention edit (default shuffle)",
    choices: ["shuffle", "random", "uniform", "reversed"],
    apply: (v, o) => (causal(o).officialType = v as CausalOptions["officialType"]),
  },
  {
    name: "pai-alpha",
    type: "number",
    key: "causal.paiAlpha",
    help: "PAI: α of a ← a + α·|a| on the image keys' attention scores (default 0.2)",
    apply: (v, o) => (causal(o).paiAlpha = Number(v)),
  },
  {
    name: "pai-start-layer",
    type: "number",
    key: "causal.paiStartLayer",
    integer: true,
    min: 0,
    help: "PAI: first amplified LLM layer (default 2)",
    apply: (v, o) => (causal(o).paiStartLayer = Number(v)),
  },
  {
    name: "pai-end-layer",
    type: "number",
    key: "causal.paiEndLayer",
    integer: true,
    min: 1,
    help: "PAI: amplified layers end before this one (default: the number of layers)",
    apply: (v, o) => (causal(o).paiEndLayer = Number(v)),
  },
  {
    name: "noise-step",
    type: "number",
    key: "causal.noiseStep",
    integer: true,
    min: 0,
    max: 999,
    help: "VCD diffusion noise step (default 500)",
    apply: (v, o) => (causal(o).noiseStep = Number(v)),
  },
];

export const ASK_FLAGS: AskFlag[] = [
  MODEL_FLAG,
  { ...IMAGE_FLAG, help: "PNG or JPEG file to ask about (required)" },
  TOKENIZER_FLAG,
  TEMPLATE_FLAG,
  MODE_FLAG,
  {
    name: "max-image-pixels",
    type: "number",
    integer: true,
    min: 1,
    help: "refuse images with more pixels than this (default 178956970, Pillow's limit; see docs/preprocessing.md)",
    apply: (v) => setMaxImagePixels(Number(v)),
  },
  ...SUFFIX_FLAGS,
  {
    name: "max-new-tokens",
    type: "number",
    key: "maxNewTokens",
    integer: true,
    min: 0,
    help: "stop after this many new tokens",
    default: DEFAULTS.maxNewTokens,
    apply: (v, o) => (o.maxNewTokens = Number(v)),
  },
  {
    name: "temperature",
    type: "number",
    key: "temperature",
    min: 0,
    help: "0 = greedy; > 0 samples (default 0; --preset official: 1)",
    apply: (v, o) => (o.temperature = Number(v)),
  },
  {
    name: "top-p",
    type: "number",
    key: "topP",
    min: 0,
    exclusiveMin: true,
    max: 1,
    help: "nucleus sampling: keep the most likely tokens up to this probability mass",
    apply: (v, o) => (o.topP = Number(v)),
  },
  {
    name: "top-k",
    type: "number",
    key: "topK",
    integer: true,
    min: 0,
    help: "sample only among the k most likely tokens",
    apply: (v, o) => (o.topK = Number(v)),
  },
  {
    name: "seed",
    type: "number",
    key: "seed",
    integer: true,
    help: "sampling seed (default: random, printed by --verbose/--json)",
    apply: (v, o) => (o.seed = Number(v)),
  },
  {
    name: "stop",
    type: "list",
    key: "stop",
    help: "stop when the answer contains this text (cut before it)",
    apply: (v, o) => (o.stop = v as string[]),
  },
  ...CAUSAL_FLAGS,
  ...RESIDENCY_FLAGS,
  { name: "save-settings", type: "string", help: "write the full settings of the run as JSON to this file" },
  { name: "verbose", type: "boolean", help: "per-phase timings on stderr" },
  { name: "json", type: "boolean", help: "print {ids, text, timings, settings} as one JSON object instead of streaming" },
];

/** AskOptions from the parsed flags: every flag with an `apply`, in declaration order. */
export function buildAskOptions(args: ParsedArgs): AskOptions {
  const opts = applyFlags(args, ASK_FLAGS, "ask");
  checkSamplingOptions(opts); // now, not after the weights have loaded
  const n = opts.maxNewTokens;
  if (n !== undefined && !(Number.isInteger(n) && n >= 0)) throw new Error(`ask: --max-new-tokens must be an integer ≥ 0, got ${n}`);
  return opts;
}

export type ValueSource = "flag" | "preset" | "default";

/**
 * Where each decoding value came from, by flag name: given on the command line, filled in by the
 * preset (`--preset official`: T = 1, top-p 1, seed 55, ε 0.6, ...), or the built-in default.
 */
export function settingSources(args: ParsedArgs, opts: AskOptions): Record<string, ValueSource> {
  const fromPreset = new Set(opts.causal ? presetFills(opts.causal) : []);
  const out: Record<string, ValueSource> = {};
  for (const flag of ASK_FLAGS) {
    if (!flag.key) continue;
    const given = args.given ? args.given.has(flag.name) : args.opts[flag.name] !== undefined;
    out[flag.name] = given ? "flag" : fromPreset.has(flag.key) ? "preset" : "default";
  }
  return out;
}
