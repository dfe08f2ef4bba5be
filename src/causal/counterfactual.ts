// Counterfactual attention (CausalMM, arXiv 2410.04780 §3): replace the post-softmax attention P of chosen
// layers/heads by a counterfactual distribution Ā and let the rest of the forward run unchanged. An
// intervention is plain data; `makeInterventionHook` turns a list of them into the model's AttentionHook.
//
// "Allowed" keys: vision — every key; text — key j for query row q iff j <= q + causalOffset. The
// absolute position of text row q is q + causalOffset (also with a KV cache), vision row q is q.
//
// Randomness (random, shuffle) comes from rng.ts, one stream per (seed, type, module, layer, head, row
// position). Consequences, all deliberate:
//  * the same seed gives bit-identical counterfactuals on every backend (numbers are made in JS and
//    uploaded; shuffle is an exact gather);
//  * a text row gets the same counterfactual in a prefill block and in a single-row decode step;
//  * the batch index is NOT part of the key: every batch row passed in gets the same counterfactual.
//    Batch rows of one branch are copies of the same sequence, and this keeps the result independent of
//    how branches are packed into a batch. For K independent draws use K seeds (e.g. seed + k).
//  * shuffle permutes each row's allowed values independently (per head, per row), for vision too. A
//    per-head permutation of key positions (the same for every row) would only relabel the values V —
//    and is impossible under a causal mask, where rows have different allowed sets.
import * as tf from "@tensorflow/tfjs-core";
import type { AttentionHook, AttentionSite, ModuleName } from "../model/hooks.js";
import { stream } from "../util/rng.js";
import { isIdentity, repeatAlongKeys, repeatPattern, replaceSlices, takeSlices, type Shape4 } from "./slices.js";

export type CfType = "uniform" | "reversed" | "random" | "shuffle" | "given";
export const CF_TYPES: readonly CfType[] = ["uniform", "reversed", "random", "shuffle", "given"];
export const CF_MODULES: readonly ModuleName[] = ["vision", "text"];

export interface Intervention {
  module: ModuleName;
  /** 0-based layer indices within the module. */
  layers: number[];
  /** 0-based head indices; all heads when omitted. */
  heads?: number[];
  type: CfType;
  /** Seed for random/shuffle (default 0). */
  seed?: number;
  /**
   * For type "given": `[B|1, nHeads, Tq, Tk]` or `[nHeads, Tq, Tk]`, nHeads = number of selected heads.
   * A function is called per site inside the hook's tidy (what it returns is disposed); a tensor is
   * owned by the caller and never disposed here.
   */
  given?: tf.Tensor | ((site: AttentionSite) => tf.Tensor);
}

export interface ModelDims {
  visionLayers: number;
  textLayers: number;
  visionHeads: number;
  textHeads: number;
}

const rangeText = (n: number): string => (n === 1 ? "0" : `0–${n - 1}`);

function checkIndices(what: string, values: unknown, n: number): void {
  if (!Array.isArray(values) || values.length === 0) {
    throw new Error(`${what}: expected a non-empty list of indices (valid: ${rangeText(n)})`);
  }
  for (const v of values) {
    if (!Number.isInteger(v) || v < 0 || v >= n) {
      throw new Error(`${what} ${v} out of range (valid: ${rangeText(n)}, ${n} in total)`);
    }
  }
}

/** Throws an Error naming the valid choices when `iv` does not fit a model with `dims`. */
export function validateIntervention(iv: Intervention, dims: ModelDims): void {
  if (!CF_MODULES.includes(iv.module)) {
    throw new Error(`unknown module '${iv.module}' (valid: ${CF_MODULES.join(", ")})`);
  }
  if (!CF_TYPES.includes(iv.type)) {
    throw new Error(`unknown counterfactual type '${iv.type}' (valid: ${CF_TYPES.join(", ")})`);
  }
  const nLayers = iv.module === "vision" ? dims.visionLayers : dims.textLayers;
  const nHeads = iv.module === "vision" ? dims.visionHeads : dims.textHeads;
  checkIndices(`${iv.module} layer`, iv.layers, nLayers);
  if (iv.heads !== undefined) checkIndices(`${iv.module} head`, iv.heads, nHeads);
  if (iv.seed !== undefined && !Number.isSafeInteger(iv.seed)) {
    throw new Error(`seed must be a safe integer, got ${iv.seed}`);
  }
  if (iv.type === "given" && iv.given === undefined) throw new Error("type 'given' needs the `given` tensor or function");
}

/** Sorted unique head list; all heads when omitted. */
function selectedHeads(iv: Intervention, numHeads: number): number[] {
  if (iv.heads === undefined) return Array.from({ length: numHeads }, (_, h) => h);
  checkIndices(`${iv.module} head`, iv.heads, numHeads);
  return [...new Set(iv.heads)].sort((a, b) => a - b);
}

