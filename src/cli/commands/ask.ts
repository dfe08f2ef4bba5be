// `causalmm ask`: one question about one picture. The answer streams to stdout token by token (or
// comes as one JSON object with --json); load progress and --verbose timings go to stderr.
import { loadLlavaWithProgress } from "../load.js";
import type { CommandSpec, OptionSpec, ParsedArgs } from "../args.js";
import { isParserDefault, need, str } from "../args.js";
import type { AskOptions, AskResult, Llava } from "../../api.js";
import { currentBackend } from "../../backend.js";
import { ONE_WORD_SUFFIX, TEMPLATE_NAMES, type TemplateName } from "../../text/index.js";
import { loadImage, setMaxImagePixels, type PreprocessMode } from "../../vision/index.js";
import type { Timings } from "../../generate/generate.js";
import { checkSamplingOptions } from "../../generate/sampling.js";
import { BASELINES, presetFills, type CausalOptions } from "../../causal/presets.js";
import { writeFileSync } from "node:fs";
import { RESIDENCY_FLAGS } from "../residency.js";
import { withCleanup } from "../../util/cleanup.js";

type Value = string | number | boolean | string[];

const causal = (o: AskOptions): CausalOptions => (o.causal ??= {});

/** CausalMM and baseline contrastive decoding; any of them turns contrastive decoding on. */
export const CAUSAL_FLAGS: AskFlag[] = [
  { name: "cf", type: "list", key: "causal.cf", help: "counterfactual branch: MODULE:TYPE@LAYERS[:hHEADS][:sSEED], e.g. vision:uniform@sel, text:random@8-16:h0,3, both; A+B = one branch with both (see docs/causalmm.md)", apply: (v, o) => (causal(o).cf = v as string[]) },
  { name: "preset", type: "string", key: "causal.preset", help: "paper (interventions inside attention, own caches) or official (the released code)", choices: ["paper", "official"], apply: (v, o) => (causal(o).preset = v as CausalOptions["preset"]) },
  { name: "baseline", type: "string", key: "causal.baseline", help: "contrast with a noised image (vcd), no image (noimage, M3ID-style), a disturbance prompt (icd), or PAI: amplified image attention + text-only contrast (pai)", choices: BASELINES, apply: (v, o) => (causal(o).baseline = v as CausalOptions["baseline"]) },
  { name: "gamma", type: "number", key: "causal.gamma", help: "contrast strength γ in (1+γ)ℓ − γℓ_cf (default 1; PAI: γℓ − (γ−1)ℓ_txt, default 1.1)", apply: (v, o) => (causal(o).gamma = Number(v)) },
  { name: "epsilon", type: "number", key: "causal.epsilon", min: 0, exclusiveMin: true, max: 1, help: "plausibility cutoff ε: tokens below log ε + max ℓ are dropped (default 0.1; official 0.6)", apply: (v, o) => (causal(o).epsilon = Number(v)) },
  { name: "draws", type: "number", key: "causal.draws", integer: true, min: 1, help: "seeded draws averaged for random/shuffle counterfactuals (default 1)", apply: (v, o) => (causal(o).draws = Number(v)) },
  { name: "cf-seed", type: "number", key: "causal.seed", integer: true, help: "seed of random/shuffle counterfactuals and VCD noise (official default 55)", apply: (v, o) => (causal(o).seed = Number(v)) },
  { name: "shared-cache", type: "string", key: "causal.sharedCache", help: "true|false: counterfactual branches reuse the factual KV cache (official default true)", choices: ["true", "false"], apply: (v, o) => (causal(o).sharedCache = v === "true") },
  { name: "official-type", type: "string", key: "causal.officialType", help: "official preset: attention edit (default shuffle)", choices: ["shuffle", "random", "uniform", "reversed"], apply: (v, o) => (causal(o).officialType = v as CausalOptions["officialType"]) },
  { name: "pai-alpha", type: "number", key: "causal.paiAlpha", help: "PAI: α of a ← a + α·|a| on the image keys' attention scores (default 0.2)", apply: (v, o) => (causal(o).paiAlpha = Number(v)) },
  { name: "pai-start-layer", type: "number", key: "causal.paiStartLayer", integer: true, min: 0, help: "PAI: first amplified LLM layer (default 2)", apply: (v, o) => (causal(o).paiStartLayer = Number(v)) },
  { name: "pai-end-layer", type: "number", key: "causal.paiEndLayer", integer: true, min: 1, help: "PAI: amplified layers end before this one (default: the number of layers)", apply: (v, o) => (causal(o).paiEndLayer = Number(v)) },
  { name: "noise-step", type: "number", key: "causal.noiseStep", integer: true, min: 0, max: 999, help: "VCD diffusion noise step (default 500)", apply: (v, o) => (causal(o).noiseStep = Number(v)) },
];

