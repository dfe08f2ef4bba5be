// How CausalSource (source.ts) lays a plan's branches out as batch rows. Branches that read the same
// prompt form one group: one batched forward, one KV cache, each branch's attention hooks on its own row
// block. A prompt's prefill may need too many activations for one forward (`--draws`): its branches then
// run in chunks, each a group with its own cache. A decode step feeds one new position, so its
// activations are small whatever the number of branches: after prefill the chunks of a prompt are
// joined into one group (their caches' rows copied into one cache, once), and every decode step runs all
// of a prompt's branches as one forward, where each weight matrix is read once for all rows.
import { KVCache } from "../model/kv-cache.js";
import type { LlavaModel } from "../model/llava.js";
import type { AttentionHook } from "../model/hooks.js";
import { makeInterventionHook } from "./counterfactual.js";
import { composeHooks } from "./images.js";
import { firstTextLayer, promptKey, variantKey, type DecodingPlan } from "./plan.js";
import { amplifyHook } from "./amplify.js";
import { rowBlockHook } from "./row-blocks.js";

export interface Group {
  /** The prompt key ("main", ...). */
  key: string;
  /** Unique per group: the prompt key, plus "#n" for the n-th chunk after the first. */
  cacheKey: string;
  branches: number[];
  ids: number[][];
  /** All branches read identical input embeddings, so early layers can be shared. */
  sharedInput: boolean;
  /** First layer run on per-branch rows (layers below run once on B rows). */
  split: number;
  /** Rows actually computed per batch row (1 when every branch of the group is identical). */
  k: number;
  /** Each branch's own hooks (on its B rows), in `branches` order. */
  branchHooks: (AttentionHook | undefined)[];
  /** All of them as one hook on the k·B rows. */
  hook?: AttentionHook;
  cache: KVCache;
}

/** What the layout depends on. */
export interface Layout {
  model: LlavaModel;
  plan: DecodingPlan;
  /** Token ids per prompt key, one row per batch row. */
  prompts: Record<string, number[][]>;
  batchSize: number;
  /** The prompts are a prefix of the real ones (PAI's edits then start after them). */
  prefixOnly?: boolean;
}

/** One group per prompt, or per chunk of at most `perForward` branches when they are not identical. */
export function makeGroups(at: Layout, perForward: number): Group[] {
  const byPrompt = new Map<string, number[]>();
  at.plan.branches.forEach((b, i) => byPrompt.set(promptKey(b), [...(byPrompt.get(promptKey(b)) ?? []), i]));
  return [...byPrompt].flatMap(([key, all]) => {
    const ids = at.prompts[key];
    if (!ids || ids.length !== at.batchSize) throw new Error(`CausalSource: prompt '${key}' needs ${at.batchSize} rows`);
    const chunks = shape(at, all).identical ? [all] : chunk(all, perForward);
    return chunks.map((idx, n) => group(at, key, idx, n === 0 ? key : `${key}#${n}`));
  });
}

/**
 * The groups for decoding: the chunks of each prompt joined into one group whose cache holds their rows
 * (the chunks' caches are consumed). Single groups are returned as they are.
 */
export function joinChunks(at: Layout, groups: Group[]): Group[] {
  const byKey = new Map<string, Group[]>();
  groups.forEach((g) => byKey.set(g.key, [...(byKey.get(g.key) ?? []), g]));
  return [...byKey.values()].map((parts) => {
    if (parts.length === 1) return parts[0];
    const joined = group(
      at,
      parts[0].key,
      parts.flatMap((g) => g.branches),
      parts[0].key,
      parts.flatMap((g) => g.branchHooks),
    );
    joined.ids = parts[0].ids;
    joined.cache.dispose();
    joined.cache = KVCache.joinRows(
      parts.map((g) => g.cache),
      cacheRows(joined, parts, at.batchSize),
    );
    return joined;
  });
}

/**
 * Which rows of chunk j's layer (holding n rows) make up the joined group's layer: one shared block of
 * B rows below the joined split (all branches identical there: chunk 0's), else every branch's block
 * in order, taken from its chunk (a chunk's layer of only B rows is shared by its branches).
 */
function cacheRows(joined: Group, parts: Group[], B: number): (j: number, layer: number, n: number) => number[] {
  const block = (start: number) => Array.from({ length: B }, (_, b) => start + b);
  return (j, layer, n) => {
    if (joined.sharedInput && layer < joined.split) return j === 0 ? block(0) : [];
    return parts[j].branches.flatMap((_, t) => block(n === B ? 0 : t * B));
  };
}

/** The group of branches `idx` of prompt `key` with a fresh cache; `hooks` = their hooks when already made. */
function group(at: Layout, key: string, idx: number[], cacheKey: string, hooks?: (AttentionHook | undefined)[]): Group {
  const { sharedInput, first, identical } = shape(at, idx);
  const L = at.model.config.text.numLayers;
  const ids = at.prompts[key];
  const branchHooks = hooks ?? idx.map((i) => composeHooks(hooksOf(at, i, ids)));
  return {
    key,
    cacheKey,
    branches: idx,
    ids,
    sharedInput,
    split: sharedInput ? Math.min(first, L) : 0,
    k: identical ? 1 : idx.length,
    branchHooks,
    // each branch's hooks see only its own B rows (block j of the k·B rows)
    hook: identical ? undefined : rowBlockHook(branchHooks, at.batchSize),
    cache: new KVCache(L),
  };
}

/** Branch i's hooks on its own B rows (row b reads prompt ids[b]): interventions, then PAI's amplification. */
function hooksOf(at: Layout, i: number, ids: number[][]): AttentionHook[] {
  const b = at.plan.branches[i];
  const hooks = b.text.length ? [makeInterventionHook(b.text)] : [];
  const cfg = at.model.config;
  if (b.amplify) hooks.push(amplifyHook(b.amplify, ids, cfg.imageTokenIndex, at.model.numImageTokens, at.prefixOnly));
  return hooks;
}

/**
 * Whether branches read one input embedding, the first layer any of them intervenes in, and whether
 * they are identical (same input, no intervention): identical branches compute one row, never chunked.
 */
function shape(at: Layout, idx: number[]): { sharedInput: boolean; first: number; identical: boolean } {
  const { branches } = at.plan;
  const sharedInput = new Set(idx.map((i) => variantKey(branches[i].vision))).size === 1;
  const first = Math.min(...idx.map((i) => firstTextLayer(branches[i])));
  return { sharedInput, first, identical: sharedInput && first >= at.model.config.text.numLayers };
}

function chunk<T>(xs: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}
