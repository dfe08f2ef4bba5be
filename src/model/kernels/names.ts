// Names and attributes of the project's own tfjs kernels (implemented per backend in wasm-kernels.ts
// and cpu-kernels.ts; kernels.ts decides which are used).
export const KERNEL_NAMES = {
  /** q·Kᵀ per (batch row, head) over the first `length` positions of K (wasm: one query row). */
  qk: "CausalmmAttendQK",
  /** P·V per (batch row, head) over the first `length` positions of V (wasm: one query row). */
  pv: "CausalmmAttendPV",
  /** The plausibility cutoff of logit rows: masked rows and kept indices. */
  cutoff: "CausalmmCutoff",
  /** Softmax over the last axis. */
  softmax: "CausalmmSoftmax",
} as const;

export interface DecodeAttrs {
  /** Positions used of the `[B,Hkv,S,hd]` keys/values (≤ S; S > length in KV cache storage). */
  length: number;
}
