// The text side of one generated row: streaming deltas (via StreamDecoder) and stop strings.
//
// Invariant: the concatenation of all deltas equals the row's final text, which is
// `tok.decode(tokens)` cut just before the first stop string (if one appeared). To keep it, text
// that could still turn out to be the beginning of a stop string is held back until it cannot.
import { StreamDecoder } from "../text/stream.js";
import type { Tokenizer } from "../text/tokenizer.js";

export class RowText {
  private readonly decoder: StreamDecoder;
  private emitted = "";
  private final: string | null = null;

  constructor(
    private readonly tok: Tokenizer,
    private readonly stops: readonly string[],
    private readonly skipSpecialTokens = true,
  ) {
    this.decoder = new StreamDecoder(tok, { skipSpecialTokens });
  }

  /** The final text once finished, else what has been emitted so far. */
  get text(): string {
    return this.final ?? this.emitted;
  }

  /** Adds the row's newest token (`ids` = all its tokens); the new delta and whether a stop string hit. */
  push(id: number, ids: readonly number[]): { delta: string; stopped: boolean } {
    this.decoder.push(id);
    if (this.stops.length === 0) return { delta: this.release(this.decoder.text), stopped: false };
    // Stop strings are searched in the full decode, not the stable prefix: StreamDecoder holds back
    // trailing whitespace, and "\n\n" or "###\n" must still stop the row the moment they appear.
    const full = this.tok.decode(ids, { skipSpecialTokens: this.skipSpecialTokens });
    const at = firstStop(full, this.stops);
    if (at >= 0) {
      this.final = full.slice(0, at);
      return { delta: this.release(this.final), stopped: true };
    }
    return { delta: this.release(holdBackStopPrefix(this.decoder.text, this.stops)), stopped: false };
  }

  /** Ends the row (EOS, length); returns the rest of the text. */
  finish(ids: readonly number[]): string {
    this.final ??= this.tok.decode(ids, { skipSpecialTokens: this.skipSpecialTokens });
    return this.release(this.final);
  }

  /** Emits `upTo` beyond what was already emitted; never rewrites emitted text. */
  private release(upTo: string): string {
    if (upTo.length <= this.emitted.length || !upTo.startsWith(this.emitted)) return "";
    const delta = upTo.slice(this.emitted.length);
    this.emitted = upTo;
    return delta;
  }
}

/** Index of the earliest occurrence of any stop string, or −1. */
export function firstStop(text: string, stops: readonly string[]): number {
  let best = -1;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best;
}

/** `text` without its longest suffix that is a proper beginning of some stop string. */
export function holdBackStopPrefix(text: string, stops: readonly string[]): string {
  let hold = 0;
  for (const s of stops) {
    for (let n = Math.min(s.length - 1, text.length); n > hold; n--) {
      if (text.endsWith(s.slice(0, n))) {
        hold = n;
        break;
      }
    }
  }
  return text.slice(0, text.length - hold);
}
