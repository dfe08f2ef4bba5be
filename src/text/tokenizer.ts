// Thin, typed wrapper over the pure-JS `@huggingface/tokenizers` Tokenizer.
//
// Why a wrapper: the library's API is snake_case, throws on `decode([])`, silently turns
// config-less tokenizers into "clean up spaces" mode, and knows nothing about LLaVA's `<image>`.
// Here we resolve bos/eos/pad/image ids once, add BOS ourselves (so tokenizers without a
// TemplateProcessing post-processor — e.g. the project's own tiny vocab — behave like Llama's),
// and report file problems with the offending path.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Tokenizer as HFTokenizer } from "@huggingface/tokenizers";

export interface EncodeOptions {
  /** Prepend the BOS id, as the Llama TemplateProcessing post-processor does. Default true. */
  addBos?: boolean;
}

export interface DecodeOptions {
  /** Drop added tokens marked `special` (`<s>`, `</s>`, `<image>`, `<pad>`, ...). Default true. */
  skipSpecialTokens?: boolean;
}

export interface TokenizerOptions {
  /**
   * Id of the image token, normally the model config's `image_token_index` (32000 for llava-hf).
   * Default: the id of the added token named by the config's `image_token`, else `<image>`, else null.
   */
  imageTokenId?: number;
}

type Json = Record<string, unknown>;

/** Config keys naming special tokens; values may be a string or an AddedToken-like object. */
const SPECIAL_KEYS = ["bos_token", "eos_token", "unk_token", "pad_token", "image_token"] as const;

