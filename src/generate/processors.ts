// Logits processors: plain functions applied in order to one row of scores before the token is
// chosen. Temperature / top-k / top-p are not processors; they belong to the sampler (sampling.ts),
// so greedy decoding is never affected by them.

export interface ProcessorState {
  /** 0 for the token chosen from the prefill logits, then 1, 2, ... */
  step: number;
  /** Tokens this row has generated so far (not the prompt). */
  tokens: readonly number[];
  /** Batch row. */
  row: number;
}

/**
 * Returns the scores to use (it may modify `logits` in place and return it: the loop hands every
 * processor a fresh copy of the source's row).
 */
export type LogitsProcessor = (logits: Float32Array, state: ProcessorState) => Float32Array;

export function applyProcessors(logits: Float32Array, processors: readonly LogitsProcessor[], state: ProcessorState): Float32Array {
  let out = logits;
  for (const p of processors) {
    out = p(out, state);
    if (out.length !== logits.length)
      throw new Error(`a logits processor returned ${out.length} scores for a vocabulary of ${logits.length}`);
  }
  return out;
}

/**
 * CTRL-style repetition penalty as in HF's RepetitionPenaltyLogitsProcessor (positive scores divided
 * by `penalty`, negative ones multiplied), applied once per distinct token. Unlike HF it only looks at
 * generated tokens, because a LogitsSource does not expose the prompt: the image and template tokens
 * would otherwise dominate.
 */
export function repetitionPenalty(penalty: number): LogitsProcessor {
  if (!(penalty > 0 && Number.isFinite(penalty))) throw new Error(`repetition penalty must be > 0, got ${penalty}`);
  return (logits, { tokens }) => {
    for (const id of new Set(tokens)) {
      if (id < 0 || id >= logits.length) continue;
      const s = logits[id];
      logits[id] = s < 0 ? s * penalty : s / penalty;
    }
    return logits;
  };
}

/** Never choose these ids (e.g. the unused embedding rows past the tokenizer's vocabulary). */
export function suppressTokens(ids: Iterable<number>): LogitsProcessor {
  const banned = [...ids];
  return (logits) => {
    for (const id of banned) if (id >= 0 && id < logits.length) logits[id] = -Infinity;
    return logits;
  };
}

/** Forbid the given end-of-sequence ids until `minNewTokens` tokens exist (HF's MinNewTokensLength). */
export function minNewTokens(min: number, eosIds: readonly number[]): LogitsProcessor {
  const ban = suppressTokens(eosIds);
  return (logits, state) => (state.tokens.length < min ? ban(logits, state) : logits);
}
