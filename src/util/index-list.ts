// The one index-list syntax of the command line (`--cf …@0,2,5-7:h0,3`, `--layers`, `--heads`, …).

/** "all" | "last" | "0,2,5-7" → sorted unique indices within 0..n−1; errors name `what` and the valid range. */
export function parseIndexList(text: string, n: number, what: string): number[] {
  const t = text.trim();
  if (t === "all") return Array.from({ length: n }, (_, i) => i);
  if (t === "last") return [n - 1];
  const out = new Set<number>();
  for (const item of t.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(item.trim());
    if (!m) throw new Error(`bad ${what} '${item}' in '${text}' (valid: all, last, or a list like 0,2,5-7 within 0–${n - 1})`);
    const [a, b] = [Number(m[1]), Number(m[2] ?? m[1])];
    if (b < a) throw new Error(`bad ${what} range '${item}': end before start`);
    if (b >= n) throw new Error(`${what} ${item.trim()} out of range (valid: 0–${n - 1})`);
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

/** [0,1,2,5,7,8] → "0-2,5,7-8" (the inverse of `parseIndexList`). */
export function formatIndexList(values: number[]): string {
  const v = [...new Set(values)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < v.length;) {
    let j = i;
    while (j + 1 < v.length && v[j + 1] === v[j] + 1) j++;
    parts.push(j > i ? `${v[i]}-${v[j]}` : `${v[i]}`);
    i = j + 1;
  }
  return parts.join(",");
}
