// From recorded attention rows to the numbers a picture shows: the attention a generated token pays
// to each image patch (grid × grid), CLIP's CLS attention over patches, and the split of attention
// between system prompt / image / question / answer per layer and head.
import type { AttentionRecord } from "./recorder.js";
import type { RecordingMeta, Segment, SegmentName } from "./session.js";

/** Which heads to show: one head index, or the mean over every recorded head. */
export type HeadChoice = number | "mean";

/** Row `q` of head slot `k` of a record `[Hs,Tq,Tk]`. */
export function recordRow(r: AttentionRecord, k: number, q: number): Float32Array {
  const [, Tq, Tk] = r.shape;
  const at = (k * Tq + q) * Tk;
  return r.data.subarray(at, at + Tk);
}

/** The last query row, for one recorded head or averaged over all recorded heads. */
export function headRow(r: AttentionRecord, head: HeadChoice, q = r.shape[1] - 1): Float32Array {
  if (head !== "mean") {
    const k = r.heads.indexOf(head);
    if (k < 0) throw new Error(`${r.name}: head ${head} was not recorded (recorded: ${r.heads.join(",")})`);
    return recordRow(r, k, q);
  }
  const out = new Float32Array(r.shape[2]);
  for (let k = 0; k < r.shape[0]; k++) {
    const row = recordRow(r, k, q);
    for (let j = 0; j < out.length; j++) out[j] += row[j] / r.shape[0];
  }
  return out;
}

/** The `grid²` entries of an attention row that fall on image keys [start, start + grid²). */
export function patchMap(row: Float32Array, imageStart: number, grid: number): Float32Array {
  return Float32Array.from(row.subarray(imageStart, imageStart + grid * grid));
}

export function segment(meta: RecordingMeta, name: SegmentName): Segment {
  const s = meta.segments.find((x) => x.name === name);
  if (!s) throw new Error(`recording has no '${name}' segment`);
  return s;
}

/** Text records of one layer, by step (taps excluded). */
export function textSteps(records: AttentionRecord[], layer: number): AttentionRecord[] {
  return records.filter((r) => r.module === "text" && r.kind !== "tap" && r.layer === layer).sort((a, b) => a.step - b.step);
}

/** Attention of generated token `step` over the image patches (grid × grid, row-major). */
export function tokenImageMap(
  records: AttentionRecord[],
  meta: RecordingMeta,
  layer: number,
  step: number,
  head: HeadChoice,
): Float32Array {
  const r = textSteps(records, layer).find((x) => x.step === step);
  if (!r) throw new Error(`no text attention recorded for layer ${layer}, step ${step}`);
  return patchMap(headRow(r, head), segment(meta, "image").start, meta.grid);
}

/** Mean of several maps of equal length. */
export function meanMaps(maps: Float32Array[]): Float32Array {
  if (maps.length === 0) throw new Error("no maps to average");
  const out = new Float32Array(maps[0].length);
  for (const m of maps) for (let i = 0; i < out.length; i++) out[i] += m[i] / maps.length;
  return out;
}

/** CLIP's CLS query over the patch keys (CLS key dropped), grid × grid. */
export function clsMap(records: AttentionRecord[], layer: number, head: HeadChoice): Float32Array {
  const r = records.find((x) => x.module === "vision" && x.kind === "cls" && x.layer === layer);
  if (!r) throw new Error(`no CLS attention recorded for vision layer ${layer}`);
  return Float32Array.from(headRow(r, head, 0).subarray(1));
}

export const MODALITY_SEGMENTS: readonly SegmentName[] = ["system", "image", "text", "answer"];

/**
 * For every recorded text layer (rows) and head (columns): the fraction of attention on each segment,
 * averaged over the recorded generation steps. `fractions[segment][layer][head]`.
 */
export function modalityFractions(
  records: AttentionRecord[],
  meta: RecordingMeta,
): { layers: number[]; heads: number[]; fractions: Record<SegmentName, number[][]> } {
  const layers = [...new Set(records.filter((r) => r.module === "text" && r.kind !== "tap").map((r) => r.layer))].sort((a, b) => a - b);
  if (layers.length === 0) throw new Error("the recording has no text attention");
  const heads = textSteps(records, layers[0])[0].heads;
  const fractions = Object.fromEntries(MODALITY_SEGMENTS.map((s) => [s, layers.map(() => heads.map(() => 0))])) as Record<
    SegmentName,
    number[][]
  >;
  layers.forEach((layer, li) => {
    const steps = textSteps(records, layer);
    for (const r of steps) {
      heads.forEach((_, k) => {
        const row = recordRow(r, k, r.shape[1] - 1);
        for (const s of meta.segments) fractions[s.name][li][k] += sumRange(row, s.start, s.end) / steps.length;
      });
    }
  });
  return { layers, heads, fractions };
}

function sumRange(row: Float32Array, a: number, b: number): number {
  let s = 0;
  for (let j = a; j < Math.min(b, row.length); j++) s += row[j];
  return s;
}
