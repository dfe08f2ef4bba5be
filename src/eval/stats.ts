// Small statistics for comparing answer files: percentile intervals and the exact McNemar test.

/** Quantile of sorted values with linear interpolation between order statistics (numpy's default). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Central percentile interval of the finite values (a resample can make F1 0/0; those are left out). */
export function percentileInterval(values: readonly number[], level = 0.95): [number, number] {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  const tail = (1 - level) / 2;
  return [quantile(v, tail), quantile(v, 1 - tail)];
}

/**
 * Exact two-sided McNemar test on paired correctness: b = questions only the first system gets right,
 * c = only the second. Under H0 each discordant question is a fair coin, so
 * p = min(1, 2·P[Binomial(b+c, ½) ≤ min(b, c)]). Summed in log space so thousands of pairs are fine.
 */
export function mcnemarExact(b: number, c: number): number {
  const n = b + c;
  if (n === 0) return 1;
  const k = Math.min(b, c);
  const logFact = [0];
  for (let i = 1; i <= n; i++) logFact.push(logFact[i - 1] + Math.log(i));
  const logTerms: number[] = [];
  for (let i = 0; i <= k; i++) logTerms.push(logFact[n] - logFact[i] - logFact[n - i] - n * Math.LN2);
  const m = Math.max(...logTerms);
  const tail = Math.exp(m) * logTerms.reduce((s, t) => s + Math.exp(t - m), 0);
  return Math.min(1, 2 * tail);
}
