// Incremental detokenizer for streaming generation.
//
// Invariant: the concatenation of every delta returned by push() and flush() equals
// `tok.decode(allIds)` exactly. Token-by-token decoding cannot give that, because
//   - byte-fallback pieces (<0xE2><0x82><0xAC>) only form a character once all bytes are in
//     (until then decode() yields U+FFFD), and
//   - the Llama decoder strips one leading space from the *whole* output (Strip(" ", start 1)),
//     so "▁world" decodes to "world" alone but to " world" after other text.
// So we decode a window of ids, emit only the part that is already stable, and hold back a
// trailing run of U+FFFD / whitespace (whitespace too, because an optional space clean-up can
// still rewrite " ." into "." once the next token arrives).
//
// The window starts at an "anchor" token whose own text is complete and non-blank. Decoders are
// local apart from the start-of-text strip and byte merging, and a complete, non-blank anchor
// absorbs both, so decode(ids[anchor:]) is a suffix of decode(ids). Re-anchoring (each new
// window checked against the old one) keeps the cost per token flat instead of growing with the
// output length: one decode of at most MAX_WINDOW ids.
import type { Tokenizer } from "./tokenizer.js";

export interface StreamOptions {
  /** Same meaning as in Tokenizer.decode; default true. */
  skipSpecialTokens?: boolean;
}

/** Re-anchor once the window holds this many ids ... */
const MAX_WINDOW = 64;
/** ... keeping roughly this many of the newest ids as context. */
const KEEP = 8;
/** Trailing characters that may still change when the next token arrives. */
const UNSTABLE_TAIL = /[\s\uFFFD]+$/u;

export class StreamDecoder {
  private readonly tok: Tokenizer;
  private readonly skip: boolean;
  private readonly ids: number[] = [];
  /** Index of the first id of the decode window. */
  private winStart = 0;
  /** The prefix of decode(ids[winStart:]) that has already been emitted. */
  private winDone = "";
  private out = "";

  constructor(tok: Tokenizer, opts: StreamOptions = {}) {
    this.tok = tok;
    this.skip = opts.skipSpecialTokens ?? true;
  }

  /** Everything emitted so far (the concatenation of all deltas). */
  get text(): string {
    return this.out;
  }

  /** All ids pushed so far. */
  get tokenIds(): readonly number[] {
    return this.ids;
  }

  /** Adds one id; returns the newly stable text (often "", e.g. mid-character). */
  push(id: number): string {
    this.ids.push(id);
    const windowText = this.decodeWindow();
    const delta = this.advance(stablePrefix(windowText));
    if (delta && this.ids.length - this.winStart > MAX_WINDOW) this.reanchor(windowText);
    return delta;
  }

  /** Emits whatever is still held back (an incomplete character stays as U+FFFD, as in decode()). */
  flush(): string {
    return this.advance(this.decodeWindow());
  }

  private decodeWindow(): string {
    return this.tok.decode(this.ids.slice(this.winStart), { skipSpecialTokens: this.skip });
  }

  /** Emits `stable` beyond what was already emitted from this window. */
  private advance(stable: string): string {
    // A window text that no longer extends what we emitted would break the invariant; holding
    // is the only safe move (it does not happen with the decoders we know of).
    if (stable.length <= this.winDone.length || !stable.startsWith(this.winDone)) return "";
    const delta = stable.slice(this.winDone.length);
    this.winDone = stable;
    this.out += delta;
    return delta;
  }

  /**
   * Moves the window start to a recent anchor token. The current window text is a suffix of the
   * full decode, so checking the new, shorter window against it keeps that true without ever
   * decoding everything again.
   */
  private reanchor(windowText: string): void {
    for (let q = this.ids.length - KEEP; q > this.winStart; q--) {
      if (!this.isAnchor(this.ids[q]!)) continue;
      const tail = this.tok.decode(this.ids.slice(q), { skipSpecialTokens: this.skip });
      const done = stablePrefix(tail);
      if (windowText.endsWith(tail) && this.winDone.endsWith(done)) {
        this.winStart = q;
        this.winDone = done;
        return;
      }
    }
  }

  /** A token whose text alone is complete (no U+FFFD) and has a non-space character. */
  private isAnchor(id: number): boolean {
    if (this.skip && this.tok.isSpecial(id)) return false;
    const t = this.tok.decode([id], { skipSpecialTokens: this.skip });
    return t.length > 0 && !t.includes("\uFFFD") && /\S/u.test(t);
  }
}

function stablePrefix(s: string): string {
  return s.replace(UNSTABLE_TAIL, "");
}
