// A recording → PNG files: per generated token (per layer or averaged over layers, per head or
// averaged over heads) the attention over the image; the answer's mean; CLIP's CLS maps; and the
// modality-prior picture (fraction of attention on system / image / question / answer per layer × head).
import { writeFileSync } from "node:fs";
import { makeDirs } from "../util/files.js";
import { join } from "node:path";
import type { Recording } from "./session.js";
import { clsMap, meanMaps, MODALITY_SEGMENTS, modalityFractions, textSteps, tokenImageMap, type HeadChoice } from "./maps.js";
import { renderHeatmap, renderMatrices, type HeatmapOptions } from "./heatmap.js";

export interface RenderOptions extends HeatmapOptions {
  /** One picture per entry: a text layer, or "mean" = averaged over every recorded layer (default ["mean"]). */
  layers?: (number | "mean")[];
  /** Heads to draw one by one, or "mean" (default). */
  heads?: HeadChoice[];
  /** Generation steps to draw (default: every recorded step). */
  steps?: number[];
  cls?: boolean;
  modality?: boolean;
}

export interface RenderedFile {
  file: string;
  what: string;
}

function recordedTextLayers(rec: Recording): number[] {
  return [...new Set(rec.records.filter((r) => r.module === "text" && r.kind !== "tap").map((r) => r.layer))].sort((a, b) => a - b);
}

/** The map of one step: a single layer, or the mean over `layers`. */
export function stepMap(rec: Recording, step: number, layers: number[], head: HeadChoice): Float32Array {
  return meanMaps(layers.map((l) => tokenImageMap(rec.records, rec.meta, l, step, head)));
}

const headName = (h: HeadChoice) => (h === "mean" ? "mean" : `h${h}`);

export async function renderRecording(rec: Recording, outDir: string, opts: RenderOptions = {}): Promise<RenderedFile[]> {
  makeDirs(outDir, "the rendered heatmaps");
  const files: RenderedFile[] = [];
  const save = async (file: string, what: string, png: Buffer) => {
    writeFileSync(join(outDir, file), png);
    files.push({ file, what });
  };
  const all = recordedTextLayers(rec);
  const groups = (opts.layers ?? ["mean"]).map((l) => (l === "mean" ? { name: "lmean", layers: all } : { name: `l${l}`, layers: [l] }));
  const heads = opts.heads ?? ["mean"];
  const steps = opts.steps ?? (all.length ? textSteps(rec.records, all[0]).map((r) => r.step) : []);
  const { meta } = rec;
  for (const g of groups) {
    for (const h of heads) {
      const maps: Float32Array[] = [];
      for (const s of steps) {
        const map = stepMap(rec, s, g.layers, h);
        maps.push(map);
        const token = meta.answer.tokens[s] ?? "";
        const caption = [
          `token ${s} "${token}"`,
          `${layerText(g.layers)}, ${h === "mean" ? "mean over heads" : `head ${h}`}`,
          `Q: ${meta.question}`,
        ];
        const { png } = await renderHeatmap(rec.image, map, meta.grid, caption, opts);
        await save(`token${String(s).padStart(3, "0")}_${g.name}_${headName(h)}.png`, `attention of token ${s} over the image`, png);
      }
      if (maps.length > 1) {
        const { png } = await renderHeatmap(
          rec.image,
          meanMaps(maps),
          meta.grid,
          [
            `answer "${meta.answer.text}"`,
            `mean over ${maps.length} tokens, ${layerText(g.layers)}, ${h === "mean" ? "mean over heads" : `head ${h}`}`,
          ],
          opts,
        );
        await save(`answer_${g.name}_${headName(h)}.png`, "mean attention of the answer over the image", png);
      }
    }
  }
  if (opts.cls !== false) await renderCls(rec, opts, heads, save);
  if (opts.modality !== false && all.length) {
    await save("modality.png", "fraction of attention per segment, text layer × head", await renderModality(rec));
  }
  return files;
}

function layerText(layers: number[]): string {
  return layers.length === 1 ? `layer ${layers[0]}` : `mean of layers ${layers[0]}-${layers[layers.length - 1]}`;
}

async function renderCls(
  rec: Recording,
  opts: HeatmapOptions,
  heads: HeadChoice[],
  save: (f: string, w: string, p: Buffer) => Promise<void>,
): Promise<void> {
  const layers = rec.records.filter((r) => r.module === "vision" && r.kind === "cls").map((r) => r.layer);
  for (const l of layers) {
    for (const h of heads) {
      const caption = [`CLIP CLS attention, vision layer ${l}`, h === "mean" ? "mean over heads" : `head ${h}`];
      const { png } = await renderHeatmap(rec.image, clsMap(rec.records, l, h), rec.meta.grid, caption, opts);
      await save(`cls_l${l}_${headName(h)}.png`, `CLIP CLS attention, layer ${l}`, png);
    }
  }
}

/** The modality-prior picture: one panel per segment, rows = text layers, columns = heads. */
export async function renderModality(rec: Recording): Promise<Buffer> {
  const f = modalityFractions(rec.records, rec.meta);
  const present = MODALITY_SEGMENTS.filter((s) => rec.meta.segments.some((x) => x.name === s));
  const many = f.heads.length > 12;
  const panels = present.map((s) => ({
    title: s === "text" ? "question" : s,
    values: f.fractions[s],
    rowLabels: f.layers.map((l) => (f.layers.length > 16 && l % 4 ? "" : `L${l}`)),
    colLabels: f.heads.map((h) => (many && h % 4 ? "" : String(h))),
  }));
  const caption = [
    `Fraction of each generated token's attention on each part of the sequence (mean over ${rec.meta.answer.ids.length} tokens). Columns: heads.`,
  ];
  return renderMatrices(panels, { vmin: 0, vmax: 1, caption, cellWidth: many ? 10 : 28, cellHeight: f.layers.length > 16 ? 12 : 22 });
}
