// Memory bounds for CausalSource. Every counterfactual branch is a batch row with its own KV cache,
// so `--draws 300` asks one prefill forward for 300× the activations of a plain forward: on wasm a
// single layer's attention scores then exceed the 4 GiB heap, whose overflow is silent (the
// between-layer guard in model/llama.ts comes too late). Two answers: run branches in chunks whose
// transient activations stay under a budget (results are the same, row for row), and refuse up front
// when the KV caches of all branches cannot fit at all.
import * as tf from "@tensorflow/tfjs-core";
import type { TextConfig } from "../model/config.js";
import { assertFitsBackend } from "../backend.js";
import { rowCacheBytes, rowForwardBytes } from "../model/memory-plan.js";

export { rowCacheBytes, rowForwardBytes };

/** Activations one forward may allocate for its rows (per layer, before tidy frees them). */
export const FORWARD_BUDGET_BYTES = 512 * 1024 ** 2;

/** Branches per forward chunk so that `batch` rows each of them stay under the forward budget (≥ 1). */
export function branchesPerChunk(cfg: TextConfig, batch: number, s: number, t: number, budget = FORWARD_BUDGET_BYTES): number {
  return Math.max(1, Math.floor(budget / (batch * rowForwardBytes(cfg, s, t))));
}

/**
 * On wasm, refuse when the caches of `rows` rows (branches × batch) after a `t`-token prompt plus
 * the tensors already live would not fit the heap; elsewhere memory is the machine's, not capped.
 */
export function assertCachesFit(cfg: TextConfig, rows: number, branches: number, t: number): void {
  assertFitsBackend(
    rows * rowCacheBytes(cfg, t) + tf.memory().numBytes,
    `contrastive decoding with ${branches} branches (the factual one and each counterfactual draw; fewer --draws or ` +
      `--shared-cache true need less) on a ${t}-token prompt`,
  );
}