/** Number of allowed keys and the absolute position of query row q. */
function rowInfo(site: AttentionSite, q: number, tk: number): { pos: number; n: number } {
  if (site.causalOffset === null) return { pos: q, n: tk };
  const pos = q + site.causalOffset;
  return { pos, n: Math.max(0, Math.min(tk, pos + 1)) };
}

/** Row patterns `[Tq·Tk]` of a causal site: allowed (1/0), bias (0/−∞) and uniform (1/n or 0). */
function causalPatterns(site: AttentionSite, tq: number, tk: number) {
  const allowed = new Float32Array(tq * tk);
  const bias = new Float32Array(tq * tk).fill(-Infinity);
  const uniform = new Float32Array(tq * tk);
  for (let q = 0; q < tq; q++) {
    const { n } = rowInfo(site, q, tk);
    allowed.fill(1, q * tk, q * tk + n);
    bias.fill(0, q * tk, q * tk + n);
    uniform.fill(1 / n, q * tk, q * tk + n);
  }
  return { allowed, bias, uniform };
}

function uniformCf(shape: Shape4, site: AttentionSite): tf.Tensor4D {
  // no key masked (CLIP, or one query row after the whole cache: a decode step): a constant
  if (site.causalOffset === null || site.causalOffset >= shape[3] - 1) return tf.fill(shape, 1 / shape[3], "float32") as tf.Tensor4D;
  return repeatPattern(causalPatterns(site, shape[2], shape[3]).uniform, shape);
}

function reversedCf(p: tf.Tensor4D, site: AttentionSite): tf.Tensor4D {
  const shape = p.shape;
  const pat = site.causalOffset === null ? null : causalPatterns(site, shape[2], shape[3]);
  const maxAllowed = tf.max(pat ? tf.add(p, repeatPattern(pat.bias, shape)) : p, -1, true);
  const diff = tf.sub(repeatAlongKeys(maxAllowed, shape), p);
  const r = pat ? tf.mul(diff, repeatPattern(pat.allowed, shape)) : diff;
  const s = tf.sum(r, -1, true);
  // A row whose allowed values are all equal (e.g. a single allowed key) has Σr = 0 and becomes uniform:
  // with z = [Σr = 0], a = (r + z·u) / (Σr + z) is r/Σr where z = 0 and u (Σu = 1) where z = 1.
  const z = tf.cast(tf.lessEqual(s, 0), "float32");
  const u = pat ? repeatPattern(pat.uniform, shape) : tf.fill(shape, 1 / shape[3], "float32");
  const num = tf.add(r, tf.mul(repeatAlongKeys(z, shape), u));
  return tf.div(num, repeatAlongKeys(tf.add(s, z), shape)) as tf.Tensor4D;
}

/** Copies a `[Hs·Tq·Tk]` block for every batch row and uploads it. */
function uploadForBatch(block: Float32Array, shape: Shape4): tf.Tensor4D {
  if (shape[0] === 1) return tf.tensor4d(block, shape);
  const all = new Float32Array(block.length * shape[0]);
  for (let b = 0; b < shape[0]; b++) all.set(block, b * block.length);
  return tf.tensor4d(all, shape);
}

/** U(0,1) on allowed keys, normalised per row, generated in JS (identical on every backend). */
function randomCf(shape: Shape4, site: AttentionSite, heads: number[], seed: number): tf.Tensor4D {
  const [, , tq, tk] = shape;
  const out = new Float32Array(heads.length * tq * tk);
  heads.forEach((h, k) => {
    for (let q = 0; q < tq; q++) {
      const { pos, n } = rowInfo(site, q, tk);
      const rng = stream(seed, "random", site.module, site.layer, h, pos);
      const row = new Float64Array(n);
      let sum = 0;
      for (let j = 0; j < n; j++) sum += row[j] = rng.uniform();
      const base = (k * tq + q) * tk;
      for (let j = 0; j < n; j++) out[base + j] = sum > 0 ? row[j] / sum : 1 / n;
    }
  });
  return uploadForBatch(out, shape);
}

/** Each row's allowed values permuted (one permutation per head and row), masked keys set to 0. */
function shuffleCf(p: tf.Tensor4D, site: AttentionSite, heads: number[], seed: number): tf.Tensor4D {
  const [b, hs, tq, tk] = p.shape;
  const idx = new Int32Array(hs * tq * tk);
  heads.forEach((h, k) => {
    for (let q = 0; q < tq; q++) {
      const { pos, n } = rowInfo(site, q, tk);
      const perm = stream(seed, "shuffle", site.module, site.layer, h, pos).permutation(n);
      const base = (k * tq + q) * tk;
      for (let j = 0; j < tk; j++) idx[base + j] = base + (j < n ? perm[j] : j);
    }
  });
  const flat = tf.gather(tf.reshape(p, [b, hs * tq * tk]), tf.tensor1d(idx, "int32"), 1);
  const shuffled = tf.reshape(flat, p.shape) as tf.Tensor4D;
  if (site.causalOffset === null) return shuffled;
  return tf.mul(shuffled, repeatPattern(causalPatterns(site, tq, tk).allowed, p.shape));
}

