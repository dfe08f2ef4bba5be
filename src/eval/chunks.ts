// Splitting a question list into chunks for parallel runs, and into image-sharing batches for the model.
import type { EvalItem } from "./answerer.js";

/**
 * [start, end) of chunk `k` of `n`, LLaVA's `get_chunk` rule: chunk size ceil(len/n), contiguous
 * chunks from the front. When that leaves fewer than n chunks (e.g. 9 items in 4 chunks of 3), LLaVA's
 * trailing chunk indices raise IndexError; here they are empty, so every index 0..n−1 is a valid run.
 */
export function chunkRange(length: number, n: number, k: number): [number, number] {
  if (!Number.isInteger(n) || n < 1) throw new Error(`--num-chunks must be a positive integer (got ${n})`);
  if (!Number.isInteger(k) || k < 0 || k >= n) throw new Error(`--chunk-idx must be in 0..${n - 1} (got ${k})`);
  const size = Math.ceil(length / n);
  const start = Math.min(length, k * size);
  return [start, Math.min(length, start + size)];
}

export function getChunk<T>(list: readonly T[], n: number, k: number): T[] {
  const [a, b] = chunkRange(list.length, n, k);
  return list.slice(a, b);
}

/**
 * Batches for the answerer: items grouped by image (images in order of first appearance, items in
 * list order within an image), each group cut into pieces of at most `batch`. POPE and MME already
 * list an image's questions together, so this is their file order; a file that revisits images
 * (llava_pope_test.jsonl asks about one image in all three splits) gets one group per image.
 */
export function imageBatches(items: readonly EvalItem[], batch: number): EvalItem[][] {
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`--batch must be a positive integer (got ${batch})`);
  const groups = new Map<string, EvalItem[]>();
  for (const it of items) {
    const g = groups.get(it.image);
    if (g) g.push(it);
    else groups.set(it.image, [it]);
  }
  const out: EvalItem[][] = [];
  for (const g of groups.values()) for (let i = 0; i < g.length; i += batch) out.push(g.slice(i, i + batch));
  return out;
}
