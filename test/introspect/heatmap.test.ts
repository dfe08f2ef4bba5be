// Heatmaps: a synthetic map with a known peak must colour the right pixels of the decoded PNG.
import { describe, expect, test } from "vitest";
import { Jimp } from "jimp";
import { colormap, upsampleBilinear } from "../../src/introspect/draw.js";
import { renderHeatmap, renderMatrices, wrap } from "../../src/introspect/heatmap.js";
import { modalityFractions } from "../../src/introspect/maps.js";
import type { AttentionRecord } from "../../src/introspect/recorder.js";
import type { RecordingMeta } from "../../src/introspect/session.js";

function pixel(img: { bitmap: { data: Buffer | Uint8Array; width: number } }, x: number, y: number): number[] {
  const o = (y * img.bitmap.width + x) * 4;
  return Array.from(img.bitmap.data.subarray(o, o + 3));
}

const dist = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));

describe("heatmap rendering", () => {
  test("bilinear upsampling keeps patch centres and is exact on constants", () => {
    const map = Float32Array.from([0, 1, 2, 3]);
    const up = upsampleBilinear(map, 2, 4, 4);
    // pixel centres 0.5 and 2.5 of a 4-px axis map onto patch centres 0 and 1 (with clamping outside)
    expect(up[0]).toBeCloseTo(0);
    expect(up[15]).toBeCloseTo(3);
    expect(up[5]).toBeCloseTo(0.75); // x = y = 1.5 → a quarter of the way to the next patch on both axes
    expect(Array.from(upsampleBilinear(new Float32Array(9).fill(0.5), 3, 7, 5)).every((v) => Math.abs(v - 0.5) < 1e-7)).toBe(true);
  });

  test("a peak at patch (r,c) lands on the matching pixels of the PNG", async () => {
    const g = 4;
    const image = { width: 56, height: 56, data: new Uint8Array(56 * 56 * 3).fill(128) };
    const map = new Float32Array(g * g);
    const [r, c] = [1, 2];
    map[r * g + c] = 1;
    const { png, layout } = await renderHeatmap(image, map, g, ["token ' Yes' layer 0 mean of heads"], { alpha: 1, colormap: "viridis" });
    const img = await Jimp.read(png);
    expect(img.bitmap.width).toBe(layout.canvasWidth);
    const s = layout.width / g; // displayed patch size
    expect(layout.width).toBeGreaterThanOrEqual(336);
    const at = (pr: number, pc: number) => pixel(img, Math.round(layout.x + (pc + 0.5) * s), Math.round(layout.y + (pr + 0.5) * s));
    // the patch centre falls between two pixels (even patch size): within 1% of the top of the scale
    expect(dist(at(r, c), colormap("viridis", 0.99))).toBeLessThanOrEqual(6);
    expect(dist(at(3, 0), colormap("viridis", 0))).toBeLessThanOrEqual(3);
    // the brightest (highest value) pixel of the picture area is inside the peak's patch
    const top = colormap("viridis", 1);
    let best = { d: Infinity, x: -1, y: -1 };
    for (let y = layout.y; y < layout.y + layout.height; y += 2) {
      for (let x = layout.x; x < layout.x + layout.width; x += 2) {
        const d = dist(pixel(img, x, y), top);
        if (d < best.d) best = { d, x, y };
      }
    }
    expect(Math.floor((best.x - layout.x) / s)).toBe(c);
    expect(Math.floor((best.y - layout.y) / s)).toBe(r);
  });

  test("alpha blends the picture under the colours", async () => {
    const image = { width: 28, height: 28, data: new Uint8Array(28 * 28 * 3).fill(200) };
    const { png, layout } = await renderHeatmap(image, new Float32Array(4), 2, ["flat"], { alpha: 0.5, colormap: "gray" });
    const img = await Jimp.read(png);
    // a flat map shows as the bottom of the scale (black) at half opacity over grey 200
    expect(dist(pixel(img, layout.x + 5, layout.y + 5), [100, 100, 100])).toBeLessThanOrEqual(1);
  });

  test("matrices and modality fractions", async () => {
    const png = await renderMatrices(
      [
        {
          title: "image",
          values: [
            [0.1, 0.9],
            [0.5, NaN],
          ],
          rowLabels: ["L0", "L1"],
          colLabels: ["h0", "h1"],
        },
      ],
      { caption: ["fraction of attention"] },
    );
    const img = await Jimp.read(png);
    expect(img.bitmap.width).toBeGreaterThan(100);
    const meta = {
      segments: [
        { name: "system", start: 0, end: 2 },
        { name: "image", start: 2, end: 6 },
        { name: "text", start: 6, end: 8 },
      ],
      grid: 2,
    } as unknown as RecordingMeta;
    const row = Float32Array.from([0.1, 0.1, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1]);
    const rec: AttentionRecord = {
      name: "text.l0.s0",
      module: "text",
      layer: 0,
      kind: "prefill",
      step: 0,
      heads: [0],
      shape: [1, 1, 8],
      queryStart: 7,
      data: row,
    };
    const f = modalityFractions([rec], meta);
    expect(f.fractions.image[0][0]).toBeCloseTo(0.6);
    expect(f.fractions.system[0][0]).toBeCloseTo(0.2);
    expect(f.fractions.text[0][0]).toBeCloseTo(0.2);
    expect(wrap("a b c", 3)).toEqual(["a b", "c"]);
  });
});

describe("heatmap --from a folder that is not a recording", () => {
  test("names the folder and what is expected, not a raw errno", async () => {
    const { parseArgs } = await import("../../src/cli/args.js");
    const { heatmapCommand } = await import("../../src/cli/commands/heatmap.js");
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const heatmap = (from: string) => heatmapCommand.run(parseArgs(["--from", from, "--out", join(tmpdir(), "hm-unused")], heatmapCommand));
    await expect(heatmap("/nonexistent")).rejects.toThrow(
      /^\/nonexistent: no such folder \(expected a recording folder written by `causalmm record --out DIR`\)$/,
    );
    const dir = mkdtempSync(join(tmpdir(), "hm-"));
    await expect(heatmap(dir)).rejects.toThrow(new RegExp(`^${dir}: no index.json here, so not a causalmm attention recording`));
    writeFileSync(join(dir, "index.json"), "{");
    await expect(heatmap(dir)).rejects.toThrow(new RegExp(`^${dir}/index.json: cannot read the recording index`));
    await expect(heatmap(join(dir, "index.json"))).rejects.toThrow(/is a file, not a folder/);
  });
});
