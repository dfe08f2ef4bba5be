// `causalmm lab random --like llava-1.5-7b`: a random-weight model directory in exactly a published
// llava-hf checkpoint's layout — config.json, generation_config.json, preprocessor_config.json, the
// tokenizer files, sharded safetensors and model.safetensors.index.json — with any number of layers.
// Tensors are generated and written chunk by chunk, so a 14 GB model needs a few MB of memory.
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { makeDirs } from "../util/files.js";
import { join } from "node:path";
import { dtypeSize, type SafetensorsDtype } from "../weights/dtype.js";
import { INDEX_FILE, SINGLE_FILE } from "../weights/checkpoint.js";
import { writeSafetensorsStreaming, writeTensorData, type TensorSpec } from "../weights/safetensors-write.js";
import { LLAVA_PREPROCESSOR_CONFIG, likeConfig, llavaLayout, shardOf, type LikeOptions } from "./llava-like.js";
import { RandomBits } from "./random-bits.js";
import { initScale, initValues } from "./random-model.js";

export interface RandomLikeOptions extends Omit<LikeOptions, "torchDtype"> {
  like: string;
  out: string;
  /** A llava tokenizer directory (tokenizer.json, tokenizer_config.json, …) copied into `out`. */
  tokenizerDir: string;
  dtype?: SafetensorsDtype;
  /** Number of shards (default: save_pretrained's 5 GB rule; 1 = a single model.safetensors). */
  shards?: number;
  seed?: number;
  /** Replace a model already in `out` (otherwise that is an error). */
  overwrite?: boolean;
  onProgress?: (writtenBytes: number, totalBytes: number) => void;
}

export interface RandomLikeSummary {
  out: string;
  like: string;
  dtype: SafetensorsDtype;
  tensors: number;
  parameters: number;
  totalBytes: number;
  files: { file: string; bytes: number; tensors: number }[];
  seconds: number;
}

const TORCH_DTYPE = { F16: "float16", BF16: "bfloat16", F32: "float32" } as const;
const TOKENIZER_FILES = ["tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"];
// Words per generated chunk (16 MiB).
const CHUNK_WORDS = 1 << 22;

export function writeRandomLike(opts: RandomLikeOptions): RandomLikeSummary {
  const t0 = Date.now();
  const dtype = opts.dtype ?? "F16";
  const seed = opts.seed ?? 0;
  const cfg = likeConfig(opts.like, { ...opts, torchDtype: TORCH_DTYPE[dtype] });
  checkTokenizer(opts.tokenizerDir, cfg.image_token_index as number);
  prepareOut(opts.out, opts.overwrite ?? false);
  const layout = llavaLayout(cfg).map((t) => ({ ...t, dtype }));
  const bytes = layout.map((t) => t.shape.reduce((a, b) => a * b, 1) * dtypeSize(dtype));
  const totalBytes = bytes.reduce((a, b) => a + b, 0);
  const shard = shardOf(bytes, opts.shards);
  const nShards = shard[shard.length - 1] + 1;
  const fileName = (i: number) => (nShards === 1 ? SINGLE_FILE : `model-${pad5(i + 1)}-of-${pad5(nShards)}.safetensors`);
  const metadata = { format: "pt", causalmm: `random weights like ${opts.like}, seed ${seed}: not a trained model` };
  const files: RandomLikeSummary["files"] = [];
  let written = 0;
  for (let s = 0; s < nShards; s++) {
    // Within a file, tensors sorted by name (as the safetensors library writes them).
    const specs = layout.filter((_, i) => shard[i] === s).sort((a, b) => (a.name < b.name ? -1 : 1));
    writeSafetensorsStreaming(
      join(opts.out, fileName(s)),
      specs,
      (t, write) => {
        fillTensor(t, seed, (chunk) => {
          write(chunk);
          written += chunk.byteLength;
          opts.onProgress?.(written, totalBytes);
        });
      },
      metadata,
    );
    files.push({ file: fileName(s), bytes: statSync(join(opts.out, fileName(s))).size, tensors: specs.length });
  }
  if (nShards > 1)
    writeIndex(
      opts.out,
      layout.map((t, i) => [t.name, fileName(shard[i])]),
      totalBytes,
    );
  writeSidecars(opts, cfg);
  const parameters = layout.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
  return {
    out: opts.out,
    like: opts.like,
    dtype,
    tensors: layout.length,
    parameters,
    totalBytes,
    files,
    seconds: (Date.now() - t0) / 1000,
  };
}

