// The one argmax: greedy decoding, contrastive scores, the lab's answers and the sweep's top token use it.

/** Index of the largest value (the first on ties; a leading NaN wins), −1 for an empty array. */
export function argmax(x: ArrayLike<number>): number {
  if (x.length === 0) return -1;
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}
