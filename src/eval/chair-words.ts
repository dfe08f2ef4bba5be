// Caption → object mentions, the way OPERA's chair.py does it, without NLTK: chair.py lower-cases,
// tokenises with nltk.word_tokenize, POS-tags, lemmatises each word with WordNet (by its tag, nouns by
// default), merges two-word phrases, applies the toilet-seat rule and keeps the vocabulary words.
// Here: a Treebank-like regex tokeniser, and WordNet's own suffix rules (morphy's noun and verb
// substitutions plus the irregular plurals that reach the vocabulary), accepted only when they land on
// a vocabulary word — our stand-in for "is a WordNet lemma". docs/eval.md#chair lists where this differs.
import type { ChairVocab } from "./chair-vocab.js";
import { vocabWords } from "./chair-vocab.js";

/** WordNet morphy's noun rules, then its verb rules (a verb-tagged word is lemmatised as a verb). */
const NOUN_RULES: [string, string][] = [
  ["s", ""],
  ["ses", "s"],
  ["ves", "f"],
  ["xes", "x"],
  ["zes", "z"],
  ["ches", "ch"],
  ["shes", "sh"],
  ["men", "man"],
  ["ies", "y"],
];
const VERB_RULES: [string, string][] = [
  ["s", ""],
  ["ies", "y"],
  ["es", "e"],
  ["es", ""],
  ["ed", "e"],
  ["ed", ""],
  ["ing", "e"],
  ["ing", ""],
];
/** WordNet noun.exc entries whose lemma is a vocabulary word. */
const IRREGULAR: Record<string, string> = {
  children: "child",
  grandchildren: "grandchild",
  oxen: "ox",
  mice: "mouse",
  geese: "goose",
  knives: "knife",
  pocketknives: "pocketknife",
  buffaloes: "buffalo",
  calves: "calf",
  wolves: "wolf",
};

export interface CaptionObjects {
  /** The vocabulary words mentioned, in caption order (repeats kept). */
  words: string[];
  /** The class of each (same order). */
  classes: string[];
  /** Position of each in `tokens`. */
  idxs: number[];
  /** The lemmatised tokens after two-word merging (chair.py's `raw_words`; its length is the caption length). */
  tokens: string[];
}

/** nltk.word_tokenize, approximately: words (with inner hyphens, dots, digits), clitics split off, punctuation alone. */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/[\p{L}\p{N}]+(?:[-.'’][\p{L}\p{N}]+)*|\.\.\.|[^\s\p{L}\p{N}]/gu)) {
    const t = m[0].replace(/’/g, "'");
    const clitic = /^(.+?)(n't|'s|'re|'ve|'ll|'d|'m)$/.exec(t);
    if (clitic && clitic[1] !== "") out.push(clitic[1], clitic[2]);
    else out.push(t);
  }
  return out;
}

export class ChairExtractor {
  private readonly targets: Set<string>;
  private readonly cache = new Map<string, string>();

  constructor(readonly vocab: ChairVocab) {
    this.targets = vocabWords(vocab);
  }

  /** The lemma of one lower-cased token: itself when it is a vocabulary word, else the shortest rule result that is. */
  lemma(w: string): string {
    let l = this.cache.get(w);
    if (l === undefined) this.cache.set(w, (l = this.findLemma(w)));
    return l;
  }

  private findLemma(w: string): string {
    if (this.targets.has(w)) return w;
    const irregular = IRREGULAR[w];
    if (irregular && this.targets.has(irregular)) return irregular;
    let best: string | undefined;
    for (const [suffix, repl] of [...NOUN_RULES, ...VERB_RULES]) {
      if (!w.endsWith(suffix) || w.length <= suffix.length) continue;
      const cand = w.slice(0, w.length - suffix.length) + repl;
      // WordNetLemmatizer returns the shortest of the lemmas it finds
      if (this.targets.has(cand) && (best === undefined || cand.length < best.length)) best = cand;
    }
    return best ?? w;
  }

  /** chair.py's caption_to_words. */
  extract(caption: string): CaptionObjects {
    const lemmas = tokenize(caption.toLowerCase()).map((t) => this.lemma(t));
    const tokens: string[] = [];
    for (let i = 0; i < lemmas.length;) {
      const pair = i + 1 < lemmas.length ? `${lemmas[i]} ${lemmas[i + 1]}` : undefined;
      const merged = pair === undefined ? undefined : this.vocab.doubleWords.get(pair);
      tokens.push(merged ?? lemmas[i]);
      i += merged === undefined ? 1 : 2;
    }
    // "the seat of the toilet" must not fire "chair"
    const dropSeat = this.vocab.toiletSeatRule && tokens.includes("toilet") && tokens.includes("seat");
    const out: CaptionObjects = { words: [], classes: [], idxs: [], tokens };
    tokens.forEach((t, i) => {
      if ((dropSeat && t === "seat") || !this.vocab.objects.has(t)) return;
      out.words.push(t);
      out.classes.push(this.vocab.classOf.get(t)!);
      out.idxs.push(i);
    });
    return out;
  }
}