export class Tokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number | null;
  readonly unkId: number | null;
  readonly imageTokenId: number | null;
  /** The text of the image token (`<image>`), or null when the vocabulary has none. */
  readonly imageToken: string | null;
  /** One past the largest id that has a token (32002 for llava-hf; the model's embedding may be larger). */
  readonly vocabSize: number;
  private readonly hf: HFTokenizer;
  /** Ids of added tokens flagged `special`; these are what skipSpecialTokens removes. */
  private readonly specialIds: ReadonlySet<number>;

  /** The file this was built from (or a label); named in error messages. */
  readonly source: string;

  private constructor(hf: HFTokenizer, config: Json, opts: TokenizerOptions, source: string, vocabSize: number) {
    this.hf = hf;
    this.source = source;
    const added = hf.get_added_tokens_decoder();
    this.specialIds = new Set([...added.values()].filter((t) => t.special).map((t) => t.id));
    this.vocabSize = vocabSize;
    this.bosId = this.requireId(config, "bos_token", "<s>");
    this.eosId = this.requireId(config, "eos_token", "</s>");
    this.padId = this.optionalId(config, "pad_token", "<pad>");
    this.unkId = this.optionalId(config, "unk_token", "<unk>");
    // Run each pipeline stage once now, so a damaged tokenizer.json fails at load, not mid-evaluation.
    const probe: number[] = this.library("encode", () => this.hf.encode("Hello world", { add_special_tokens: false }).ids);
    this.decode(probe.filter((id) => typeof id === "number"));
    const image = this.resolveImage(config, opts.imageTokenId);
    this.imageTokenId = image?.id ?? null;
    this.imageToken = image?.text ?? null;
  }

  /**
   * Loads `tokenizer.json` (required) and `tokenizer_config.json` / `special_tokens_map.json`
   * (optional) from a model directory. Async only because it reads files; construction is sync.
   */
  static async fromDir(dir: string, opts: TokenizerOptions = {}): Promise<Tokenizer> {
    const tokPath = join(dir, "tokenizer.json");
    const tokJson = await readJson(tokPath, true);
    const config = (await readJson(join(dir, "tokenizer_config.json"), false)) ?? {};
    const specialMap = (await readJson(join(dir, "special_tokens_map.json"), false)) ?? {};
    // tokenizer_config.json wins; special_tokens_map.json only fills gaps (older checkpoints).
    return Tokenizer.fromJson(tokJson as Json, { ...specialMap, ...config }, opts, tokPath);
  }

  /** Builds from already-parsed JSON. `source` only labels error messages. */
  static fromJson(tokenizerJson: object, config: object = {}, opts: TokenizerOptions = {}, source = "tokenizer.json"): Tokenizer {
    const tj = checkTokenizerJson(tokenizerJson, source);
    const cfg = normalizeConfig(config as Json);
    // Word-level models take their unknown token from the config in the JS library.
    cfg.unk_token ??= tokenName((tj.model as Json).unk_token);
    let hf: HFTokenizer;
    try {
      hf = new HFTokenizer(tj, cfg);
    } catch (e) {
      throw new Error(`cannot build a tokenizer from ${source}: ${(e as Error).message}`, { cause: e });
    }
    return new Tokenizer(hf, cfg, opts, source, maxTokenId(tj, source) + 1);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    // The post-processor is bypassed on purpose: BOS is added here, uniformly for every vocab.
    const { ids, tokens }: { ids: number[]; tokens: string[] } = this.library("encode", () =>
      this.hf.encode(text, { add_special_tokens: false }),
    );
    const bad = ids.findIndex((id) => typeof id !== "number");
    if (bad >= 0) throw new Error(`"${tokens[bad]}" is not in the vocabulary and the tokenizer has no unk token`);
    return (opts.addBos ?? true) ? [this.bosId, ...ids] : ids;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const skip = opts.skipSpecialTokens ?? true;
    // Ids with no token (e.g. the unused embedding rows 32002..32063, or LLaVA's -200) are
    // dropped, as the Rust library does, instead of the JS library's "decode as <unk>".
    const kept = ids.filter((id) => this.idToToken(id) !== undefined && !(skip && this.specialIds.has(id)));
    return kept.length === 0 ? "" : this.library("decode", () => this.hf.decode(kept, { skip_special_tokens: false }));
  }

  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return Number.isInteger(id) && id >= 0 ? this.hf.id_to_token(id) : undefined;
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  /**
   * A call into the JS library. A malformed normalizer/pre-tokenizer/post-processor/decoder is only
   * dereferenced when text goes through it, and then fails with a bare TypeError: name the file.
   */
  private library<T>(what: string, call: () => T): T {
    try {
      return call();
    } catch (e) {
      throw new Error(`${this.source}: the tokenizer failed to ${what} (${(e as Error).message}); is tokenizer.json damaged?`, {
        cause: e,
      });
    }
  }

  private requireId(config: Json, key: string, fallback: string): number {
    const name = tokenName(config[key]) ?? fallback;
    const id = this.hf.token_to_id(name);
    if (id === undefined) throw new Error(`${this.source}: tokenizer has no ${key} "${name}" in its vocabulary`);
    return id;
  }

  private optionalId(config: Json, key: string, fallback: string): number | null {
    return this.hf.token_to_id(tokenName(config[key]) ?? fallback) ?? null;
  }

  private resolveImage(config: Json, given: number | undefined): { id: number; text: string } | null {
    if (given !== undefined) {
      const text = this.idToToken(given);
      if (text === undefined) {
        if (given < 0)
          throw new Error(
            `imageTokenId ${given} is not a vocabulary id (original-LLaVA placeholders like -200 belong in encodePromptOriginal)`,
          );
        const named = this.hf.token_to_id("<image>");
        throw new Error(
          `${this.source}: the image token id ${given} (the model config's image_token_index) is not in this ` +
            `tokenizer's vocabulary (size ${this.vocabSize})` +
            (named === undefined
              ? `, and it has no "<image>" token: use the tokenizer that ships with the LLaVA checkpoint`
              : `; its "<image>" token has id ${named}: the tokenizer and config.json belong to different checkpoints`),
        );
      }
      this.checkSingleToken(text, given);
      return { id: given, text };
    }
    const text = tokenName(config.image_token) ?? "<image>";
    const id = this.hf.token_to_id(text);
    if (id === undefined) return null;
    this.checkSingleToken(text, id);
    return { id, text };
  }

  /** `<image>` must survive encoding as exactly one id, otherwise image features cannot be spliced in. */
  private checkSingleToken(text: string, id: number): void {
    const ids = this.encode(text, { addBos: false });
    if (ids.length !== 1 || ids[0] !== id) {
      throw new Error(
        `${this.source}: image token "${text}" (id ${id}) does not encode as a single token ` +
          `(got [${ids.join(", ")}]); it must be an added token in tokenizer.json`,
      );
    }
  }
}