function givenCf(shape: Shape4, site: AttentionSite, iv: Intervention): tf.Tensor4D {
  if (iv.given === undefined) throw new Error("type 'given' needs the `given` tensor or function");
  const g = typeof iv.given === "function" ? iv.given(site) : iv.given;
  const [b, hs, tq, tk] = shape;
  const ok =
    (g.rank === 3 && g.shape[0] === hs && g.shape[1] === tq && g.shape[2] === tk) ||
    (g.rank === 4 && (g.shape[0] === b || g.shape[0] === 1) && g.shape[1] === hs && g.shape[2] === tq && g.shape[3] === tk);
  if (!ok) {
    throw new Error(
      `given counterfactual for ${site.module} layer ${site.layer} has shape [${g.shape.join(",")}]; ` +
        `expected [${b} or 1, ${hs}, ${tq}, ${tk}] or [${hs}, ${tq}, ${tk}] (batch, selected heads, queries, keys)`,
    );
  }
  const g4 = g.rank === 3 ? tf.reshape(g, [1, hs, tq, tk]) : g;
  const g32 = tf.cast(g4, "float32");
  return (g32.shape[0] === b ? g32 : tf.broadcastTo(g32, shape)) as tf.Tensor4D;
}

/** The counterfactual for the selected heads only: `[B, heads.length, Tq, Tk]`. */
function counterfactualFor(sel: tf.Tensor4D, site: AttentionSite, iv: Intervention, heads: number[]): tf.Tensor4D {
  const seed = iv.seed ?? 0;
  switch (iv.type) {
    case "uniform":
    case "random":
      return shapeOnlyCf(sel.shape, site, iv, heads);
    case "reversed":
      return reversedCf(sel, site);
    case "shuffle":
      return shuffleCf(sel, site, heads, seed);
    case "given":
      return givenCf(sel.shape, site, iv);
    default:
      throw new Error(`unknown counterfactual type '${String(iv.type)}' (valid: ${CF_TYPES.join(", ")})`);
  }
}

/** The counterfactuals that depend on P's shape only (uniform, random). */
function shapeOnlyCf(shape: Shape4, site: AttentionSite, iv: Intervention, heads: number[]): tf.Tensor4D {
  return iv.type === "uniform" ? uniformCf(shape, site) : randomCf(shape, site, heads, iv.seed ?? 0);
}

/** Whether `iv` replaces every head without reading P, so the result does not depend on P at all. */
function ignoresP(iv: Intervention, numHeads: number): boolean {
  return (iv.type === "uniform" || iv.type === "random") && isIdentity(selectedHeads(iv, numHeads), numHeads);
}

/**
 * P `[B,H,Tq,Tk]` with the intervention's heads (all when omitted) replaced by the counterfactual; other
 * heads are exact copies. Does not check `iv.module`/`iv.layers` against `site` (the hook does).
 */
export function counterfactualProbs(P: tf.Tensor4D, site: AttentionSite, iv: Intervention): tf.Tensor4D {
  return tf.tidy(() => {
    const heads = selectedHeads(iv, P.shape[1]);
    const all = isIdentity(heads, P.shape[1]);
    const sel = all ? P : takeSlices(P, heads, 1);
    const cf = counterfactualFor(sel, site, iv, heads);
    return replaceSlices(P, cf, heads, 1);
  });
}

export interface HookOptions {
  /** Batch rows to intervene on (default: all). Other rows are returned bit-for-bit unchanged. */
  rows?: number[];
}

/**
 * An AttentionHook applying every intervention whose module and layer match the site. Several matching
 * interventions are applied in list order, each to the result of the previous one.
 */
export function makeInterventionHook(ivs: Intervention[], opts: HookOptions = {}): AttentionHook {
  const rows = opts.rows === undefined ? undefined : [...new Set(opts.rows)].sort((a, b) => a - b);
  return (probs, site) => {
    const matching = ivs.filter((iv) => iv.module === site.module && iv.layers.includes(site.layer));
    if (matching.length === 0) return undefined;
    return tf.tidy(() => {
      const [b, h, tq, tk] = probs.shape;
      if (rows !== undefined) checkIndices("batch row", rows, b);
      const rowsAll = rows === undefined || isIdentity(rows, b);
      const last = matching[matching.length - 1];
      let sub: tf.Tensor4D;
      // the last intervention rewrites every head of these rows without reading P (a decode step's
      // text CF, usually): the rows' own P, and earlier interventions, cannot show in the result
      if (ignoresP(last, h)) sub = shapeOnlyCf([rowsAll ? b : rows!.length, h, tq, tk], site, last, selectedHeads(last, h));
      else {
        sub = rowsAll ? probs : takeSlices(probs, rows, 0);
        for (const iv of matching) sub = counterfactualProbs(sub, site, iv);
      }
      return rowsAll ? sub : replaceSlices(probs, sub, rows, 0);
    });
  };
}
