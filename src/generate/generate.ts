// The generation loop over a LogitsSource: prefill, then one step per token; per row, processors →
// selection (greedy or seeded sampling) → stop checks. Rows finish independently (EOS, a stop
// string, or max new tokens); a finished row stays in the batch and is fed `padTokenId` so the
// source's batch shape (and every KV cache behind it) never changes, and its scores are ignored.
// The loop ends as soon as every row has finished.
import type { Tokenizer } from "../text/tokenizer.js";
import type { LogitsSource } from "./source.js";
import { applyProcessors, type LogitsProcessor } from "./processors.js";
import { checkSamplingOptions, isSampling, makeSelector, randomSeed, type SamplingOptions, type Selector } from "./sampling.js";
import { RowText } from "./text.js";
import { DEFAULTS } from "../defaults.js";
import type { NonFiniteOrigin } from "../model/finite-trace.js";

export interface GenerateOptions extends SamplingOptions {
  /** Default 512 (LLaVA's CLI default). */
  maxNewTokens?: number;
  /** A row ends after emitting one of these (the EOS id is kept in `tokens`). Default: none. */
  eosTokenIds?: readonly number[];
  /** A row ends when its decoded text contains one of these; the text is cut before it. Needs `tokenizer`. */
  stop?: readonly string[];
  /** Enables `text` in the result and in stream events. */
  tokenizer?: Tokenizer;
  /** Applied in order to each row's scores before selection. */
  processors?: readonly LogitsProcessor[];
  /** Fed to finished rows. Default: the first EOS id, else 0. */
  padTokenId?: number;
  /** Drop special tokens from text (default true). */
  skipSpecialTokens?: boolean;
}

export type FinishReason = "eos" | "stop" | "length";

/** Milliseconds and throughput; `loadMs`/`imageMs` are filled in by the library API. */
export interface Timings {
  loadMs?: number;
  /** Image file decode + CLIP preprocessing. */
  imageMs?: number;
  visionEncodeMs: number;
  /** LLM prefill, without the vision encode. */
  prefillMs: number;
  prefillTokens: number;
  prefillTokensPerSec: number;
  /** Cached decode steps plus token selection. */
  decodeMs: number;
  /** Positions run through the LLM by decode steps (steps × batch rows). */
  decodeTokens: number;
  decodeTokensPerSec: number;
  /** New tokens over all rows. */
  generatedTokens: number;
  /** vision + prefill + decode (compute only: time spent by a stream consumer is not counted). */
  totalMs: number;
}

export interface GenerateResult {
  /** New tokens per row (EOS included when a row ended on it). */
  tokens: number[][];
  /** Decoded text per row (only with a tokenizer), cut before a stop string. */
  text?: string[];
  finishReasons: FinishReason[];
  timings: Timings;
  /** The sampling seed actually used (random when sampling without one); absent when greedy. */
  seed?: number;
}

export interface StreamEvent {
  row: number;
  tokenId: number;
  /** Newly final text of this row ("" without a tokenizer, or when nothing is stable yet). */
  text: string;
  /** Set on the row's last event. */
  finishReason?: FinishReason;
}

interface Row {
  tokens: number[];
  text: RowText | null;
  finish: FinishReason | null;
}

function checkOptions(opts: GenerateOptions): void {
  checkSamplingOptions(opts);
  const n = opts.maxNewTokens;
  if (n !== undefined && !(Number.isInteger(n) && n >= 0)) throw new Error(`maxNewTokens must be an integer ≥ 0, got ${n}`);
  if (opts.stop?.length && !opts.tokenizer) throw new Error("stop strings need a tokenizer");
  if (opts.stop?.some((s) => s.length === 0)) throw new Error("stop strings must not be empty");
}

function ms(): number {
  return performance.now();
}

/** Runs the loop to the end; the source stays owned (and disposed) by the caller. */
export function generate(source: LogitsSource, opts: GenerateOptions = {}): GenerateResult {
  const it = run(source, opts);
  for (;;) {
    const r = it.next();
    if (r.done) return r.value;
  }
}

/**
 * Streams one event per generated token. Between tokens it yields to the event loop (a macrotask),
 * so writes to a pipe or socket really go out token by token. Breaking out of the loop stops
 * generation; the source stays owned by the caller.
 */
