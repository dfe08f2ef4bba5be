// The model behind `causalmm eval`: answers POPE/MME questions with plain or CausalMM decoding.
// Speed: each image is encoded once (every vision variant of the plan), and the prompt prefix shared by
// that image's questions (system prompt + image tokens) is run once per branch; each question then
// continues from a copy of those caches. Without caching the same two-stage computation is redone per
// question, so both paths run identical operations and give bit-identical answers.
import * as tf from "@tensorflow/tfjs-core";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { AskOptions, Llava } from "../api.js";
import type { PrefixState } from "../causal/source.js";
import { describePlan, withPresetSampling } from "../causal/presets.js";
import { decodingPlan, decodingPrefix, decodingSource, PLAIN_PLAN } from "../causal/decoding.js";
import type { DecodingPlan } from "../causal/plan.js";
import { generate } from "../generate/generate.js";
import { checkSamplingOptions } from "../generate/sampling.js";
import { hashKey } from "../util/rng.js";
import { encodePrompt } from "../text/index.js";
import { loadImage, preprocessWithShape } from "../vision/index.js";
import { PACKAGE_VERSION } from "../paths.js";
import { DEFAULTS } from "../defaults.js";
import type { Answer, Answerer, EvalItem } from "./answerer.js";

/**
 * The options of an eval run: the preset's sampling filled in, `maxNewTokens` defaulting to the eval
 * length, and a fixed seed when sampling (answers must not depend on when, or whether, a run was resumed).
 */
export function evalAskOptions(given: AskOptions): AskOptions {
  const opts = withPresetSampling(given);
  if (opts.maxNewTokens === undefined) opts.maxNewTokens = DEFAULTS.evalMaxNewTokens;
  if ((opts.temperature ?? 0) > 0 && opts.seed === undefined) opts.seed = 0;
  checkSamplingOptions(opts);
  return opts;
}

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
  /** Null = plain decoding; the settings describe this same object. */
  private readonly plan: DecodingPlan | null;

  constructor(
    private readonly llava: Llava,
    private readonly opts: AskOptions,
    private readonly caching = true,
  ) {
    this.plan = decodingPlan(opts.causal, llava.model.config);
    this.modelId = llava.dir.split(/[\\/]/).filter(Boolean).pop() ?? llava.dir;
    const configHash = createHash("sha256")
      .update(readFileSync(join(llava.dir, "config.json")))
      .digest("hex")
      .slice(0, 16);
    this.settings = {
      template: opts.template ?? DEFAULTS.template,
      suffix: opts.suffix ?? "",
      mode: opts.mode ?? DEFAULTS.mode,
      maxNewTokens: opts.maxNewTokens ?? DEFAULTS.evalMaxNewTokens,
      temperature: opts.temperature ?? 0,
      topP: opts.topP ?? null,
      topK: opts.topK ?? null,
      seed: opts.seed ?? null,
      causal: opts.causal ?? null,
      plan: describePlan(this.plan ?? PLAIN_PLAN),
      modelConfigSha256: configHash,
      package: PACKAGE_VERSION,
    };
  }

  async answer(items: EvalItem[]): Promise<Answer[]> {
    const image = items[0].image;
    if (items.some((i) => i.image !== image)) throw new Error("ModelAnswerer: a group must share one image");
    const processed = preprocessWithShape(await loadImage(image), this.llava.processor, this.opts.mode ?? DEFAULTS.mode);
    const pixels = tf.tensor4d(processed.data, [1, 3, processed.height, processed.width]);
    const prompts = items.map((it) => this.prompts(it));
    const prefixIds = Object.fromEntries(Object.keys(prompts[0]).map((k) => [k, longestCommonPrefix(prompts.map((p) => p[k][0]))]));
    let shared: PrefixState | null = null;
    try {
      if (this.caching) shared = decodingPrefix(this.llava.model, this.plan, prefixIds, pixels);
      return items.map((it, i) => {
        const prefix = shared ?? decodingPrefix(this.llava.model, this.plan, prefixIds, pixels);
        try {
          return { text: this.decode(prompts[i], prefix, it), prompt: it.question };
        } finally {
          if (!shared) prefix.dispose();
        }
      });
    } finally {
      shared?.dispose();
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

  private decode(prompts: Record<string, number[][]>, prefix: PrefixState, it: EvalItem): string {
    const source = decodingSource(this.llava.model, this.plan, { prompts, prefix });
    try {
      const o = this.opts;
      // a seed per question, so a resumed run samples exactly what an uninterrupted one did
      const seed = o.seed === undefined ? undefined : hashKey([o.seed, String(it.questionId)])[0];
      const res = generate(source, {
        ...o,
        seed,
        maxNewTokens: o.maxNewTokens ?? DEFAULTS.evalMaxNewTokens,
        tokenizer: this.llava.tokenizer,
        eosTokenIds: o.eosTokenIds ?? this.llava.generation.eosTokenIds,
        padTokenId: this.llava.generation.padTokenId ?? undefined,
      });
      return (res.text?.[0] ?? "").trim();
    } finally {
      source.dispose();
    }
  }
}