/** Token ids are u32 in the Rust library; larger or non-integer ids are a corrupt file. */
const MAX_TOKEN_ID = 2 ** 32 - 1;

/**
 * Largest id of model.vocab and added_tokens, read from the JSON: the JS library's get_vocab(true)
 * walks every id up to the largest, which takes minutes for a corrupt id like 1e9.
 */
function maxTokenId(tj: Json, source: string): number {
  let m = -1; // a loop, not Math.max(...ids): spreading 250k-entry vocabs overflows the stack
  const check = (id: unknown, what: string): void => {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id > MAX_TOKEN_ID) {
      throw new Error(`${source}: ${what} has id ${JSON.stringify(id)}, not an integer in 0..${MAX_TOKEN_ID}`);
    }
    if (id > m) m = id;
  };
  const vocab = (tj.model as Json).vocab;
  // Unigram vocabularies are [piece, score] lists: ids are positions.
  if (Array.isArray(vocab)) m = vocab.length - 1;
  else for (const [tok, id] of Object.entries(vocab as Json)) check(id, `model.vocab entry ${JSON.stringify(tok)}`);
  for (const t of tj.added_tokens as unknown[]) check((t as Json | null)?.id, `added token ${JSON.stringify((t as Json | null)?.content)}`);
  return m;
}

function tokenName(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && typeof (v as Json).content === "string") return (v as Json).content as string;
  return undefined;
}

/** Config as the JS library expects it: special tokens as plain strings, no surprise space clean-up. */
function normalizeConfig(config: Json): Json {
  const out: Json = { ...config };
  for (const k of SPECIAL_KEYS) {
    const name = tokenName(config[k]);
    if (name === undefined) delete out[k];
    else out[k] = name;
  }
  // The JS library defaults this to true; Rust `tokenizers` never cleans up, and streaming
  // needs decode() to be prefix-stable, so a missing value means false.
  out.clean_up_tokenization_spaces = config.clean_up_tokenization_spaces === true;
  return out;
}

/** Shape check with the file name in the message; fills optional top-level keys with null. */
function checkTokenizerJson(obj: object, source: string): Json {
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) throw new Error(`${source}: expected a JSON object`);
  const tj = obj as Json;
  const model = tj.model as Json | undefined;
  if (!model || typeof model !== "object" || typeof model.vocab !== "object" || model.vocab === null) {
    throw new Error(`${source} is not a Hugging Face tokenizer.json: missing "model.vocab"`);
  }
  const out: Json = { ...tj, added_tokens: Array.isArray(tj.added_tokens) ? tj.added_tokens : [] };
  for (const k of ["normalizer", "pre_tokenizer", "post_processor", "decoder"]) out[k] = tj[k] ?? null;
  return out;
}

async function readJson(path: string, required: true): Promise<unknown>;
async function readJson(path: string, required: false): Promise<Json | null>;
async function readJson(path: string, required: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT" && !required) return null;
    throw new Error(err.code === "ENOENT" ? `tokenizer file not found: ${path}` : `cannot read ${path}: ${err.message}`, { cause: e });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`corrupt JSON in ${path}: ${(e as Error).message}`, { cause: e });
  }
}
