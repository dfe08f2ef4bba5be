// `causalmm lab make`: write a synthetic hallucination-lab dataset (images, training conversations,
// POPE files). `causalmm lab eval`: greedy yes/no accuracy of a model on those POPE files.
// `causalmm lab random --like llava-1.5-7b`: a random-weight model in a published checkpoint's layout.
import type { ParsedArgs } from "../args.js";
import { defineCommand, need, numOpt, str } from "../args.js";
import { formatBytes, ProgressBar } from "../progress.js";
import { loadModelWithProgress } from "../load.js";
import { makeLab } from "../../lab/make.js";
import { writeRandomLike } from "../../lab/random-like.js";
import { defaultTokenizerDir } from "../../paths.js";
import { evaluateSplit } from "../../lab/evaluate.js";
import { POPE_SPLITS } from "../../lab/pope.js";
import { DEFAULT_KNOBS, type WorldKnobs } from "../../lab/world.js";
import { Tokenizer } from "../../text/index.js";
import { loadProcessorConfig } from "../../vision/index.js";

function knobOverrides(args: ParsedArgs): Partial<WorldKnobs> {
  const k: Partial<WorldKnobs> = {};
  const set = (opt: string, key: "cooccurrence" | "yesRate" | "visualPrior" | "colourPrior" | "popularity") => {
    const v = numOpt(args, opt);
    if (v !== undefined) k[key] = v;
  };
  set("cooccurrence", "cooccurrence");
  set("yes-rate", "yesRate");
  set("visual-prior", "visualPrior");
  set("colour-prior", "colourPrior");
  set("popularity", "popularity");
  return k;
}

async function make(args: ParsedArgs): Promise<void> {
  const out = need(args, "out", "lab make");
  const bar = new ProgressBar("rendering");
  const summary = await makeLab({
    out,
    seed: numOpt(args, "seed") ?? 0,
    train: numOpt(args, "train") ?? 4000,
    test: numOpt(args, "test") ?? 500,
    questionsPerImage: numOpt(args, "questions") ?? 5,
    imageSize: numOpt(args, "image-size") ?? 56,
    knobs: knobOverrides(args),
    onProgress: (d, t) => bar.update(d, t, `${d}/${t} images`),
  });
  bar.done();
  process.stdout.write(JSON.stringify({ out, ...summary }) + "\n");
}

async function evaluate(args: ParsedArgs): Promise<void> {
  const dir = need(args, "model", "lab eval");
  const data = need(args, "data", "lab eval");
  const model = await loadModelWithProgress(dir, str(args, "backend"));
  const tok = await Tokenizer.fromDir(dir, { imageTokenId: model.config.imageTokenIndex });
  const proc = loadProcessorConfig(dir, model.config.vision.imageSize);
  const splits = (str(args, "split") ?? POPE_SPLITS.join(",")).split(",");
  const result: Record<string, unknown> = {};
  for (const split of splits) result[split] = await evaluateSplit(model, tok, proc, data, split, numOpt(args, "limit"));
  model.dispose();
  process.stdout.write(JSON.stringify(result, null, 2) + "\n");
}

async function random(args: ParsedArgs): Promise<void> {
  const out = need(args, "out", "lab random");
  const like = need(args, "like", "lab random");
  const tokenizerDir = str(args, "tokenizer") ?? defaultTokenizerDir();
  if (!tokenizerDir)
    throw new Error(
      "lab random: pass --tokenizer DIR (a llava-1.5 tokenizer directory; none found in $CAUSALMM_FIXTURES or ../shared/fixtures)",
    );
  const bar = new ProgressBar("writing");
  const summary = writeRandomLike({
    like,
    out,
    tokenizerDir,
    textLayers: numOpt(args, "text-layers"),
    visionLayers: numOpt(args, "vision-layers"),
    dtype: ({ f16: "F16", bf16: "BF16", f32: "F32" } as const)[(str(args, "dtype") ?? "f16") as "f16"],
    shards: numOpt(args, "shards"),
    seed: numOpt(args, "seed") ?? 0,
    overwrite: args.opts.overwrite === true,
    onProgress: (d, t) => bar.update(d, t, `${formatBytes(d)} / ${formatBytes(t)}`),
  });
  bar.done();
  process.stdout.write(JSON.stringify(summary) + "\n");
}

async function run(args: ParsedArgs): Promise<void> {
  const sub = args.positional[0];
  if (sub === "make") return make(args);
  if (sub === "eval") return evaluate(args);
  if (sub === "random") return random(args);
  throw new Error(`lab: unknown subcommand '${sub ?? ""}' (use 'lab make', 'lab eval' or 'lab random')`);
}

export const labCommand = defineCommand({
  name: "lab",
  summary: "synthetic hallucination lab: make a dataset with planted priors, or score a model on it",
  usage:
    "causalmm lab make --out DIR [--seed S --train N --test N]  |  causalmm lab eval --model DIR --data DIR [--split random,popular,adversarial --limit N]" +
    "  |  causalmm lab random --like llava-1.5-7b --out DIR [--text-layers N --vision-layers N --dtype f16|bf16|f32 --shards N --seed S]",
  options: [
    { name: "out", type: "string", help: "make: output directory" },
    { name: "seed", type: "number", help: "make: world seed; random: weight seed", default: 0 },
    { name: "train", type: "number", help: "make: training images", default: 4000 },
    { name: "test", type: "number", help: "make: held-out test images", default: 500 },
    { name: "questions", type: "number", help: "make: yes/no questions per training image (plus a caption)", default: 5 },
    { name: "image-size", type: "number", help: "make: rendered image size in pixels", default: 56 },
    { name: "cooccurrence", type: "number", help: `make: P(Y | X) for planted pairs (default ${DEFAULT_KNOBS.cooccurrence})` },
    { name: "yes-rate", type: "number", help: `make: fraction of "Yes" training answers (default ${DEFAULT_KNOBS.yesRate})` },
    { name: "visual-prior", type: "number", help: `make: P(home object | background) (default ${DEFAULT_KNOBS.visualPrior})` },
    { name: "colour-prior", type: "number", help: `make: P(home colour | object) (default ${DEFAULT_KNOBS.colourPrior})` },
    { name: "popularity", type: "number", help: `make: Zipf exponent of class frequencies (default ${DEFAULT_KNOBS.popularity})` },
    { name: "model", type: "string", help: "eval: model directory" },
    { name: "data", type: "string", help: "eval: lab dataset directory (with pope/)" },
    { name: "split", type: "string", help: "eval: comma-separated POPE splits" },
    { name: "limit", type: "number", help: "eval: first N questions per split" },
    { name: "like", type: "string", help: "random: published layout and config to copy", choices: ["llava-1.5-7b"] },
    { name: "text-layers", type: "number", help: "random: decoder layers (default: the real model's)" },
    { name: "vision-layers", type: "number", help: "random: CLIP encoder layers (default: the real model's)" },
    { name: "dtype", type: "string", help: "random: weight dtype", choices: ["f16", "bf16", "f32"], default: "f16" },
    { name: "shards", type: "number", help: "random: number of safetensors shards (default: save_pretrained's 5 GB rule)" },
    {
      name: "tokenizer",
      type: "string",
      help: "random: llava tokenizer directory to copy (default: $CAUSALMM_FIXTURES/tokenizer or ../shared/fixtures/tokenizer)",
    },
    { name: "overwrite", type: "boolean", help: "random: replace a model already in --out" },
  ],
  run,
});
