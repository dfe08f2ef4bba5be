// VLind-Bench tables, and the one line score_pipeline.py prints (S_CK & S_VP & S_CB & S_LP & CB & LP, in %),
// reproduced to the digit: the same float operations in the same order, and Python's f"{v:.1f}" rounding.
import type { VlindReport, VlindScores } from "./vlind-score.js";

/**
 * Python's format(v, ".1f"): correctly rounded from the exact binary value, ties to even. JavaScript's
 * toFixed also rounds the exact value but sends ties up; a tie at one decimal is a value whose fraction
 * is exactly .x25 or .x75 (the only dyadic ones), e.g. 12.25 → "12.2" in Python, "12.3" from toFixed.
 */
export function pyFixed1(v: number): string {
  const tie = Number.isInteger(v * 4) && !Number.isInteger(v * 2);
  if (!tie) return v.toFixed(1);
  const lo = Math.floor(v * 10);
  return ((lo % 2 === 0 ? lo : lo + 1) / 10).toFixed(1);
}

/** The six numbers of the release's printed line, computed as it computes them. */
export function releaseNumbers(s: VlindScores): number[] {
  const c = s.counts;
  const pipe = (x: number, d: number) => (d === 0 ? 0 : x / d) * 100;
  return [
    pipe(c.aPass, s.instances),
    pipe(c.bPass, s.instances),
    pipe(c.cPass, c.aPass),
    pipe(c.dPassMacro, c.bcPass),
    (c.c * 100) / s.instances,
    (c.dMacro * 100) / s.instances,
  ];
}

/** score_pipeline.py's output line, e.g. "66.7 & 66.7 & 100.0 & 66.7 & 100.0 & 72.2 & ". */
export function releaseLine(s: VlindScores): string {
  return releaseNumbers(s)
    .map((v) => `${pyFixed1(v)} & `)
    .join("");
}

function row(name: string, s: VlindScores): string {
  const [ck, vp, cb, lp, cbAcc, lpAcc] = releaseNumbers(s).map(pyFixed1);
  return `| ${name} | ${ck} | ${vp} | ${cb} | ${lp} | ${cbAcc} | ${lpAcc} | ${s.instances} | ${s.images} |`;
}

export function formatVlind(r: VlindReport, modelId = "model"): string {
  const t = r.total.counts;
  const notes: string[] = [];
  if (r.unparsed) notes.push(`${r.unparsed} of ${r.probes} answers say neither true nor false (NA, scored as wrong, as in the release)`);
  if (t.aPass === 0) notes.push("no instance passed commonsense knowledge: S_CB is 0 by the release's convention");
  if (t.bcPass === 0) notes.push("no instance passed CK, VP and CB: S_LP is 0 by the release's convention");
  return [
    `VLind-Bench pipeline scores (votes ≥ ${r.voteThreshold}, style ${r.style}), in %`,
    "| concept | S_CK | S_VP | S_CB | S_LP | CB acc | LP acc | instances | images |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...Object.entries(r.concepts).map(([k, s]) => row(k, s)),
    row("**total**", r.total),
    "",
    `${modelId} scores (score_pipeline.py's line: S_CK & S_VP & S_CB & S_LP & CB & LP):`,
    releaseLine(r.total),
    ...notes.map((n) => `note: ${n}`),
  ].join("\n");
}
