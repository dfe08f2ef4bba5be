// The model behind `causalmm eval`: answers POPE/MME questions with plain or CausalMM decoding.
// Speed: each image is encoded once (every vision variant of the plan), and the prompt prefix shared by
// that image's questions (system prompt + image tokens) is run once per branch; each question then
// continues from a copy of those caches. Without caching the same two-stage computation is redone per
// question, so both paths run identical operations and give bit-identical answers.
import * as tf from "@tensorflow/tfjs-core";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { OptionSpec, ParsedArgs } from "../cli/args.js";
import { str } from "../cli/args.js";
import { loadLlava, type AskOptions, type Llava } from "../api.js";
import { CausalSource, type PrefixState } from "../causal/source.js";
import { buildPlan, describePlan, withPresetSampling } from "../causal/presets.js";
import { encodePlanFeatures } from "../causal/images.js";
import { FACTUAL, type DecodingPlan } from "../causal/plan.js";
import { generate } from "../generate/generate.js";
import { checkSamplingOptions } from "../generate/sampling.js";
import { hashKey } from "../util/rng.js";
import { encodePrompt } from "../text/index.js";
import { loadImage, preprocessWithShape } from "../vision/index.js";
import { resolveModelDir, PACKAGE_VERSION } from "../paths.js";
import { DEFAULTS } from "../defaults.js";
import { ASK_FLAGS, buildAskOptions, settingSources } from "../cli/commands/ask.js";
import type { Answer, Answerer, EvalItem } from "./answerer.js";

export const PLAIN_PLAN: DecodingPlan = { branches: [FACTUAL], terms: [], gamma: 0, epsilon: 0, sharedCache: false };

const SKIP = new Set(["image", "json", "verbose", "save-settings"]);
export const EVAL_MODEL_OPTIONS: OptionSpec[] = [
  ...ASK_FLAGS.filter((f) => !SKIP.has(f.name)).map((f) => (f.name === "max-new-tokens" ? { ...f, default: undefined, help: "maximum new tokens (default: 128; eval chair: 512)" } : f)),
  { name: "no-cache", type: "boolean", help: "re-encode the image and re-run the prompt prefix for every question (same answers, slower)" },
];

function longestCommonPrefix(rows: number[][]): number[] {
  const first = rows[0];
  let n = first.length - 1; // leave at least one token for each question's own prefill
  for (const r of rows) {
    let i = 0;
    while (i < n && i < r.length - 1 && r[i] === first[i]) i++;
    n = i;
  }
  return first.slice(0, n);
}

export class ModelAnswerer implements Answerer {
  readonly modelId: string;
  readonly settings: Record<string, unknown>;
  private readonly plan: DecodingPlan;

  constructor(private readonly llava: Llava, private readonly opts: AskOptions, private readonly caching = true) {
    this.plan = opts.causal ? buildPlan(opts.causal, llava.model.config) : PLAIN_PLAN;
    this.modelId = llava.dir.split(/[\\/]/).filter(Boolean).pop() ?? llava.dir;
    const configHash = createHash("sha256").update(readFileSync(join(llava.dir, "config.json"))).digest("hex").slice(0, 16);
    this.settings = {
      template: opts.template ?? DEFAULTS.template, suffix: opts.suffix ?? "", mode: opts.mode ?? DEFAULTS.mode,
      maxNewTokens: opts.maxNewTokens ?? DEFAULTS.evalMaxNewTokens, temperature: opts.temperature ?? 0, topP: opts.topP ?? null, topK: opts.topK ?? null,
      seed: opts.seed ?? null, causal: opts.causal ?? null, plan: describePlan(this.plan), modelConfigSha256: configHash, package: PACKAGE_VERSION,
    };
  }

  async answer(items: EvalItem[]): Promise<Answer[]> {
    const image = items[0].image;
    if (items.some((i) => i.image !== image)) throw new Error("ModelAnswerer: a group must share one image");
    const processed = preprocessWithShape(await loadImage(image), this.llava.processor, this.opts.mode ?? DEFAULTS.mode);
    const pixels = tf.tensor4d(processed.data, [1, 3, processed.height, processed.width]);
    const prompts = items.map((it) => this.prompts(it));
    const prefixIds = Object.fromEntries(Object.keys(prompts[0]).map((k) => [k, longestCommonPrefix(prompts.map((p) => p[k][0]))]));
    let shared: { features: Map<string, tf.Tensor3D>; prefix: PrefixState } | null = null;
    try {
      if (this.caching) shared = this.encode(pixels, prefixIds);
      return items.map((it, i) => {
        const state = shared ?? this.encode(pixels, prefixIds);
        try {
          return { text: this.decode(prompts[i], state.prefix, it), prompt: it.question };
        } finally {
          if (!shared) dispose(state);
        }
      });
    } finally {
      if (shared) dispose(shared);
      pixels.dispose();
    }
  }

  close(): void {
    this.llava.dispose();
  }

  private prompts(it: EvalItem): Record<string, number[][]> {
    const ask: AskOptions = { ...this.opts, template: this.opts.template ?? DEFAULTS.template };
    const main = [encodePrompt(this.llava.tokenizer, ask.template!, it.question, { suffix: ask.suffix ?? "", image: true })];
    return this.llava.branchPrompts(this.plan, main, [{ image: it.image, question: it.question }], ask);
  }

  private encode(pixels: tf.Tensor4D, prefixIds: Record<string, number[]>): { features: Map<string, tf.Tensor3D>; prefix: PrefixState } {
    const features = encodePlanFeatures(this.llava.model, pixels, this.plan);
    const prefix = CausalSource.buildPrefix(this.llava.model, this.plan, prefixIds, { features });
    return { features, prefix };
  }

  private decode(prompts: Record<string, number[][]>, prefix: PrefixState, it: EvalItem): string {
    const source = new CausalSource(this.llava.model, { plan: this.plan, prompts, prefix });
    try {
      const o = this.opts;
      // a seed per question, so a resumed run samples exactly what an uninterrupted one did
      const seed = o.seed === undefined ? undefined : hashKey([o.seed, String(it.questionId)])[0];
      const res = generate(source, {
        ...o, seed, maxNewTokens: o.maxNewTokens ?? DEFAULTS.evalMaxNewTokens, tokenizer: this.llava.tokenizer,
        eosTokenIds: o.eosTokenIds ?? this.llava.generation.eosTokenIds, padTokenId: this.llava.generation.padTokenId ?? undefined,
      });
      return (res.text?.[0] ?? "").trim();
    } finally {
      source.dispose();
    }
  }
}

function dispose(s: { features: Map<string, tf.Tensor3D>; prefix: PrefixState }): void {
  s.prefix.dispose();
  s.features.forEach((t) => t.dispose());
}

/** The CLI factory: loads the model named by --model (default: the embedded one). */
export async function createModelAnswerer(args: ParsedArgs): Promise<Answerer> {
  let opts = buildAskOptions(args);
  opts = withPresetSampling(opts);
  if (opts.maxNewTokens === undefined) opts.maxNewTokens = DEFAULTS.evalMaxNewTokens;
  // sampling needs a fixed seed: answers must not depend on when (or whether) a run was resumed
  if ((opts.temperature ?? 0) > 0 && opts.seed === undefined) opts.seed = 0;
  checkSamplingOptions(opts);
  const llava = await loadLlava(resolveModelDir(str(args, "model")), { backend: str(args, "backend"), tokenizerDir: str(args, "tokenizer") });
  const answerer = new ModelAnswerer(llava, opts, !args.opts["no-cache"]);
  answerer.settings.sources = settingSources(args, opts); // informational: resume compares the values, not this
  return answerer;
}
