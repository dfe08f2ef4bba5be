// An AttentionHook that copies chosen attention rows out of the model as compact Float32Arrays.
//
// What is kept (per chosen layer, chosen heads, one batch row):
//   text, prefill      the LAST query row `[Hs,1,Tk]` (it predicts generated token 0), or every row
//                      `[Hs,Tq,Tk]` with `prefill: "all"`;
//   text, decode step  the step's single query row `[Hs,1,Tk]`, Tk = its absolute position + 1;
//   vision             the CLS query row `[Hs,1,P+1]`, and with `patches: true` the full `[Hs,P+1,P+1]`.
// "Step s" is the forward whose output scores choose generated token s: step 0 is the prefill's last
// row, step s ≥ 1 is the row whose INPUT is generated token s−1. So nothing grows with the number of
// layers the model has, only with the layers asked for: a long generation costs
// 4·Hs·Σ_s (P0 + s) bytes per recorded text layer (P0 = prompt length after image expansion).
//
// Composition: `recorder.after(inner)` runs `inner` (e.g. a counterfactual hook) first and records
// what it returns, i.e. the probabilities that actually multiply V (post-intervention).
import * as tf from "@tensorflow/tfjs-core";
import type { AttentionHook, AttentionSite, ModuleName, Tap } from "../model/hooks.js";

export type RecordKind = "prefill" | "step" | "cls" | "full" | "tap";

export interface AttentionRecord {
  /** Unique name, also the file / safetensors tensor name, e.g. `text.l0.s3`. */
  name: string;
  module: ModuleName;
  layer: number;
  kind: RecordKind;
  /** Generation step (text), -1 for vision. */
  step: number;
  /** Head indices of the first axis (all heads when none were chosen). */
  heads: number[];
  /** `[Hs,Tq,Tk]` for attention; `[1,D]` for a tap (the last row of the projection). */
  shape: number[];
  /** Absolute position of the first query row (text) or query index (vision). */
  queryStart: number;
  /** For taps: which projection ("q" | "k" | "v"). */
  tap?: string;
  data: Float32Array;
}

export interface ModuleSelection {
  layers: number[];
  /** Default: every head. */
  heads?: number[];
}

export interface RecorderOptions {
  text?: ModuleSelection & { prefill?: "last" | "all" };
  vision?: ModuleSelection & { patches?: boolean };
  /** Also keep the last row of these text projections (before RoPE) for the chosen text layers. */
  taps?: ("q" | "k" | "v")[];
  /** Batch row to record (default 0: the only row, or the factual row of a batched run). */
  row?: number;
}

export class AttentionRecorder {
  readonly records: AttentionRecord[] = [];
  /** Prompt length (after image expansion), known after the prefill. */
  prefillLength: number | null = null;
  private tapForwards = new Map<string, number>();
  readonly hook: AttentionHook;
  readonly tap: Tap;

  constructor(readonly options: RecorderOptions) {
    this.hook = (p, site) => {
      this.observe(p, site);
      return undefined;
    };
    this.tap = (module, layer, which, t) => this.observeTap(module, layer, which, t);
  }

  /** A hook that applies `inner` first and records its result (post-intervention attention). */
  after(inner?: AttentionHook): AttentionHook {
    if (!inner) return this.hook;
    return (p, site) => {
      const out = inner(p, site);
      this.observe(out ?? p, site);
      return out;
    };
  }

  /** Bytes held by recorded data (the Float32Arrays only). */
  bytes(): number {
    return this.records.reduce((n, r) => n + r.data.byteLength, 0);
  }

  clear(): void {
    this.records.length = 0;
    this.prefillLength = null;
    this.tapForwards.clear();
  }

  private selection(module: ModuleName): ModuleSelection | undefined {
    return module === "text" ? this.options.text : this.options.vision;
  }

  private observe(p: tf.Tensor4D, site: AttentionSite): void {
    const sel = this.selection(site.module);
    if (!sel || !sel.layers.includes(site.layer)) return;
    const [B, H, Tq] = p.shape;
    const row = this.options.row ?? 0;
    if (row >= B) throw new Error(`recorder: batch row ${row} requested, the forward has ${B} rows`);
    const heads = sel.heads ?? Array.from({ length: H }, (_, h) => h);
    if (heads.some((h) => h < 0 || h >= H)) throw new Error(`recorder: heads ${heads.join(",")} out of range (0–${H - 1})`);
    if (site.module === "vision") {
      this.push(site, "cls", -1, 0, copyRows(p, row, heads, 0, 1));
      if (this.options.vision?.patches) this.push(site, "full", -1, 0, copyRows(p, row, heads, 0, Tq));
      return;
    }
    const offset = site.causalOffset ?? 0;
    if (offset === 0) this.prefillLength = Tq;
    const lastPos = offset + Tq - 1;
    const step = lastPos - ((this.prefillLength ?? Tq) - 1);
    const all = offset === 0 && this.options.text?.prefill === "all";
    const start = all ? 0 : Tq - 1;
    this.push(site, offset === 0 ? "prefill" : "step", step, offset + start, copyRows(p, row, heads, start, Tq - start));
  }

  private push(
    site: AttentionSite,
    kind: RecordKind,
    step: number,
    queryStart: number,
    got: { shape: number[]; data: Float32Array; heads: number[] },
  ): void {
    const suffix = kind === "cls" || kind === "full" ? kind : kind === "prefill" && got.shape[1] > 1 ? "prefill" : `s${step}`;
    const name = `${site.module}.l${site.layer}.${suffix}`;
    this.records.push({
      name,
      module: site.module,
      layer: site.layer,
      kind,
      step,
      heads: got.heads,
      shape: got.shape,
      queryStart,
      data: got.data,
    });
  }

  private observeTap(module: ModuleName, layer: number, which: "q" | "k" | "v", t: tf.Tensor): void {
    if (module !== "text" || !this.options.taps?.includes(which) || !this.options.text?.layers.includes(layer)) return;
    const [, T, D] = t.shape; // [B,T,D]
    const row = this.options.row ?? 0;
    const last = t.slice([row, T - 1, 0], [1, 1, D]);
    const data = last.dataSync() as Float32Array; // copied out (typed arrays are not returned through tf.tidy)
    last.dispose();
    // taps run before the attention of their layer, so the step is counted per (layer, projection):
    // the n-th forward that reaches it is step n (the prefill is step 0)
    const key = `${layer}.${which}`;
    const step = this.tapForwards.get(key) ?? 0;
    this.tapForwards.set(key, step + 1);
    const name = `text.l${layer}.${which}.s${step}`;
    this.records.push({
      name,
      module,
      layer,
      kind: "tap",
      step,
      heads: [],
      shape: [1, D],
      queryStart: -1,
      tap: which,
      data: Float32Array.from(data),
    });
  }
}

/** Copies rows [start, start+n) of batch row `b` for `heads` into one `[Hs,n,Tk]` Float32Array. */
function copyRows(
  p: tf.Tensor4D,
  b: number,
  heads: number[],
  start: number,
  n: number,
): { shape: number[]; data: Float32Array; heads: number[] } {
  const Tk = p.shape[3];
  const data = tf.tidy(() => {
    const rows = p.slice([b, 0, start, 0], [1, p.shape[1], n, Tk]);
    const picked = heads.length === p.shape[1] && heads.every((h, i) => h === i) ? rows : tf.gather(rows, heads, 1);
    return picked.dataSync() as Float32Array;
  });
  // dataSync of a slice may alias backend memory: copy into an array we own
  return { shape: [heads.length, n, Tk], data: Float32Array.from(data), heads: [...heads] };
}
