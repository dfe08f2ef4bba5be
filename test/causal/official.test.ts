// The released code's reweighting map against the fixtures, and the bilinear resize against a direct
// transcription of PyTorch's align_corners=False formula (down- and upsampling) on cpu and wasm.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { readNpy } from "../../src/weights/npy.js";
import { describeFixtures } from "../helpers/fixtures.js";
import { editAttentionOfficial, interpolateBilinear, officialReweightMap, reweightFeatures } from "../../src/causal/official.js";

const BACKENDS = ["cpu", "wasm"] as const;

/**
 * PyTorch upsample_bilinear2d (align_corners=False) for one [H,W] plane, transcribed pixel by pixel
 * with float32 source coordinates as ATen computes them (or exact ones with f32coords = false).
 */
function torchBilinear(x: Float32Array, h: number, w: number, oh: number, ow: number, f32coords = true): Float64Array {
  const f = f32coords ? Math.fround : (v: number) => v;
  const src = (dst: number, inSize: number, outSize: number): [number, number, number] => {
    const s = Math.max(f(f(f(inSize / outSize) * (dst + 0.5)) - 0.5), 0);
    const i0 = Math.floor(s);
    const i1 = i0 < inSize - 1 ? i0 + 1 : i0;
    return [i0, i1, f(s - i0)];
  };
  const out = new Float64Array(oh * ow);
  for (let r = 0; r < oh; r++) {
    const [y0, y1, ly] = src(r, h, oh);
    for (let c = 0; c < ow; c++) {
      const [x0, x1, lx] = src(c, w, ow);
      const top = (1 - lx) * x[y0 * w + x0] + lx * x[y0 * w + x1];
      const bot = (1 - lx) * x[y1 * w + x0] + lx * x[y1 * w + x1];
      out[r * ow + c] = (1 - ly) * top + ly * bot;
    }
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe.each(BACKENDS)("official reweighting helpers (%s)", (backend) => {
  it("interpolateBilinear matches PyTorch when down- and upsampling", async () => {
    await tf.setBackend(backend);
    // Downsampling (577 → 24 is the real case) and upsampling, where PyTorch clamps source coordinates < 0.
    const cases: [number, number, number, number][] = [
      [37, 29, 5, 4],
      [577, 577, 24, 24],
      [3, 4, 7, 9],
      [5, 5, 12, 3],
      [1, 2, 3, 5],
    ];
    for (const [h, w, oh, ow] of cases) {
      const x = new Float32Array(h * w).map((_, i) => Math.sin(i * 0.37) + (i % 7) * 0.1);
      const got = tf.tidy(() => interpolateBilinear(tf.tensor4d(x, [1, 1, h, w]), oh, ow).dataSync());
      expect(maxAbsDiff(got, torchBilinear(x, h, w, oh, ow))).toBeLessThan(1e-6);
    }
  });

  it("tf.image.resizeBilinear(halfPixelCenters) on cpu: PyTorch's rule incl. clamping, but exact coordinates", async () => {
    await tf.setBackend(backend);
    if (backend !== "cpu") return;
    for (const [h, w, oh, ow] of [
      [577, 577, 24, 24],
      [3, 4, 7, 9],
      [1, 2, 3, 5],
    ]) {
      const x = new Float32Array(h * w).map((_, i) => Math.sin(i * 0.37) + (i % 7) * 0.1);
      const got = tf.tidy(() => tf.image.resizeBilinear(tf.tensor3d(x, [h, w, 1]), [oh, ow], false, true).dataSync());
      expect(maxAbsDiff(got, torchBilinear(x, h, w, oh, ow, false))).toBeLessThan(1e-6);
    }
  });

  it("edits: uniform is the slice mean, reversed max − A, shuffle a permutation of the slice", async () => {
    await tf.setBackend(backend);
    const a = tf.randomUniform([2, 3, 5, 5], 0, 1, "float32", 3) as tf.Tensor4D;
    const data = a.arraySync();
    for (const type of ["uniform", "reversed", "shuffle", "random"] as const) {
      const e = editAttentionOfficial(a, type, 11).arraySync();
      for (let b = 0; b < 2; b++)
        for (let h = 0; h < 3; h++) {
          const src = data[b][h].flat();
          const got = e[b][h].flat();
          const mean = src.reduce((s, v) => s + v, 0) / src.length;
          const max = Math.max(...src);
          if (type === "uniform") got.forEach((v) => expect(v).toBeCloseTo(mean, 6));
          if (type === "reversed") got.forEach((v, i) => expect(v).toBeCloseTo(max - src[i], 6));
          if (type === "shuffle") expect([...got].sort()).toEqual([...src].sort());
          if (type === "random") got.forEach((v) => expect(v >= 0 && v < 2).toBe(true));
          // One permutation shared by the batch rows, as the released code's randperm(...).expand(batch).
          if (type === "shuffle" && b === 1) {
            const perm = (row: number[], from: number[]) => row.map((v) => from.indexOf(v));
            expect(perm(got, src)).toEqual(perm(e[0][h].flat(), data[0][h].flat()));
          }
        }
    }
    a.dispose();
  });

  it("reweightFeatures scales every feature of a patch and rejects CLS-included features", async () => {
    await tf.setBackend(backend);
    const feats = tf.ones([1, 4, 3]) as tf.Tensor3D;
    const map = tf.tensor2d([[1, 2, 3, 4]]);
    expect(reweightFeatures(feats, map).arraySync()).toEqual([
      [
        [1, 1, 1],
        [2, 2, 2],
        [3, 3, 3],
        [4, 4, 4],
      ],
    ]);
    expect(() => reweightFeatures(tf.ones([1, 5, 3]) as tf.Tensor3D, map)).toThrow(/CLS/);
  });
});

describeFixtures("official reweighting vs fixtures", (dir) => {
  const causal = join(dir, "llava-tiny", "causal");
  const golden = join(dir, "llava-tiny", "golden");
  describe.each(BACKENDS)("%s", (backend) => {
    it.each(["uniform", "reversed"] as const)("%s map and weighted features", async (type) => {
      await tf.setBackend(backend);
      const attn = readNpy(join(golden, "vision_attn_l1.npy"));
      const sel = readNpy(join(golden, "vision_selected_layer.npy"));
      const wantMap = readNpy(join(causal, `official_reweight_${type}.map.npy`));
      const wantW = readNpy(join(causal, `official_reweight_${type}.weighted_features.npy`));
      const [map, weighted] = tf.tidy(() => {
        const A = tf.tensor4d(attn.data as Float32Array, attn.shape as [number, number, number, number]);
        const m = officialReweightMap(A, type, 24);
        const f = tf.slice(tf.tensor3d(sel.data as Float32Array, sel.shape as [number, number, number]), [0, 1, 0], [-1, -1, -1]);
        return [m.dataSync(), reweightFeatures(f as tf.Tensor3D, m).dataSync()];
      });
      expect(maxAbsDiff(map, wantMap.data)).toBeLessThan(1e-5);
      expect(maxAbsDiff(weighted, wantW.data)).toBeLessThan(1e-4);
    });
  });
});