/** Matrices from the fast bit generator; vectors (norms, biases: a few KB each) Gaussian as in tiny random models. */
function fillTensor(t: TensorSpec, seed: number, write: (bytes: Uint8Array) => void): void {
  const numel = t.shape.reduce((a, b) => a * b, 1);
  if (t.shape.length === 1 || numel % 2 === 1) {
    writeTensorData(t.dtype, initValues(t.name, t.shape, seed), write);
    return;
  }
  const rng = new RandomBits([seed, "like", t.name]);
  const { std } = initScale(t.name, t.shape);
  const words = (numel * dtypeSize(t.dtype)) / 4;
  const buf = new Uint32Array(Math.min(CHUNK_WORDS, words));
  for (let done = 0; done < words; done += buf.length) {
    const chunk = buf.subarray(0, Math.min(buf.length, words - done));
    rng.fill(chunk, t.dtype, std);
    write(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
}

function pad5(n: number): string {
  return String(n).padStart(5, "0");
}

function checkTokenizer(dir: string, imageTokenIndex: number): void {
  const file = join(dir, "tokenizer.json");
  if (!existsSync(file)) throw new Error(`${dir}: no tokenizer.json (pass --tokenizer DIR, a llava-1.5 tokenizer directory)`);
  const tok = JSON.parse(readFileSync(file, "utf8")) as { added_tokens?: { id: number; content: string }[] };
  const image = tok.added_tokens?.find((t) => t.content === "<image>");
  if (image?.id !== imageTokenIndex) {
    throw new Error(
      `${file}: not a llava-1.5 tokenizer (needs the added token <image> with id ${imageTokenIndex}, found ${image ? image.id : "none"})`,
    );
  }
}

/** Refuses to mix with an existing model unless asked to replace it; then removes its weights first. */
function prepareOut(out: string, overwrite: boolean): void {
  makeDirs(out, "the random model");
  const model = readdirSync(out).filter((f) => f === "config.json" || f === INDEX_FILE || f.endsWith(".safetensors"));
  if (model.length === 0) return;
  if (!overwrite)
    throw new Error(
      `${out}: already holds a model (${model.slice(0, 3).join(", ")}${model.length > 3 ? ", …" : ""}); pass --overwrite to replace it`,
    );
  for (const f of model) rmSync(join(out, f));
}

function writeIndex(out: string, entries: [string, string][], totalBytes: number): void {
  const weightMap = Object.fromEntries(entries.sort((a, b) => (a[0] < b[0] ? -1 : 1)));
  writeJson(join(out, INDEX_FILE), { metadata: { total_size: totalBytes }, weight_map: weightMap });
}

/** config.json last: a directory cut short by a crash has no config and cannot be mistaken for a model. */
function writeSidecars(opts: RandomLikeOptions, cfg: Record<string, unknown>): void {
  for (const f of TOKENIZER_FILES) {
    // Contents only: a read-only source must not make the copy read-only (a later --overwrite rewrites it).
    if (existsSync(join(opts.tokenizerDir, f))) writeFileSync(join(opts.out, f), readFileSync(join(opts.tokenizerDir, f)));
  }
  const size = (cfg.vision_config as { image_size: number }).image_size;
  const crop = { crop_size: { height: size, width: size }, size: { shortest_edge: size } };
  writeJson(join(opts.out, "preprocessor_config.json"), { ...LLAVA_PREPROCESSOR_CONFIG, ...crop });
  writeJson(join(opts.out, "generation_config.json"), {
    _from_model_config: true,
    bos_token_id: 1,
    eos_token_id: 2,
    pad_token_id: cfg.pad_token_id,
    transformers_version: cfg.transformers_version,
  });
  writeFileSync(
    join(opts.out, "README.md"),
    `# Random weights in the layout of ${opts.like}\n\nMade by \`causalmm lab random --like ${opts.like}\` (seed ${opts.seed ?? 0}). ` +
      "Tensor names, shapes, dtype, sharding and configs follow the published llava-hf checkpoint; the values are random, " +
      "so answers are meaningless. For testing and timing real sizes only.\n",
  );
  writeJson(join(opts.out, "config.json.tmp"), cfg);
  renameSync(join(opts.out, "config.json.tmp"), join(opts.out, "config.json"));
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value, null, 2) + "\n");
}
