// LogitsSources without a model, for testing the loop itself.
import { join } from "node:path";
import type { LogitsSource } from "../../src/generate/source.js";
import { Tokenizer } from "../../src/text/tokenizer.js";
import { seededRng } from "../../src/util/rng.js";

/**
 * Each row emits its script: scores peak (10 vs 0) on the next scripted token. Past the end of a
 * script the row keeps pointing at its last token. Records every step's input.
 */
export class ScriptedSource implements LogitsSource {
  readonly batchSize: number;
  readonly fed: number[][] = [];
  private pos = 0;
  disposed = false;

  constructor(
    private readonly scripts: number[][],
    readonly vocabSize: number,
  ) {
    this.batchSize = scripts.length;
  }

  prefill(): Float32Array[] {
    return this.rows();
  }

  step(tokens: number[]): Float32Array[] {
    this.fed.push([...tokens]);
    this.pos++;
    return this.rows();
  }

  dispose(): void {
    this.disposed = true;
  }

  private rows(): Float32Array[] {
    return this.scripts.map((s) => {
      const row = new Float32Array(this.vocabSize);
      row[s[Math.min(this.pos, s.length - 1)]] = 10;
      return row;
    });
  }
}

/** The same fixed random scores (normal, scale `spread`) at every step, for every row. */
export class FixedSource implements LogitsSource {
  readonly scores: Float32Array;

  constructor(
    readonly vocabSize: number,
    readonly batchSize = 1,
    spread = 2,
    seed = 7,
  ) {
    const rng = seededRng(seed);
    this.scores = Float32Array.from({ length: vocabSize }, () => rng.normal() * spread);
  }

  prefill(): Float32Array[] {
    return Array.from({ length: this.batchSize }, () => this.scores.slice());
  }

  step(): Float32Array[] {
    return this.prefill();
  }

  dispose(): void {}
}

export async function fixtureTokenizer(fixtures: string): Promise<Tokenizer> {
  return Tokenizer.fromDir(join(fixtures, "tokenizer"), { imageTokenId: 32000 });
}
