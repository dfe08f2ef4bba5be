// The recorder against the HF goldens (vision layer 1, text layer 0), its per-step rows against one
// full forward over prompt + answer, composition with a counterfactual hook, and the on-disk formats.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeFixtures } from "../helpers/fixtures.js";
import { golden, maxAbsDiff, rows } from "../helpers/compare.js";
import { initBackend } from "../../src/backend.js";
import { loadModel } from "../../src/model/load.js";
import type { LlavaModel } from "../../src/model/llava.js";
import { AttentionRecorder, type AttentionRecord } from "../../src/introspect/recorder.js";
import { RecordingSource, type Recording } from "../../src/introspect/session.js";
import { loadRecording, saveRecording } from "../../src/introspect/store.js";
import { makeInterventionHook } from "../../src/causal/counterfactual.js";

const TOL = 1e-5;
const tick = () => new Promise((r) => setImmediate(r));

function idsOf(g: ReturnType<typeof golden>): number[] {
  return Array.from(g.data.slice(0, g.shape[g.shape.length - 1]));
}

function pixelsOf(gdir: string): tf.Tensor4D {
  const pv = golden(gdir, "pixel_values");
  return tf.tensor4d(pv.data as Float32Array, pv.shape as [number, number, number, number]);
}

function find(recs: AttentionRecord[], name: string): AttentionRecord {
  const r = recs.find((x) => x.name === name);
  if (!r) throw new Error(`no record ${name} (have ${recs.map((x) => x.name).join(", ")})`);
  return r;
}

