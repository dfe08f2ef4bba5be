// Properties of the counterfactual attention types and of the intervention hook, on cpu and wasm.
import { afterAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import type { AttentionSite } from "../../src/model/hooks.js";
import {
  counterfactualProbs,
  makeInterventionHook,
  validateIntervention,
  type CfType,
  type Intervention,
} from "../../src/causal/counterfactual.js";
import { stream } from "../../src/util/rng.js";

const BACKENDS = ["cpu", "wasm"] as const;
const TYPES: CfType[] = ["uniform", "reversed", "random", "shuffle"];
type Shape4 = [number, number, number, number];

/** A post-softmax attention array [B,H,Tq,Tk] with exact zeros on causally masked keys. */
function probsData(shape: Shape4, offset: number | null, seed = 1): Float32Array {
  const [b, h, tq, tk] = shape;
  const rng = stream(seed, "test-probs");
  const out = new Float32Array(b * h * tq * tk);
  for (let r = 0; r < b * h * tq; r++) {
    const q = r % tq;
    const n = offset === null ? tk : Math.min(tk, q + offset + 1);
    const e = Array.from({ length: n }, () => Math.exp(4 * rng.uniform()));
    const s = e.reduce((a, v) => a + v, 0);
    for (let j = 0; j < n; j++) out[r * tk + j] = e[j] / s;
  }
  return out;
}

const textSite = (layer: number, offset: number): AttentionSite => ({ module: "text", layer, numLayers: 4, causalOffset: offset });
const visionSite = (layer: number): AttentionSite => ({ module: "vision", layer, numLayers: 3, causalOffset: null });

function run(P: Float32Array, shape: Shape4, site: AttentionSite, iv: Intervention): Float32Array {
  return tf.tidy(() => counterfactualProbs(tf.tensor4d(P, shape), site, iv).dataSync() as Float32Array);
}

function rowOf(x: Float32Array, shape: Shape4, b: number, h: number, q: number): Float32Array {
  const [, hh, tq, tk] = shape;
  const base = ((b * hh + h) * tq + q) * tk;
  return x.slice(base, base + tk);
}

describe.each(BACKENDS)("counterfactual attention (%s)", (backend) => {
  const cases: [string, AttentionSite, Shape4][] = [
    ["text prefill", textSite(1, 0), [2, 3, 6, 6]],
    ["text with cache", textSite(1, 4), [2, 3, 5, 9]],
    ["vision", visionSite(2), [2, 3, 7, 7]],
  ];

  it.each(TYPES)("%s: rows sum to 1 on allowed keys, 0 on masked keys", async (type) => {
    await tf.setBackend(backend);
    for (const [, site, shape] of cases) {
      const P = probsData(shape, site.causalOffset);
      const before = tf.memory().numTensors;
      const out = run(P, shape, site, { module: site.module, layers: [site.layer], type, seed: 5 });
      expect(tf.memory().numTensors).toBe(before);
      const [b, h, tq, tk] = shape;
      for (let bi = 0; bi < b; bi++)
        for (let hi = 0; hi < h; hi++)
          for (let q = 0; q < tq; q++) {
            const row = rowOf(out, shape, bi, hi, q);
            const n = site.causalOffset === null ? tk : q + site.causalOffset + 1;
            let s = 0;
            for (let j = 0; j < tk; j++) {
              if (j < n) s += row[j];
              else expect(row[j]).toBe(0);
              expect(row[j]).toBeGreaterThanOrEqual(0);
            }
            expect(Math.abs(s - 1)).toBeLessThan(2e-6);
            if (type === "uniform") row.slice(0, n).forEach((v) => expect(v).toBe(Math.fround(1 / n)));
            if (type === "shuffle") {
              const orig = rowOf(P, shape, bi, hi, q).slice(0, n);
              expect([...row.slice(0, n)].sort()).toEqual([...orig].sort());
            }
            if (type === "reversed") {
              const orig = rowOf(P, shape, bi, hi, q).slice(0, n);
              const mx = Math.max(...orig);
              const r = [...orig].map((v) => mx - v);
              const rs = r.reduce((a, v) => a + v, 0);
              r.forEach((v, j) => expect(row[j]).toBeCloseTo(rs > 0 ? v / rs : 1 / n, 6));
            }
          }
    }
  });

  it("reversed falls back to uniform where Σr = 0 (a single allowed key)", async () => {
    await tf.setBackend(backend);
    const shape: Shape4 = [1, 1, 3, 3];
    const out = run(probsData(shape, 0), shape, textSite(0, 0), { module: "text", layers: [0], type: "reversed" });
    expect(Array.from(out.slice(0, 3))).toEqual([1, 0, 0]);
  });

  it("random and shuffle change with the seed", async () => {
    await tf.setBackend(backend);
    const shape: Shape4 = [1, 2, 4, 8];
    const P = probsData(shape, 4);
    for (const type of ["random", "shuffle"] as const) {
      const a = run(P, shape, textSite(0, 4), { module: "text", layers: [0], type, seed: 1 });
      const b = run(P, shape, textSite(0, 4), { module: "text", layers: [0], type, seed: 2 });
      expect(a).not.toEqual(b);
    }
  });

  it("unselected heads and batch rows are bit-identical to P", async () => {
    await tf.setBackend(backend);
    const shape: Shape4 = [3, 4, 5, 9];
    const site = textSite(2, 4);
    const P = probsData(shape, 4);
    for (const type of TYPES) {
      const hook = makeInterventionHook([{ module: "text", layers: [2], heads: [3, 1], type, seed: 9 }], { rows: [1] });
      const out = tf.tidy(() => hook(tf.tensor4d(P, shape), site)!.dataSync() as Float32Array);
      for (let b = 0; b < 3; b++)
        for (let h = 0; h < 4; h++)
          for (let q = 0; q < 5; q++) {
            const same = rowOf(out, shape, b, h, q).every((v, j) => Object.is(v, rowOf(P, shape, b, h, q)[j]));
            expect(same).toBe(!(b === 1 && (h === 1 || h === 3)));
          }
    }
  });

  it("hook on some batch rows = counterfactualProbs on those rows, other rows untouched (every head, chained)", async () => {
    await tf.setBackend(backend);
    for (const [site, shape] of [
      [textSite(1, 4), [3, 4, 5, 9]],
      [textSite(1, 8), [3, 4, 1, 9]],
      [visionSite(1), [3, 4, 6, 6]],
    ] as const) {
      const P = probsData([...shape], site.causalOffset);
      for (const chain of [
        ["uniform"],
        ["random"],
        ["reversed", "uniform"],
        ["shuffle", "random"],
        ["uniform", "reversed"],
      ] as CfType[][]) {
        const ivs: Intervention[] = chain.map((type) => ({ module: site.module, layers: [1], type, seed: 4 }));
        const got = tf.tidy(
          () => makeInterventionHook(ivs, { rows: [2, 0] })(tf.tensor4d(P, [...shape]), site)!.dataSync() as Float32Array,
        );
        const want = tf.tidy(() => {
          const all = tf.tensor4d(P, [...shape]);
          let sub = tf.gather(all, [0, 2], 0) as tf.Tensor4D;
          for (const iv of ivs) sub = counterfactualProbs(sub, site, iv);
          const [r0, r2] = tf.split(sub, 2, 0);
          return tf.concat([r0, tf.slice(all, [1, 0, 0, 0], [1, -1, -1, -1]), r2], 0).dataSync() as Float32Array;
        });
        expect(Array.from(got), `${site.module} ${chain.join("+")}`).toEqual(Array.from(want));
      }
    }
  });

  it("a text row at absolute position p gets the same random/shuffle CF in a prefill and a decode step", async () => {
    await tf.setBackend(backend);
    const T = 7;
    const prefillShape: Shape4 = [1, 2, T, T];
    const P = probsData(prefillShape, 0);
    for (const type of ["random", "shuffle"] as const) {
      const iv: Intervention = { module: "text", layers: [0], type, seed: 3 };
      const prefill = run(P, prefillShape, textSite(0, 0), iv);
      for (let p = 0; p < T; p++) {
        // The decode step for position p: one query row, p cached keys + itself.
        const stepShape: Shape4 = [1, 2, 1, p + 1];
        const stepP = new Float32Array(2 * (p + 1));
        for (let h = 0; h < 2; h++) stepP.set(rowOf(P, prefillShape, 0, h, p).slice(0, p + 1), h * (p + 1));
        const step = run(stepP, stepShape, textSite(0, p), iv);
        for (let h = 0; h < 2; h++) {
          expect(Array.from(step.slice(h * (p + 1), (h + 1) * (p + 1)))).toEqual(
            Array.from(rowOf(prefill, prefillShape, 0, h, p).slice(0, p + 1)),
          );
        }
      }
    }
  });

  it("batch rows get the same random counterfactual (seeded by position, not batch index)", async () => {
    await tf.setBackend(backend);
    const shape: Shape4 = [2, 1, 3, 5];
    const out = run(probsData(shape, 2), shape, textSite(0, 2), { module: "text", layers: [0], type: "random" });
    expect(Array.from(out.slice(0, 15))).toEqual(Array.from(out.slice(15)));
  });

  it("given: uses the tensor on the selected heads and checks its shape", async () => {
    await tf.setBackend(backend);
    const shape: Shape4 = [1, 3, 2, 2];
    const P = probsData(shape, null);
    const g = tf.tensor3d([0.5, 0.5, 0.25, 0.75], [1, 2, 2]);
    const out = run(P, shape, visionSite(0), { module: "vision", layers: [0], heads: [2], type: "given", given: g });
    expect(Array.from(out.slice(8))).toEqual([0.5, 0.5, 0.25, 0.75]);
    expect(Array.from(out.slice(0, 8))).toEqual(Array.from(P.slice(0, 8)));
    const bad: Intervention = { module: "vision", layers: [0], type: "given", given: () => tf.zeros([2, 2]) };
    expect(() => run(P, shape, visionSite(0), bad)).toThrow(/expected \[1 or 1, 3, 2, 2\]/);
    g.dispose();
  });

  it("the hook only touches matching module and layer and applies matches in order", async () => {
    await tf.setBackend(backend);
    const hook = makeInterventionHook([
      { module: "text", layers: [1], type: "random", seed: 4 },
      { module: "text", layers: [1], type: "uniform" },
    ]);
    const shape: Shape4 = [1, 2, 3, 3];
    const P = tf.tensor4d(probsData(shape, 0), shape);
    expect(hook(P, textSite(0, 0))).toBeUndefined();
    expect(hook(P, { ...visionSite(1) })).toBeUndefined();
    const out = tf.tidy(() => hook(P, textSite(1, 0))!.dataSync());
    expect(Array.from(out.slice(3, 6))).toEqual([0.5, 0.5, 0].map(Math.fround));
    expect(() => makeInterventionHook([{ module: "text", layers: [1], type: "uniform" }], { rows: [4] })(P, textSite(1, 0))).toThrow(
      /batch row 4 out of range \(valid: 0,/,
    );
    P.dispose();
  });
});

describe("counterfactuals across backends", () => {
  afterAll(() => tf.setBackend("cpu"));
  it("same seed: random and shuffle bit-identical on cpu and wasm, uniform/reversed within 1e-7", async () => {
    const cases: [AttentionSite, Shape4][] = [
      [textSite(1, 4), [2, 3, 5, 9]],
      [visionSite(2), [1, 2, 7, 7]],
    ];
    for (const type of TYPES) {
      for (const [site, shape] of cases) {
        const P = probsData(shape, site.causalOffset, 7);
        const iv: Intervention = { module: site.module, layers: [site.layer], type, seed: 12 };
        const out: Float32Array[] = [];
        for (const backend of BACKENDS) {
          await tf.setBackend(backend);
          out.push(run(P, shape, site, iv));
        }
        if (type === "random" || type === "shuffle") expect(Array.from(out[1])).toEqual(Array.from(out[0]));
        else out[0].forEach((v, i) => expect(Math.abs(v - out[1][i])).toBeLessThan(1e-7));
      }
    }
  });
});

describe("validateIntervention", () => {
  const dims = { visionLayers: 3, textLayers: 2, visionHeads: 4, textHeads: 8 };
  const ok: Intervention = { module: "text", layers: [0, 1], heads: [0, 7], type: "reversed" };
  it("accepts a valid intervention", () => expect(() => validateIntervention(ok, dims)).not.toThrow());
  it.each([
    [{ ...ok, layers: [2] }, /text layer 2 out of range \(valid: 0–1, 2 in total\)/],
    [{ ...ok, module: "vision", layers: [3] }, /vision layer 3 out of range \(valid: 0–2/],
    [{ ...ok, heads: [8] }, /text head 8 out of range \(valid: 0–7/],
    [{ ...ok, layers: [] }, /non-empty list of indices \(valid: 0–1\)/],
    [{ ...ok, type: "mean" as CfType }, /unknown counterfactual type 'mean' \(valid: uniform, reversed, random, shuffle, given\)/],
    [{ ...ok, module: "audio" as "text" }, /unknown module 'audio' \(valid: vision, text\)/],
    [{ ...ok, type: "given" as CfType }, /needs the `given`/],
    [{ ...ok, seed: 1.5 }, /seed must be a safe integer/],
  ])("rejects %o", (iv, msg) => expect(() => validateIntervention(iv as Intervention, dims)).toThrow(msg));
});