/** A flag and how it sets AskOptions. New flags (CausalMM: --cf, --gamma, ...) are one more entry. */
export interface AskFlag extends OptionSpec {
  apply?: (value: Value, opts: AskOptions) => void;
  /** The AskOptions value it sets (dotted path), for the `sources` of the settings. */
  key?: string;
}

export const ASK_FLAGS: AskFlag[] = [
  { name: "model", type: "string", aliases: ["model-path"], help: "llava-hf model directory (default: the embedded model)" },
  { name: "image", type: "string", help: "PNG or JPEG file to ask about (required)" },
  { name: "tokenizer", type: "string", help: "directory with tokenizer.json (default: the model directory)" },
  { name: "template", type: "string", key: "template", aliases: ["conv-mode"], help: "prompt template (LLaVA's --conv-mode)", choices: TEMPLATE_NAMES, default: "llava_v1", apply: (v, o) => (o.template = v as TemplateName) },
  { name: "mode", type: "string", key: "mode", help: "image preprocessing: crop (llava-hf) or pad (original LLaVA)", choices: ["crop", "pad"], default: "crop", apply: (v, o) => (o.mode = v as PreprocessMode) },
  { name: "max-image-pixels", type: "number", integer: true, min: 1, help: "refuse images with more pixels than this (default 178956970, Pillow's limit; see docs/preprocessing.md)", apply: (v) => setMaxImagePixels(Number(v)) },
  { name: "suffix", type: "string", key: "suffix", help: "text appended to the question verbatim", apply: (v, o) => (o.suffix = String(v)) },
  { name: "one-word", type: "boolean", key: "suffix", help: `append "${ONE_WORD_SUFFIX.trim()}" (CausalMM/VCD eval prompt)`, apply: (v, o) => { if (v) o.suffix = ONE_WORD_SUFFIX; } },
  { name: "max-new-tokens", type: "number", key: "maxNewTokens", integer: true, min: 0, help: "stop after this many new tokens", default: 512, apply: (v, o) => (o.maxNewTokens = Number(v)) },
  { name: "temperature", type: "number", key: "temperature", min: 0, help: "0 = greedy; > 0 samples (default 0; --preset official: 1)", apply: (v, o) => (o.temperature = Number(v)) },
  { name: "top-p", type: "number", key: "topP", min: 0, exclusiveMin: true, max: 1, help: "nucleus sampling: keep the most likely tokens up to this probability mass", apply: (v, o) => (o.topP = Number(v)) },
  { name: "top-k", type: "number", key: "topK", integer: true, min: 0, help: "sample only among the k most likely tokens", apply: (v, o) => (o.topK = Number(v)) },
  { name: "seed", type: "number", key: "seed", integer: true, help: "sampling seed (default: random, printed by --verbose/--json)", apply: (v, o) => (o.seed = Number(v)) },
  { name: "stop", type: "list", key: "stop", help: "stop when the answer contains this text (cut before it)", apply: (v, o) => (o.stop = v as string[]) },
  ...CAUSAL_FLAGS,
  ...RESIDENCY_FLAGS,
  { name: "save-settings", type: "string", help: "write the full settings of the run as JSON to this file" },
  { name: "verbose", type: "boolean", help: "per-phase timings on stderr" },
  { name: "json", type: "boolean", help: "print {ids, text, timings, settings} as one JSON object instead of streaming" },
];

/** AskOptions from the parsed flags: every flag with an `apply`, in declaration order. */
export function buildAskOptions(args: ParsedArgs): AskOptions {
  if (args.opts.suffix !== undefined && args.opts["one-word"]) throw new Error("ask: use either --suffix or --one-word, not both");
  const opts: AskOptions = {};
  for (const flag of ASK_FLAGS) {
    const v = args.opts[flag.name];
    // A parser default the user did not give must not override a preset (given flags > preset > defaults).
    if (v !== undefined && flag.apply && !isParserDefault(args, flag)) flag.apply(v, opts);
  }
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

function out(text: string): void {
  if (text) process.stdout.write(text);
}

/** A reader that stops early (`| head -c 20`) closes the pipe: that ends the command quietly. */
function exitOnClosedPipe(): void {
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e;
    process.exit(0);
  });
}

