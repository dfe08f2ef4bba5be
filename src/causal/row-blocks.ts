// Branches stacked as row blocks of one batched forward: P `[k·n,H,Tq,Tk]`, block j = rows j·n … j·n+n−1
// belongs to branch j. Each branch's hook runs on its own n rows and the blocks are concatenated once.
// Composing per-branch hooks that each rewrite "their" rows of the full tensor (replaceSlices) gives the
// same numbers but builds a full-size copy of P per branch, all alive until the layer's tidy ends: k
// branches cost k copies of a k-branch tensor, k² in all (`--draws 300` passed the 4 GiB wasm heap).
import * as tf from "@tensorflow/tfjs-core";
import type { AttentionHook, AttentionSite } from "../model/hooks.js";
import { sliceRows } from "../model/kernels/in-place.js";

type BlockFn = (x: tf.Tensor4D, site: AttentionSite) => tf.Tensor4D | undefined;

/**
 * One hook for `blocks.length` row blocks of `n` rows; `blocks[j]` sees only block j's rows (as rows 0…n−1)
 * at both points (pre-softmax scores and post-softmax P). Undefined when no block has a hook.
 */
export function rowBlockHook(blocks: (AttentionHook | undefined)[], n: number): AttentionHook | undefined {
  if (!blocks.some((h) => h !== undefined)) return undefined;
  if (blocks.length === 1) return blocks[0];
  const hook: AttentionHook = blockwise(blocks, n);
  if (blocks.some((h) => h?.scores))
    hook.scores = blockwise(
      blocks.map((h) => h?.scores),
      n,
    );
  return hook;
}

/** `fs[j]` applied to row block j; undefined (nothing allocated is kept) when no block changes. */
function blockwise(fs: (BlockFn | undefined)[], n: number): BlockFn {
  return (x, site) => {
    const rows = x.shape[0];
    if (rows !== fs.length * n) throw new Error(`row-block hook: ${rows} rows, expected ${fs.length} blocks of ${n}`);
    let changed = false;
    const parts = fs.map((f, j) =>
      tf.tidy(() => {
        const block = sliceRows(x, j * n, n);
        const out = f?.(block, site);
        if (out !== undefined && out !== block) changed = true;
        return out ?? block;
      }),
    );
    try {
      return changed ? (tf.concat(parts, 0) as tf.Tensor4D) : undefined;
    } finally {
      parts.forEach((p) => p.dispose());
    }
  };
}
