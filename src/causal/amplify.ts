// Edits of pre-softmax attention scores (the `scores` point of an AttentionHook), as data.
//
// PAI (Liu et al., "Paying More Attention to Image", ECCV 2024; LALBJ/PAI attention.py) amplifies, in
// LLM layers [start, end), the scores of the last query row on the image tokens' keys before the
// softmax: a ← a + α·|a|. In the released code "the last row" is the last row of each forward: the
// last prompt position at prefill, then every generated position. Here the rows are named by absolute
// position (≥ the last prompt position), so the edit does not depend on how a forward is split into
// calls (a shared prompt prefix, a one-shot forward over prompt + answer). Masked scores (−∞) are never
// edited (−∞ + α·∞ would be NaN).
import * as tf from "@tensorflow/tfjs-core";
import type { AttentionHook, AttentionSite, ModuleName, ScoresHook } from "../model/hooks.js";
import { isIdentity, replaceSlices, takeSlices } from "./slices.js";

export interface ScoreEdit {
  module: ModuleName;
  /** 0-based layer indices within the module. */
  layers: number[];
  /** 0-based heads; all when omitted. */
  heads?: number[];
  /** Key positions edited: [start, end) spans (absolute positions, e.g. the image tokens). */
  keys: [number, number][];
  /** Query rows edited: those at absolute position ≥ this (0: every row; Infinity: none). */
  fromQuery: number;
  /** a ← a + α·|a| on the edited entries. */
  alpha: number;
}

/** PAI's image-attention amplification as a branch recipe (resolved per prompt by `amplifyHook`). */
export interface ImageAmplification {
  /** LLM layers (PAI: start_layer..end_layer−1, 2..31 on LLaVA-1.5-7B). */
  layers: number[];
  /** α (PAI default 0.2). */
  alpha: number;
}

/** The `[Tq·Tk]` 0/1 pattern of one edit at a site: edited rows × edited keys, masked keys excluded. */
function editPattern(e: ScoreEdit, site: AttentionSite, tq: number, tk: number): { rows: number[]; pattern: Float32Array } | null {
  const offset = site.causalOffset ?? 0;
  const rows = Array.from({ length: tq }, (_, q) => q).filter((q) => q + offset >= e.fromQuery);
  if (rows.length === 0) return null;
  const pattern = new Float32Array(rows.length * tk);
  let any = false;
  rows.forEach((q, r) => {
    const allowed = site.causalOffset === null ? tk : Math.min(tk, q + offset + 1);
    for (const [a, b] of e.keys) {
      for (let j = Math.max(0, a); j < Math.min(b, allowed); j++) {
        pattern[r * tk + j] = 1;
        any = true;
      }
    }
  });
  return any ? { rows, pattern } : null;
}

/** Scores `[B,H,Tq,Tk]` with one edit applied to the given batch rows (all when undefined). */
export function editScores(s: tf.Tensor4D, site: AttentionSite, e: ScoreEdit, batchRows?: number[]): tf.Tensor4D {
  const [B, H, tq, tk] = s.shape;
  const at = editPattern(e, site, tq, tk);
  if (!at) return s;
  return tf.tidy(() => {
    const bRows = batchRows ?? Array.from({ length: B }, (_, b) => b);
    const heads = e.heads ? [...new Set(e.heads)].sort((a, b) => a - b) : Array.from({ length: H }, (_, h) => h);
    // only the edited query rows (usually one) of the edited batch rows and heads are touched
    const take = (x: tf.Tensor4D, idx: number[], axis: number) => (isIdentity(idx, x.shape[axis]) ? x : takeSlices(x, idx, axis));
    const byRow = take(s, bRows, 0);
    const byHead = take(byRow, heads, 1);
    const sub = takeSlices(byHead, at.rows, 2); // [b,h,r,Tk]
    const mask = tf.broadcastTo(tf.tensor4d(at.pattern, [1, 1, at.rows.length, tk]).greater(0), sub.shape);
    const edited = tf.where(mask, tf.add(sub, tf.mul(tf.abs(sub), e.alpha)), sub) as tf.Tensor4D;
    return replaceSlices(s, replaceSlices(byRow, replaceSlices(byHead, edited, at.rows, 2), heads, 1), bRows, 0);
  });
}

/** A ScoresHook applying every matching edit in list order (to the given batch rows). */
export function makeScoresHook(edits: ScoreEdit[], opts: { rows?: number[] } = {}): ScoresHook {
  const rows = opts.rows === undefined ? undefined : [...new Set(opts.rows)].sort((a, b) => a - b);
  return (scores, site) => {
    const matching = edits.filter((e) => e.module === site.module && e.layers.includes(site.layer));
    if (matching.length === 0) return undefined;
    let cur = scores;
    for (const e of matching) cur = editScores(cur, site, e, rows);
    return cur === scores ? undefined : cur;
  };
}

/** An AttentionHook with only a pre-softmax part. */
export function scoresOnlyHook(scores: ScoresHook): AttentionHook {
  const hook: AttentionHook = () => undefined;
  hook.scores = scores;
  return hook;
}

/**
 * Positions of the image features in the merged sequence of one prompt row, as [start, end) spans, and
 * the merged length: one `<image>` token stands for n features, a run of exactly n tokens for one image
 * (the rule of llava.ts planMerge).
 */
export function imageSpans(ids: number[], imageToken: number, n: number): { spans: [number, number][]; length: number } {
  const spans: [number, number][] = [];
  let pos = 0;
  for (let i = 0; i < ids.length;) {
    if (ids[i] !== imageToken) {
      pos++;
      i++;
    } else {
      let run = 0;
      while (i + run < ids.length && ids[i + run] === imageToken) run++;
      const width = run === n ? n : run * n;
      spans.push([pos, pos + width]);
      pos += width;
      i += run;
    }
  }
  return { spans, length: pos };
}

/**
 * PAI's edit for batch row b reading prompt `ids[b]`: the image keys of that prompt, from its last
 * position on. `prefixOnly`: the forward runs a prefix of the prompt (nothing to amplify yet).
 */
export function amplifyHook(amp: ImageAmplification, ids: number[][], imageToken: number, n: number, prefixOnly = false): AttentionHook {
  const hooks = ids.map((row, b) => {
    const { spans, length } = imageSpans(row, imageToken, n);
    const edit: ScoreEdit = {
      module: "text",
      layers: amp.layers,
      keys: spans,
      fromQuery: prefixOnly ? Infinity : length - 1,
      alpha: amp.alpha,
    };
    return makeScoresHook([edit], { rows: [b] });
  });
  return scoresOnlyHook((s, site) => {
    let cur = s;
    for (const h of hooks) cur = h(cur, site) ?? cur;
    return cur === s ? undefined : cur;
  });
}