export async function* stream(source: LogitsSource, opts: GenerateOptions = {}): AsyncGenerator<StreamEvent, GenerateResult, void> {
  const it = run(source, opts);
  try {
    for (;;) {
      const r = it.next();
      if (r.done) return r.value;
      yield r.value;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    it.return(undefined as never);
  }
}

/** The loop as a synchronous generator of events, returning the result. */
export function* run(source: LogitsSource, opts: GenerateOptions = {}): Generator<StreamEvent, GenerateResult, void> {
  checkOptions(opts);
  const maxNew = opts.maxNewTokens ?? DEFAULTS.maxNewTokens;
  const eos = new Set(opts.eosTokenIds ?? []);
  const pad = opts.padTokenId ?? opts.eosTokenIds?.[0] ?? 0;
  const seed = isSampling(opts) ? (opts.seed ?? randomSeed()) : undefined;
  const select = makeSelector({ ...opts, seed });
  const rows: Row[] = Array.from({ length: source.batchSize }, () => ({
    tokens: [],
    text: opts.tokenizer ? new RowText(opts.tokenizer, opts.stop ?? [], opts.skipSpecialTokens ?? true) : null,
    finish: null,
  }));
  const clock = { prefill: 0, decode: 0, steps: 0 };
  if (maxNew === 0) return result(rows, clock, source, seed);

  source.expectNewTokens?.(maxNew);
  let t0 = ms();
  let scores = source.prefill();
  clock.prefill = ms() - t0;
  for (let step = 0; ; step++) {
    t0 = ms();
    let chosen: (number | null)[];
    try {
      chosen = rows.map((row, r) => (row.finish ? null : choose(row, r, step, scores[r], select, opts.processors ?? [])));
    } catch (e) {
      throw withOrigin(e, source, rows);
    }
    clock.decode += ms() - t0;
    for (const [r, id] of chosen.entries()) {
      if (id !== null) yield finishToken(rows[r], r, id, eos, maxNew);
    }
    if (rows.every((row) => row.finish)) break;
    t0 = ms();
    scores = source.step(rows.map((row) => (row.finish ? pad : row.tokens[row.tokens.length - 1])));
    clock.decode += ms() - t0;
    clock.steps++;
  }
  return result(rows, clock, source, seed);
}

/** Scores with a NaN or +Infinity, or with nothing above −Infinity: decoding them would be silent garbage. */
export class NonFiniteLogitsError extends Error {
  override name = "NonFiniteLogitsError";
  /**
   * `origin`: where values first became non-finite (traced on this error path by rerunning the row layer by
   * layer, LogitsSource.traceNonFinite), or "" when every value up to the logits was finite there.
   */
  constructor(
    readonly step: number,
    readonly row: number,
    readonly what: string,
    readonly origin?: NonFiniteOrigin | "",
  ) {
    super(`non-finite logits at decoding step ${step} (row ${row}): ${what}; ${NonFiniteLogitsError.cause(origin)}`);
  }

  private static cause(origin: NonFiniteOrigin | "" | undefined): string {
    if (origin === "")
      return "every layer's output is finite when the row is rerun, so the contrast settings (or a counterfactual branch) leave no token";
    const likely = "the weights or config.json values (rms_norm_eps, rope_theta, ...) are likely corrupt";
    if (origin === undefined) return `${likely}, or the contrast settings leave no token`;
    return `values first become non-finite in ${origin.where}: ${likely}`;
  }
}

/** One pass over the row (≈V comparisons, nothing next to a forward pass). */
export function checkFiniteScores(scores: Float32Array, step: number, row: number): void {
  let above = false;
  for (let i = 0; i < scores.length; i++) {
    const v = scores[i];
    if (v !== v) throw new NonFiniteLogitsError(step, row, `token ${i} scores NaN`);
    if (v === Infinity) throw new NonFiniteLogitsError(step, row, `token ${i} scores +Infinity`);
    if (v > -Infinity) above = true;
  }
  if (!above) throw new NonFiniteLogitsError(step, row, `every one of the ${scores.length} tokens scores −Infinity`);
}

/** `e`; for non-finite logits, the same error naming where they first appeared (when the source can trace it). */
function withOrigin(e: unknown, source: LogitsSource, rows: Row[]): unknown {
  if (!(e instanceof NonFiniteLogitsError) || !source.traceNonFinite) return e;
  const origin = source.traceNonFinite(e.row, rows[e.row].tokens);
  return origin === undefined ? e : new NonFiniteLogitsError(e.step, e.row, e.what, origin ?? "");
}

function choose(
  row: Row,
  r: number,
  step: number,
  scores: Float32Array | undefined,
  select: Selector,
  processors: readonly LogitsProcessor[],
): number {
  if (!scores) throw new Error(`logits source returned no scores for row ${r}`);
  checkFiniteScores(scores, step, r);
  const processed = processors.length ? applyProcessors(scores, processors, { step, tokens: row.tokens, row: r }) : scores;
  const id = select(processed, r);
  row.tokens.push(id);
  return id;
}

/** Stop checks for a row's newest token, and the event that reports it. */
function finishToken(row: Row, r: number, id: number, eos: ReadonlySet<number>, maxNew: number): StreamEvent {
  let text = "";
  let stopped = false;
  if (row.text) ({ delta: text, stopped } = row.text.push(id, row.tokens));
  row.finish = eos.has(id) ? "eos" : stopped ? "stop" : row.tokens.length >= maxNew ? "length" : null;
  if (row.finish && row.text) text += row.text.finish(row.tokens);
  return row.finish ? { row: r, tokenId: id, text, finishReason: row.finish } : { row: r, tokenId: id, text };
}

function result(
  rows: Row[],
  clock: { prefill: number; decode: number; steps: number },
  source: LogitsSource,
  seed: number | undefined,
): GenerateResult {
  const vision = source.stats?.visionEncodeMs ?? 0;
  const prefillMs = Math.max(0, clock.prefill - vision);
  const prefillTokens = source.stats?.prefillTokens ?? 0;
  const decodeTokens = clock.steps * source.batchSize;
  const timings: Timings = {
    visionEncodeMs: vision,
    prefillMs,
    prefillTokens,
    prefillTokensPerSec: rate(prefillTokens, prefillMs),
    decodeMs: clock.decode,
    decodeTokens,
    decodeTokensPerSec: rate(decodeTokens, clock.decode),
    generatedTokens: rows.reduce((n, row) => n + row.tokens.length, 0),
    totalMs: clock.prefill + clock.decode,
  };
  const out: GenerateResult = { tokens: rows.map((r) => r.tokens), finishReasons: rows.map((r) => r.finish ?? "length"), timings };
  if (rows[0]?.text) out.text = rows.map((r) => r.text!.text);
  if (seed !== undefined) out.seed = seed;
  return out;
}

function rate(n: number, msec: number): number {
  return msec > 0 ? (n * 1000) / msec : 0;
}
