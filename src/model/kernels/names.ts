// Names and attributes of the project's own tfjs kernels (implemented per backend in wasm-kernels.ts
// and cpu-kernels.ts; kernels.ts decides which are used).
export const KERNEL_NAMES = {
  /** q·Kᵀ for one query row per (batch row, head), over the first `length` cached positions. */
  qk: "CausalmmDecodeQK",
  /** P·V for one query row per (batch row, head), over the first `length` cached positions. */
  pv: "CausalmmDecodePV",
  /** The plausibility cutoff of logit rows: masked rows and kept indices. */
  cutoff: "CausalmmCutoff",
  /** Softmax over the last axis. */
  softmax: "CausalmmSoftmax",
} as const;

export interface DecodeAttrs {
  /** Filled positions of the `[B,Hkv,S,hd]` cache storage (≤ S). */
  length: number;
}
