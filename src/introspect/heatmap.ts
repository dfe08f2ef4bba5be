// The pictures: an attention map over the image patches, upsampled (bilinear) onto the picture the
// model saw, with a colour bar and a caption; and labelled matrices (layer × head modality split,
// layer × counterfactual-type sweep effects) with a shared colour scale.
import type { RgbImage } from "../vision/index.js";
import { Canvas, colormap, fmtNum, LINE_HEIGHT, overlay, range, scaleNearest, upsampleBilinear, type ColormapName } from "./draw.js";

export interface HeatmapOptions {
  /** Opacity of the colour layer, 0–1 (default 0.6). */
  alpha?: number;
  colormap?: ColormapName;
  /** The picture is scaled up by an integer factor to at least this width (default 336). */
  minSize?: number;
  /** Colour scale: "minmax" of the map (default) or [0, max]. */
  scale?: "minmax" | "zero";
}

export interface HeatmapLayout {
  /** Where the picture sits in the PNG, and its displayed size. */
  x: number;
  y: number;
  width: number;
  height: number;
  /** Integer upscale applied to the model-view picture. */
  factor: number;
  barX: number;
  canvasWidth: number;
  canvasHeight: number;
}

const M = 8; // margin
const BAR_W = 16;
const BAR_LABEL_W = 72;

export function heatmapLayout(imgW: number, imgH: number, minSize: number, captionLines: number): HeatmapLayout {
  const factor = Math.max(1, Math.ceil(minSize / imgW));
  const width = imgW * factor;
  const height = imgH * factor;
  const barX = M + width + 12;
  const canvasWidth = barX + BAR_W + BAR_LABEL_W;
  return { x: M, y: M, width, height, factor, barX, canvasWidth, canvasHeight: M + height + 6 + captionLines * LINE_HEIGHT + M };
}

/**
 * `map` (grid × grid, row-major, patch (r,c) = image row r, column c) over `image` as a PNG. Returns
 * the layout so callers (and tests) know which pixels show the picture.
 */
export async function renderHeatmap(
  image: RgbImage,
  map: Float32Array,
  grid: number,
  caption: string[],
  opts: HeatmapOptions = {},
): Promise<{ png: Buffer; layout: HeatmapLayout; lo: number; hi: number }> {
  const cmap = opts.colormap ?? "viridis";
  const alpha = opts.alpha ?? 0.6;
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`alpha must be within 0–1, got ${alpha}`);
  const lines = caption.flatMap((c) => wrap(c, 40));
  const L = heatmapLayout(image.width, image.height, opts.minSize ?? 336, lines.length);
  const base = scaleNearest(image, L.factor);
  const up = upsampleBilinear(map, grid, L.width, L.height);
  let [lo, hi] = range(map);
  if (opts.scale === "zero") [lo, hi] = [0, Math.max(hi, 1e-12)];
  const c = new Canvas(L.canvasWidth, L.canvasHeight);
  c.blit(overlay(base, up, lo, hi, cmap, alpha), L.x, L.y);
  c.colourBar(L.barX, L.y, BAR_W, L.height, cmap);
  await c.text(L.barX + BAR_W + 4, L.y - 2, fmtNum(hi));
  await c.text(L.barX + BAR_W + 4, L.y + L.height - LINE_HEIGHT, fmtNum(lo));
  for (const [i, line] of lines.entries()) await c.text(M, L.y + L.height + 6 + i * LINE_HEIGHT, line);
  return { png: await c.png(), layout: L, lo, hi };
}

/** Greedy word wrap to about `width` characters per line. */
export function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = "";
    }
    line = line ? `${line} ${word}` : word;
  }
  if (line || out.length === 0) out.push(line);
  return out;
}

export interface MatrixPanel {
  title: string;
  /** values[row][col]; NaN cells are drawn grey. */
  values: number[][];
  rowLabels: string[];
  colLabels: string[];
}

export interface MatrixOptions {
  colormap?: ColormapName;
  cellWidth?: number;
  cellHeight?: number;
  /** Shared colour range; default: over every panel. */
  vmin?: number;
  vmax?: number;
  caption?: string[];
  /** Print each cell's value inside it (default: when cells are wide enough). */
  numbers?: boolean;
}

const ROW_LABEL_W = 56;
const TITLE_H = LINE_HEIGHT + 4;

/** Panels side by side, one colour scale, row labels on the left of each, column labels on top. */
export async function renderMatrices(panels: MatrixPanel[], opts: MatrixOptions = {}): Promise<Buffer> {
  if (panels.length === 0) throw new Error("no panels to draw");
  const cmap = opts.colormap ?? "viridis";
  const cw = opts.cellWidth ?? 28;
  const ch = opts.cellHeight ?? 22;
  const all = panels.flatMap((p) => p.values.flat()).filter(Number.isFinite);
  const [lo0, hi0] = range(all);
  const lo = opts.vmin ?? lo0;
  const hi = opts.vmax ?? hi0;
  const numbers = opts.numbers ?? cw >= 56;
  const widths = panels.map((p) => ROW_LABEL_W + Math.max(1, p.colLabels.length) * cw + 16);
  const rows = Math.max(...panels.map((p) => p.values.length));
  const gridH = rows * ch;
  const top = M + TITLE_H + LINE_HEIGHT + 2;
  const caption = (opts.caption ?? []).flatMap((l) => wrap(l, 70));
  const barX = M + widths.reduce((a, b) => a + b, 0);
  const c = new Canvas(barX + BAR_W + BAR_LABEL_W, Math.max(top + gridH, top + 120) + 8 + caption.length * LINE_HEIGHT + M);
  let x0 = M;
  for (const [pi, p] of panels.entries()) {
    await c.text(x0, M, p.title);
    for (const [j, label] of p.colLabels.entries())
      await c.text(x0 + ROW_LABEL_W + j * cw + 2, M + TITLE_H, label.slice(0, Math.max(1, Math.floor(cw / 8))));
    for (const [i, label] of p.rowLabels.entries()) await c.text(x0, top + i * ch + Math.max(0, (ch - LINE_HEIGHT) / 2), label);
    for (const [i, row] of p.values.entries()) {
      for (const [j, v] of row.entries()) {
        const colour = Number.isFinite(v) ? colormap(cmap, (v - lo) / (hi - lo)) : ([200, 200, 200] as [number, number, number]);
        c.fill(x0 + ROW_LABEL_W + j * cw, top + i * ch, cw - 1, ch - 1, colour);
        if (numbers && Number.isFinite(v)) await cellNumber(c, x0 + ROW_LABEL_W + j * cw + 3, top + i * ch + 2, v);
      }
    }
    x0 += widths[pi];
  }
  const barH = Math.max(gridH, 120);
  c.colourBar(barX, top, BAR_W, barH, cmap);
  await c.text(barX + BAR_W + 4, top - 2, fmtNum(hi));
  await c.text(barX + BAR_W + 4, top + barH - LINE_HEIGHT, fmtNum(lo));
  for (const [i, line] of caption.entries()) await c.text(M, Math.max(top + gridH, top + 120) + 8 + i * LINE_HEIGHT, line);
  return c.png();
}

/** A value printed on a white chip so it reads on any colour. */
async function cellNumber(c: Canvas, x: number, y: number, v: number): Promise<void> {
  const s = fmtNum(v);
  c.fill(x - 1, y, s.length * 8 + 2, LINE_HEIGHT - 2, [255, 255, 255]);
  await c.text(x, y - 1, s);
}
