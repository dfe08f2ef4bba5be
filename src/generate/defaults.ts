// Special-token ids for generation, from the model directory: generation_config.json wins (it is
// what HF's generate() reads), then the tokenizer, then config.json.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { LlavaConfig } from "../model/config.js";
import type { Tokenizer } from "../text/tokenizer.js";

export interface GenerationDefaults {
  bosTokenId: number;
  /** Ids that end a row (HF allows a list in eos_token_id). */
  eosTokenIds: number[];
  padTokenId: number | null;
}

type Json = Record<string, unknown>;

function readGenerationConfig(dir: string): Json {
  const file = join(dir, "generation_config.json");
  if (!existsSync(file)) return {};
  try {
    const raw = JSON.parse(readFileSync(file, "utf8")) as unknown;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error("expected a JSON object");
    return raw as Json;
  } catch (e) {
    throw new Error(`${file}: cannot read generation config (${(e as Error).message})`, { cause: e });
  }
}

function ids(v: unknown, file: string, key: string): number[] | undefined {
  if (v === undefined || v === null) return undefined;
  const list = Array.isArray(v) ? v : [v];
  if (!list.every((x) => Number.isInteger(x) && (x as number) >= 0))
    throw new Error(`${file}: "${key}" must be a token id or a list of ids, got ${JSON.stringify(v)}`);
  return list as number[];
}

export function loadGenerationDefaults(dir: string, cfg: LlavaConfig, tok: Tokenizer | null): GenerationDefaults {
  const g = readGenerationConfig(dir);
  const file = join(dir, "generation_config.json");
  return {
    bosTokenId: ids(g.bos_token_id, file, "bos_token_id")?.[0] ?? tok?.bosId ?? cfg.bosTokenId,
    eosTokenIds: ids(g.eos_token_id, file, "eos_token_id") ?? [tok?.eosId ?? cfg.eosTokenId],
    padTokenId: ids(g.pad_token_id, file, "pad_token_id")?.[0] ?? tok?.padId ?? cfg.padTokenId,
  };
}
