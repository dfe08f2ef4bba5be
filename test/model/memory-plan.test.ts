// The memory plan on a LLaVA-1.5-7B-shaped directory (real headers, sparse data): figures from the
// headers, the policy auto picks per backend, and a plan that cannot fit refused in well under a
// second with its numbers and what would fit — before any tensor is read.
import { nativeAvailable } from "../../src/model/kernels/native.js";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "../../src/backend.js";
import { loadModel, planModel } from "../../src/model/load.js";
import { loadLlava } from "../../src/api.js";
import { Checkpoint } from "../../src/weights/checkpoint.js";
import { formatPlan } from "../../src/model/plan-text.js";
import type { MachineMemory } from "../../src/model/machine.js";
import { parseBytes } from "../../src/cli/residency.js";
import { writeSparse7b } from "../helpers/llava7b.js";

const GiB = 1024 ** 3;
const laptop: MachineMemory = { totalBytes: 24 * GiB, availableBytes: 22 * GiB, processBytes: 0.2 * GiB, source: "test: 24 GiB laptop" };
const workstation: MachineMemory = {
  totalBytes: 64 * GiB,
  availableBytes: 60 * GiB,
  processBytes: 0.2 * GiB,
  source: "test: 64 GiB workstation",
};

describe("memory plan (LLaVA-1.5-7B layout, sparse files)", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "causalmm-7b-"));
    writeSparse7b(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("weights by dtype come from the headers: 7.06 B parameters, 14.1 GB of F16", async () => {
    await initBackend("cpu");
    const { plan } = planModel(dir, { policy: "all" }, workstation);
    expect(plan.fileBytes.F16 / 1e9).toBeCloseTo(14.13, 1);
    expect(plan.residentBytes / 1e9).toBeCloseTo(28.3, 0); // float32, no packed copies on cpu
  });

  test("auto: wasm streams the 7B through its heap; cpu keeps what fits 24 GiB; all on 64 GiB", async () => {
    await initBackend("wasm");
    // one image + a short question (≈ 620 positions) and a short answer: what `ask --one-word` runs
    const wasm = planModel(dir, { workload: { promptTokens: 620, maxNewTokens: 8 } }, laptop).plan;
    // with the native GEMM addon every linear weight stays 16-bit on the host (native); without it every
    // decoder layer streams and what is left of the heap keeps a few CLIP layers (budget) or nothing
    expect(nativeAvailable() ? ["native"] : ["budget", "stream"]).toContain(wasm.policy);
    expect([...wasm.residency.resident].filter((u) => u.startsWith("text."))).toEqual([]);
    expect(wasm.problems).toEqual([]);
    expect(wasm.backendPeakBytes).toBeLessThan(4 * GiB * 0.9);
    expect(wasm.processPeakBytes).toBeLessThan(18 * GiB);
    expect(wasm.hostBytes / 1e9).toBeGreaterThan(13.5);
    await initBackend("cpu");
    const cpu = planModel(dir, { workload: { maxNewTokens: 8 } }, laptop).plan;
    expect(cpu.policy).toBe(nativeAvailable() ? "native" : "budget");
    expect(cpu.problems).toEqual([]);
    expect(cpu.units.resident).toBeGreaterThan(3);
    expect(cpu.processPeakBytes).toBeLessThanOrEqual(laptop.availableBytes + laptop.processBytes);
    expect(planModel(dir, {}, workstation).plan.policy).toBe("all");
  });

  test("the budget policy keeps decoder layers first, within the bytes asked for", async () => {
    await initBackend("cpu");
    const p = planModel(dir, { policy: "budget", residentBytes: parseBytes("3GiB") }, laptop).plan;
    expect(p.residentBytes).toBeLessThanOrEqual(3 * GiB);
    // first fit in priority order: three decoder layers (0.75 GiB each), then smaller units that still fit
    const kept = [...p.residency.resident];
    expect(kept.slice(0, 3)).toEqual(["text.0", "text.1", "text.2"]);
    expect(kept).not.toContain("text.3");
    expect(formatPlan(p)).toMatch(/policy budget on cpu/);
  });

  test("CausalMM branches multiply the KV cache", async () => {
    await initBackend("cpu");
    const one = planModel(dir, { policy: "stream" }, laptop).plan;
    const three = planModel(dir, { policy: "stream", workload: { rows: 3 } }, laptop).plan;
    expect(three.kvBytes).toBe(3 * one.kvBytes);
    // the counterfactual rows' lm_head products read the kept tokens' rows in place from the host copy
    expect(three.hostBytes).toBe(one.hostBytes);
  });

  test("an impossible plan is refused in under a second, before any tensor is read, with what would fit", async () => {
    await initBackend("wasm");
    const reads = [vi.spyOn(Checkpoint.prototype, "readFloat32"), vi.spyOn(Checkpoint.prototype, "readRaw")];
    try {
      const t0 = performance.now();
      await expect(
        loadModel(dir, { residency: { policy: "all", workload: { promptTokens: 620, maxNewTokens: 8 } }, machine: laptop }),
      ).rejects.toThrow(
        new RegExp(
          /does not fit: the wasm backend can hold 3\.60 GiB of tensors, the plan needs 5\d\.\d\d GiB[\s\S]*peak backend memory/.source +
            /[\s\S]*would fit: (--residency budget --resident \d+MiB|--residency stream)/.source,
        ),
      );
      await expect(loadModel(dir, { residency: { policy: "stream", workload: { rows: 2 } }, machine: laptop })).rejects.toThrow(
        /would fit: --backend cpu/,
      );
      expect(performance.now() - t0).toBeLessThan(1000);
      for (const r of reads) expect(r).not.toHaveBeenCalled();
    } finally {
      reads.forEach((r) => r.mockRestore());
    }
  });

  test("loadLlava refuses an impossible plan before it loads the tokenizer (this directory has none)", async () => {
    await expect(loadLlava(dir, { backend: "wasm", residency: { policy: "all" }, machine: laptop })).rejects.toThrow(
      /does not fit: the wasm backend/,
    );
    // the same directory with a plan that fits gets as far as the tokenizer, which is missing
    await expect(loadLlava(dir, { backend: "wasm", residency: { policy: "stream" }, machine: laptop })).rejects.toThrow(/tokenizer/i);
  });

  test("the native plan names what stays 16-bit on the host and what goes into the heap", async () => {
    await initBackend("wasm");
    const { plan, ctx } = planModel(dir, { policy: "native", workload: { promptTokens: 600, maxNewTokens: 16 } }, laptop);
    const text = formatPlan(plan);
    // the host copies: every linear weight, lm_head and the embedding table, in the file's dtype (14.1 GB of F16 less norms)
    expect(plan.hostBytes / 1e9).toBeCloseTo(14.1, 1);
    expect(text).toMatch(
      /host copies \(file dtype\)\s+13\.\d\d GiB\s+every linear weight, lm_head and the embedding table, F16 on the host/,
    );
    expect(text).toContain(ctx.native ? "read in place by the native GEMM" : "widened to float32 per product (native addon not loaded)");
    // the heap: norms, biases and the embeddings of CLIP's patches and positions (a few MiB), nothing streams
    expect(plan.residentBytes).toBeLessThan(32 * 1024 ** 2);
    expect(text).toMatch(
      /in the wasm backend\s+\d+\.\d MiB\s+float32 norms, biases, patch and position embeddings, with XNNPACK's packed copies; nothing streams/,
    );
    expect(text).not.toContain("largest streamed unit");
    // CausalMM's rows read a host lm_head in place; only a resident one keeps a float32 copy in JS memory
    const causal = (policy: "native" | "all") => formatPlan(planModel(dir, { policy, workload: { rows: 3 } }, workstation).plan);
    expect(causal("native")).not.toContain("lm_head rows for CausalMM");
    expect(causal("all")).toContain("+ 501.0 MiB float32 lm_head rows for CausalMM's scores");
  });

  test("sizes parse as people write them", () => {
    expect(parseBytes("3GiB")).toBe(3 * GiB);
    expect(parseBytes("512 MiB")).toBe(512 * 1024 ** 2);
    expect(parseBytes("2.5G")).toBe(2.5e9);
    expect(() => parseBytes("lots")).toThrow(/expected a size/);
  });
});
