// VLind-Bench pipeline scores, computed the way its eval/score_pipeline.py computes them. A stage passes for
// an instance when its "1" probe is answered True and its "2" probe False (d: per good image). Each stage's
// pipeline score is conditioned on the stages it depends on:
//   S_CK = a_pass / N,   S_VP = b_pass / N,   S_CB = c_pass / a_pass   (c_pass = c and a pass),
//   S_LP = Σ_instances (d passes with b and c_pass, as a fraction of the instance's good images) / bc_pass,
// next to the unconditioned accuracies CB = Σ c / N and LP = Σ (fraction of good images where d passes) / N.
// N counts instances with at least one good image (votes ≥ threshold) among the images of the chosen style.
// Like the release, a ratio whose denominator is 0 is 0.
import { EvalFileError } from "./jsonl.js";
import { goodImages, probeId, VLIND_VOTE_THRESHOLD, type VlindInstance } from "./vlind-data.js";

/** score_pipeline.py's --style: which counterfactual image ids count. */
export const VLIND_STYLES: Record<string, readonly string[] | undefined> = {
  all: undefined,
  photorealistic: ["0", "1", "2", "3"],
  illustration: ["4", "5", "6", "7"],
  cartoon: ["8", "9", "10", "11"],
};

export type VlindAnswer = "True" | "False" | "NA";
/** The parsed answer of a probe id (`probeId`), undefined when there is none. */
export type VlindAnswers = (id: string) => VlindAnswer | undefined;

const COUNT_KEYS = [
  "a",
  "b",
  "c",
  "aPass",
  "bPass",
  "cPass",
  "bcPass",
  "dMacro",
  "dMicro",
  "dPassMacro",
  "dPassMicro",
  "bcPassMicro",
] as const;
type Counts = Record<(typeof COUNT_KEYS)[number], number>;

export interface VlindScores {
  instances: number;
  images: number;
  /** Pipeline scores (fractions). */
  CK: number;
  VP: number;
  CB: number;
  LP: number;
  /** S_LP over images instead of instances (the release's d_pass_ratio_micro, not printed by it). */
  LPmicro: number;
  /** Unconditioned accuracies: CB = Σ c / N, LP = Σ d_macro / N. */
  CBaccuracy: number;
  LPaccuracy: number;
  counts: Counts;
}

export interface VlindReport {
  total: VlindScores;
  concepts: Record<string, VlindScores>;
  voteThreshold: number;
  style: string;
  /** Probes scored, and those whose answer had neither "true" nor "false" (NA: wrong, as in the release). */
  probes: number;
  unparsed: number;
}

type Acc = Counts & { n: number; images: number };
const zero = (): Acc => ({ n: 0, images: 0, ...(Object.fromEntries(COUNT_KEYS.map((k) => [k, 0])) as Counts) });
const ratio = (x: number, d: number) => (d === 0 ? 0 : x / d);

function finish(acc: Acc): VlindScores {
  const { n, images, ...counts } = acc;
  return {
    instances: n,
    images,
    CK: acc.aPass / n,
    VP: acc.bPass / n,
    CB: ratio(acc.cPass, acc.aPass),
    LP: ratio(acc.dPassMacro, acc.bcPass),
    LPmicro: ratio(acc.dPassMicro, acc.bcPassMicro),
    CBaccuracy: acc.c / n,
    LPaccuracy: acc.dMacro / n,
    counts,
  };
}

/** One instance's stage results, as score_pipeline.py's loop body computes them. */
function instanceResult(x: VlindInstance, good: string[], get: (id: string) => VlindAnswer | undefined) {
  const passes = (p: string, id?: string) => {
    const [one, two] = [get(probeId(x, `${p}1`, id)), get(probeId(x, `${p}2`, id))]; // both, so every missing one is reported
    return one === "True" && two === "False";
  };
  const a = passes("a"),
    b = passes("b"),
    c = passes("c");
  const cPass = c && a;
  const bcPass = b && cPass;
  const dSum = good.filter((id) => passes("d", id)).length;
  return { a, b, c, cPass, bcPass, dSum, dPassSum: bcPass ? dSum : 0 };
}

export interface VlindScoreOptions {
  voteThreshold?: number;
  style?: string;
  /** Named in errors (the answers or prediction file). */
  source?: string;
}

export function scoreVlind(data: readonly VlindInstance[], answer: VlindAnswers, o: VlindScoreOptions = {}): VlindReport {
  const style = o.style ?? "all";
  if (!(style in VLIND_STYLES)) throw new Error(`unknown VLind-Bench style '${style}' (valid: ${Object.keys(VLIND_STYLES).join(", ")})`);
  const voteThreshold = o.voteThreshold ?? VLIND_VOTE_THRESHOLD;
  const missing: string[] = [];
  let probes = 0,
    unparsed = 0;
  const get = (id: string) => {
    const a = answer(id);
    if (a === undefined) missing.push(id);
    probes++;
    if (a === "NA") unparsed++;
    return a;
  };
  const byConcept = new Map<string, Acc>();
  const total = zero();
  for (const x of data) {
    const good = goodImages(x, voteThreshold, VLIND_STYLES[style]);
    if (good.length === 0) continue;
    const r = instanceResult(x, good, get);
    if (!byConcept.has(x.concept)) byConcept.set(x.concept, zero());
    for (const acc of [byConcept.get(x.concept)!, total]) {
      acc.n++;
      acc.images += good.length;
      acc.a += +r.a;
      acc.b += +r.b;
      acc.c += +r.c;
      acc.aPass += +r.a;
      acc.bPass += +r.b;
      acc.cPass += +r.cPass;
      acc.bcPass += +r.bcPass;
      acc.dMacro += r.dSum / good.length;
      acc.dMicro += r.dSum;
      acc.dPassMacro += r.dPassSum / good.length;
      acc.dPassMicro += r.dPassSum;
      acc.bcPassMicro += +r.bcPass * good.length;
    }
  }
  const from = o.source ? `${o.source}: ` : "";
  if (missing.length) {
    const eg = missing.slice(0, 3).join(", ");
    const hint = "is it the answers file of this data.json and vote threshold?";
    throw new EvalFileError(`${from}${missing.length} VLind-Bench probe(s) have no answer, e.g. ${eg} (${hint})`);
  }
  if (total.n === 0) {
    throw new EvalFileError(`${from}no VLind-Bench instance has a good image (votes ≥ ${voteThreshold}, style ${style})`);
  }
  const concepts = Object.fromEntries([...byConcept].sort(([p], [q]) => p.localeCompare(q)).map(([k, acc]) => [k, finish(acc)]));
  return { total: finish(total), concepts, voteThreshold, style, probes, unparsed };
}
