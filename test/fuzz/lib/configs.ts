// JSON configuration files a model directory carries: config.json (checked against the real tiny
// checkpoint, as loadModel does), preprocessor_config.json (then used on an image) and the tokenizer
// files (then used to encode and decode a LLaVA prompt).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { LLAVA_PREPROCESSOR_CONFIG } from "../../../src/lab/llava-like.js";
import { loadLlavaConfig } from "../../../src/model/config.js";
import { llavaParams, UNUSED_TENSORS } from "../../../src/model/llava.js";
import { checkpointSource } from "../../../src/model/load.js";
import { Tokenizer } from "../../../src/text/tokenizer.js";
import { createImage } from "../../../src/vision/image.js";
import { loadProcessorConfig } from "../../../src/vision/processor-config.js";
import { preprocess } from "../../../src/vision/processor.js";
import { Checkpoint } from "../../../src/weights/checkpoint.js";
import { checkPlan, ParamPlanner } from "../../../src/weights/params.js";
import { breakJsonText, mutateJson, type Mutated } from "./mutate.js";
import type { Rng } from "./rng.js";
import type { FuzzCase, Target } from "./target.js";

/** One mutation of a JSON file's text: mostly structural, sometimes a broken text. */
function mutateJsonText(text: string, rng: Rng, prefer?: RegExp): Mutated<string> {
  if (rng.chance(0.2)) return breakJsonText(text, rng);
  const n = rng.chance(0.2) ? 2 + rng.int(3) : 1;
  let json = JSON.parse(text);
  const whats: string[] = [];
  for (let i = 0; i < n; i++) {
    const m = mutateJson(json, rng, rng.chance(0.7) ? prefer : undefined);
    json = m.value;
    whats.push(m.what);
  }
  return { value: JSON.stringify(json, null, 2), what: whats.join("; ") };
}

// --- config.json ---------------------------------------------------------------------------

interface ModelBase {
  dir: string;
  config: string;
}

export const configJson: Target<ModelBase> = {
  name: "config.json",
  timeoutMs: 10_000,
  async base(fixtures) {
    const dir = join(fixtures, "llava-tiny-56", "model-f32");
    return { dir, config: readFileSync(join(dir, "config.json"), "utf8") };
  },
  make(b, rng): FuzzCase {
    const m = mutateJsonText(
      b.config,
      rng,
      /_(size|layers|heads|eps|theta|embeddings|id|index|layer|strategy|act|type|bias)$|^(text|vision)_config$|^architectures$/,
    );
    return {
      files: { "config.json": m.value, "model.safetensors": { symlink: join(b.dir, "model.safetensors") } },
      what: `config.json: ${m.what}`,
      header: true,
    };
  },
  async run(dir) {
    const cfg = loadLlavaConfig(dir);
    const ckpt = Checkpoint.open(dir);
    try {
      const planner = new ParamPlanner();
      llavaParams(cfg, planner);
      checkPlan(planner.wanted, checkpointSource(ckpt), UNUSED_TENSORS);
    } finally {
      ckpt.close();
    }
  },
};

// --- preprocessor_config.json -------------------------------------------------------------------

export const preprocessorJson: Target<string> = {
  name: "preprocessor_config.json",
  timeoutMs: 10_000,
  async base() {
    return JSON.stringify(LLAVA_PREPROCESSOR_CONFIG, null, 2);
  },
  make(text, rng) {
    const m = mutateJsonText(text, rng);
    return { files: { "preprocessor_config.json": m.value }, what: `preprocessor_config.json: ${m.what}`, header: true };
  },
  async run(dir) {
    const cfg = loadProcessorConfig(dir, 336);
    const img = createImage(40, 30, [200, 100, 50]);
    const out = preprocess(img, cfg);
    if (out.length !== 3 * 336 * 336) throw new Error(`preprocess returned ${out.length} values for a 336 × 336 model`);
  },
};

// --- tokenizer.json, tokenizer_config.json, special_tokens_map.json -----------------------------

interface TokBase {
  files: Record<string, string>;
}
const TOK_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];
const TOK_PREFER_KEYS = [
  "added_tokens",
  "normalizer",
  "pre_tokenizer",
  "post_processor",
  "decoder",
  "model",
  "type",
  "content",
  "id",
  "special",
  "normalized",
  "unk_token",
  "byte_fallback",
  "fuse_unk",
  "dropout",
  "ignore_merges",
  "vocab",
  "merges",
  "single",
  "pair",
  "special_tokens",
  "pattern",
  "prepend_scheme",
  "replacement",
  "bos_token",
  "eos_token",
  "pad_token",
  "legacy",
  "add_bos_token",
  "add_eos_token",
  "clean_up_tokenization_spaces",
];
const TOK_PREFER = new RegExp(`^(${TOK_PREFER_KEYS.join("|")}|\\d+)$`);

export const tokenizerJson: Target<TokBase> = {
  name: "tokenizer.json",
  timeoutMs: 20_000,
  async base(fixtures) {
    const files: Record<string, string> = {};
    for (const f of TOK_FILES) files[f] = readFileSync(join(fixtures, "tokenizer", f), "utf8");
    return { files };
  },
  make(b, rng) {
    const name = rng.chance(0.75) ? "tokenizer.json" : rng.pick(TOK_FILES.slice(1));
    let m: Mutated<string>;
    if (name === "tokenizer.json" && rng.chance(0.3)) m = mutateVocabOrMerge(b.files[name], rng);
    else m = mutateJsonText(b.files[name], rng, TOK_PREFER);
    return { files: { ...b.files, [name]: m.value }, what: `${name}: ${m.what}`, header: true };
  },
  async run(dir) {
    const tok = await Tokenizer.fromDir(dir, { imageTokenId: 32000 });
    const ids = tok.encode("USER: <image>\nIs there a dog in the image? ASSISTANT: Yes 🐕 ñ\u0000");
    tok.decode(ids);
    tok.decode([0, 1, 2, 31999, 32000, 32001, 32063, -200]);
  },
};

/** Entries deep inside model.vocab / model.merges that the generic walker never reaches. */
function mutateVocabOrMerge(text: string, rng: Rng): Mutated<string> {
  const json = JSON.parse(text);
  const model = json.model;
  if (rng.chance(0.5)) {
    const keys = Object.keys(model.vocab);
    const k = rng.pick(keys);
    const v = rng.pick([-1, 0, 31999, 32000, 1e9, 1.5, "3", null]);
    model.vocab[k] = v;
    return { value: JSON.stringify(json), what: `model.vocab[${JSON.stringify(k)}] = ${JSON.stringify(v)}` };
  }
  const i = rng.int(model.merges.length);
  const v = rng.pick(["", "a", "a b c", "▁t he", 5, null, ["a"], ["a", "b", "c"]]);
  model.merges[i] = v;
  return { value: JSON.stringify(json), what: `model.merges[${i}] = ${JSON.stringify(v)}` };
}