describeFixtures("attention recorder", (fixtures) => {
  for (const name of ["llava-tiny", "llava-tiny-56"]) {
    describe(name, () => {
      const gdir = join(fixtures, name, "golden");
      let model: LlavaModel;
      let pixels: tf.Tensor4D;
      beforeAll(async () => {
        await initBackend("cpu");
        model = await loadModel(join(fixtures, name, "model-f32"));
        pixels = pixelsOf(gdir);
      });
      afterAll(() => {
        model?.dispose();
        pixels?.dispose();
      });

      test("full prefill / per-patch records equal vision_attn_l1 and text_attn_l0", async () => {
        const rec = new AttentionRecorder({ vision: { layers: [1], patches: true }, text: { layers: [0], prefill: "all" } });
        // CLIP and the LLM as two chunks of synchronous work (the recorder hook on both), a tick between
        const features = tf.tidy(() => model.encodeImages(pixels, { hook: rec.hook }).features);
        await tick();
        tf.tidy(() => void model.decode(model.embed([idsOf(golden(gdir, "input_ids"))], features), { hook: rec.hook, logits: "none" }));
        features.dispose();
        await tick();
        const va = golden(gdir, "vision_attn_l1");
        const full = find(rec.records, "vision.l1.full");
        expect(full.shape).toEqual(va.shape.slice(1));
        expect(maxAbsDiff(full.data, va.data)).toBeLessThanOrEqual(TOL);
        // the CLS record is row 0 of every head
        const [H, T] = full.shape;
        const cls = find(rec.records, "vision.l1.cls");
        const clsRef = new Float32Array(H * T);
        for (let h = 0; h < H; h++) clsRef.set(rows(va.data, T, h * T, 1), h * T);
        expect(maxAbsDiff(cls.data, clsRef)).toBeLessThanOrEqual(TOL);
        const ta = golden(gdir, "text_attn_l0");
        const text = find(rec.records, "text.l0.prefill");
        expect(text.shape).toEqual(ta.shape.slice(1));
        expect(maxAbsDiff(text.data, ta.data)).toBeLessThanOrEqual(TOL);
      });

      test("default prefill record is the last row; chosen heads only", () => {
        const rec = new AttentionRecorder({ text: { layers: [0], heads: [1, 3] } });
        const src = new RecordingSource(model, [idsOf(golden(gdir, "input_ids"))], pixels, rec);
        src.prefill();
        src.dispose();
        const ta = golden(gdir, "text_attn_l0");
        const [, H, T] = ta.shape;
        const r = find(rec.records, "text.l0.s0");
        expect(r.shape).toEqual([2, 1, T]);
        expect(r.heads).toEqual([1, 3]);
        const ref = new Float32Array(2 * T);
        [1, 3].forEach((h, k) => ref.set(rows(ta.data, T, h * T + T - 1, 1), k * T));
        expect(maxAbsDiff(r.data, ref)).toBeLessThanOrEqual(TOL);
        expect(H).toBe(4);
      });

      const small = name === "llava-tiny-56"; // model-independent checks: on the fast model only

      test.runIf(small)("decode-step rows equal the rows of one forward over prompt + answer", async () => {
        const ids = idsOf(golden(gdir, "input_ids"));
        const answer = Array.from(golden(gdir, "generated_ids").data).slice(-10).map(Number).slice(0, 5);
        const stepRec = new AttentionRecorder({ text: { layers: [0, 1] } });
        const src = new RecordingSource(model, [ids], pixels, stepRec);
        src.prefill();
        for (const t of answer.slice(0, -1)) {
          await tick();
          src.step([t]);
        }
        src.dispose();
        await tick();
        const fullRec = new AttentionRecorder({ text: { layers: [0, 1], prefill: "all" } });
        const src2 = new RecordingSource(model, [[...ids, ...answer.slice(0, -1)]], pixels, fullRec);
        src2.prefill();
        src2.dispose();
        const P0 = stepRec.prefillLength!;
        for (const layer of [0, 1]) {
          const full = find(fullRec.records, `text.l${layer}.prefill`);
          const [H, T] = full.shape;
          for (let s = 0; s < answer.length; s++) {
            const r = find(stepRec.records, `text.l${layer}.s${s}`);
            const q = P0 - 1 + s;
            expect(r.queryStart).toBe(q);
            const ref = new Float32Array(H * (q + 1));
            for (let h = 0; h < H; h++) ref.set(rows(full.data, T, h * T + q, 1).subarray(0, q + 1), h * (q + 1));
            expect(maxAbsDiff(r.data, ref), `layer ${layer} step ${s}`).toBeLessThanOrEqual(TOL);
          }
        }
      });

      test.runIf(small)("taps keep the last row of the text projections per step", () => {
        const rec = new AttentionRecorder({ text: { layers: [1] }, taps: ["q", "v"] });
        const src = new RecordingSource(model, [idsOf(golden(gdir, "input_ids"))], pixels, rec);
        src.prefill();
        src.step([5]);
        src.dispose();
        expect(
          rec.records
            .filter((r) => r.kind === "tap")
            .map((r) => r.name)
            .sort(),
        ).toEqual(["text.l1.q.s0", "text.l1.q.s1", "text.l1.v.s0", "text.l1.v.s1"]);
        expect(find(rec.records, "text.l1.q.s1").shape).toEqual([1, model.config.text.hiddenSize]);
      });

      test.runIf(small)("after(intervention) records the post-intervention attention", () => {
        const rec = new AttentionRecorder({ text: { layers: [0] } });
        const hook = makeInterventionHook([{ module: "text", layers: [0], type: "uniform" }]);
        const src = new RecordingSource(model, [idsOf(golden(gdir, "input_ids"))], pixels, rec, hook);
        src.prefill();
        src.dispose();
        const r = find(rec.records, "text.l0.s0");
        const T = r.shape[2];
        expect(maxAbsDiff(r.data, new Float32Array(r.data.length).fill(1 / T))).toBeLessThanOrEqual(1e-6);
      });
    });
  }

  test("npy and safetensors stores round-trip", async () => {
    const records: AttentionRecord[] = [
      {
        name: "text.l0.s0",
        module: "text",
        layer: 0,
        kind: "prefill",
        step: 0,
        heads: [0, 1],
        shape: [2, 1, 5],
        queryStart: 4,
        data: Float32Array.from({ length: 10 }, (_, i) => i / 10),
      },
      {
        name: "vision.l1.cls",
        module: "vision",
        layer: 1,
        kind: "cls",
        step: -1,
        heads: [0],
        shape: [1, 1, 5],
        queryStart: 0,
        data: Float32Array.from([0.2, 0.2, 0.2, 0.2, 0.2]),
      },
    ];
    const meta = {
      format: "causalmm-attention-record/1",
      model: "m",
      question: "q",
      template: "llava_v1",
      suffix: "",
      mode: "crop",
      promptIds: [1, 32000, 5],
      positionLabels: ["<s>", "<patch 0,0>", "<patch 0,1>", "<patch 1,0>", "<patch 1,1>", "x"].slice(0, 5),
      segments: [
        { name: "system", start: 0, end: 1 },
        { name: "image", start: 1, end: 5 },
      ],
      grid: 2,
      answer: { ids: [7], tokens: [" Yes"], text: "Yes" },
      dims: { visionLayers: 3, visionHeads: 4, textLayers: 2, textHeads: 4 },
      selection: {},
      interventions: [],
    } as Recording["meta"];
    const image = { width: 4, height: 4, data: Uint8Array.from({ length: 48 }, (_, i) => i * 5) };
    for (const format of ["npy", "safetensors"] as const) {
      const dir = mkdtempSync(join(tmpdir(), "causalmm-rec-"));
      try {
        const index = await saveRecording(dir, { meta, records, image }, format);
        expect(index.records[0].token).toEqual({ id: 7, text: " Yes" });
        expect(index.bytes).toBe(60);
        const back = await loadRecording(dir);
        expect(back.records.map((r) => Array.from(r.data))).toEqual(records.map((r) => Array.from(r.data)));
        expect(back.records[1].shape).toEqual([1, 1, 5]);
        expect(Array.from(back.image.data)).toEqual(Array.from(image.data));
        expect(back.meta.answer.text).toBe("Yes");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});
