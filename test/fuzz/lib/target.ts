// What a fuzz target is: a base input read once per worker, a mutator that turns it into the files
// of one case, and the loader call that must either accept the files or refuse them clearly.
import type { Rng } from "./rng.js";

export interface FuzzCase {
  /** Files to write into the case directory (relative names); symlinks for big unchanged inputs. */
  files: Record<string, Uint8Array | string | { symlink: string }>;
  /** What was changed, e.g. `model.safetensors header: layers.0.shape = []`. */
  what: string;
  /** The change touched a header/config (not bulk data): accepted ones are listed one by one. */
  header: boolean;
  /** Accepted by design (safetensors data bit flips: the format has no checksum). */
  acceptedByDesign?: string;
  /** For images: pixels the (mutated) header declares, for the allocation budget. */
  declaredPixels?: number;
}

export interface Target<B = unknown> {
  name: string;
  /** Per-case time budget in ms; past it the case is a hang. */
  timeoutMs: number;
  /** Reads the base inputs (fixtures, synthetic files); called once per worker. */
  base(fixtures: string): Promise<B>;
  make(base: B, rng: Rng): FuzzCase;
  /** Runs the loader on the case directory; resolves when the input was accepted. */
  run(dir: string, base: B): Promise<void>;
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