async function streamAnswer(m: Llava, image: Parameters<Llava["ask"]>[0], question: string, opts: AskOptions): Promise<AskResult> {
  const it = m.stream(image, question, opts);
  for (;;) {
    const r = await it.next();
    if (r.done) {
      out("\n");
      return r.value;
    }
    out(r.value.text);
  }
}

function fmt(ms: number): string {
  return `${ms.toFixed(2).padStart(10)} ms`;
}

/** llama.cpp-style timing lines. */
export function timingLines(t: Timings): string[] {
  const perTok = (ms: number, n: number) => (n > 0 ? `${(ms / n).toFixed(2)} ms per token, ` : "");
  return [
    `load time      = ${fmt(t.loadMs ?? 0)}`,
    `image          = ${fmt(t.imageMs ?? 0)} (decode + preprocess)`,
    `vision encode  = ${fmt(t.visionEncodeMs)}`,
    `prefill        = ${fmt(t.prefillMs)} / ${String(t.prefillTokens).padStart(5)} tokens (${perTok(t.prefillMs, t.prefillTokens)}${t.prefillTokensPerSec.toFixed(2)} tok/s)`,
    `decode         = ${fmt(t.decodeMs)} / ${String(t.decodeTokens).padStart(5)} runs   (${perTok(t.decodeMs, t.decodeTokens)}${t.decodeTokensPerSec.toFixed(2)} tok/s)`,
    `total          = ${fmt((t.loadMs ?? 0) + (t.imageMs ?? 0) + t.totalMs)} / ${String(t.generatedTokens).padStart(5)} new tokens`,
  ];
}

async function run(args: ParsedArgs): Promise<number> {
  const question = args.positional.join(" ").trim();
  if (!question) throw new Error('ask: a question is required, e.g. causalmm ask --image photo.jpg "What is in this picture?"');
  const imagePath = need(args, "image", "ask");
  const opts = buildAskOptions(args);
  const verbose = Boolean(args.opts.verbose);
  exitOnClosedPipe();
  // The image first: a bad file should fail in milliseconds, not after loading gigabytes of weights.
  const t0 = performance.now();
  const image = await loadImage(imagePath);
  const decodeMs = performance.now() - t0;
  const m = await loadLlavaWithProgress(args);
  await withCleanup(async () => {
    if (verbose) process.stderr.write(`backend: ${currentBackend()?.name} (${currentBackend()?.package}), model: ${m.dir}\n`);
    const res = args.opts.json ? await m.ask(image, question, opts) : await streamAnswer(m, image, question, opts);
    res.timings.imageMs = (res.timings.imageMs ?? 0) + decodeMs;
    const settings = { ...res.settings, model: m.dir, image: imagePath, question, sources: settingSources(args, opts) };
    const saveTo = str(args, "save-settings");
    if (saveTo) writeFileSync(saveTo, JSON.stringify(settings, null, 2) + "\n");
    if (args.opts.json) {
      out(JSON.stringify({ ids: res.tokens, text: res.text, finishReason: res.finishReason, timings: res.timings, settings }) + "\n");
    }
    if (verbose) {
      if (res.settings.seed !== undefined) process.stderr.write(`seed: ${res.settings.seed}\n`);
      process.stderr.write(timingLines(res.timings).join("\n") + "\n");
    }
  }, () => m.dispose());
  return 0;
}

export const askCommand: CommandSpec = {
  name: "ask",
  summary: "ask the model a question about a picture (answer streamed to stdout)",
  usage: 'causalmm ask --model DIR --image FILE [--template llava_v1|llava-hf] [--mode crop|pad] [--max-new-tokens N] [--temperature T --top-p P --top-k K --seed S] [--stop S] [--cf SPEC ... | --preset official | --baseline vcd|noimage|icd|pai [--pai-alpha A --pai-start-layer S --pai-end-layer E]] [--gamma G --epsilon E --draws K] [--json] [--verbose] "question"',
  options: ASK_FLAGS,
  run,
};
