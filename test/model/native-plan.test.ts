// The memory plan of residency `native` against measurement, on a model with LLaVA-1.5-7B's widths
// (one decoder layer, one CLIP layer at 224 px, the full 32064-token vocabulary; no files): the run
// happens in a child process (benchmarks/residency.ts) so its wasm heap and VmHWM are its own. The plan's
// backend peak must be within 15 % of the measured wasm heap, its process peak within 15 % of VmHWM.
// (tf.memory()'s byte count is not compared: it counts reshaped views of one buffer once per view.)
import { describe, expect, test } from "vitest";
import { execFileSync } from "node:child_process";
import { join } from "node:path";

interface Result {
  policy: string;
  plan: { backendPeak: number; processPeak: number; host: number };
  measured: { wasmHeap: number; vmHwm: number };
}

function run(policy: string): Result {
  const args = [
    "--backend",
    "wasm",
    "--policy",
    policy,
    "--text-layers",
    "1",
    "--vision-layers",
    "1",
    "--image",
    "224",
    "--new",
    "2",
    "--json",
  ];
  const out = execFileSync(process.execPath, [join(process.cwd(), "dist/benchmarks/residency.js"), ...args], {
    encoding: "utf8",
    timeout: 300_000,
  });
  return JSON.parse(out.trim().split("\n").pop()!) as Result;
}

const within = (plan: number, measured: number) => Math.abs(plan - measured) / measured;

describe("memory plan of residency native at 7B widths (wasm)", () => {
  test("backend and process peaks within 15 % of the measured heap and VmHWM", () => {
    const r = run("native");
    expect(r.policy).toBe("native");
    // the 16-bit weights are on the host, not in the heap: 1 layer + embeddings + lm_head ≈ 0.93 GiB of F16
    expect(r.plan.host).toBeGreaterThan(0.9 * 1024 ** 3);
    expect(r.measured.wasmHeap).toBeLessThan(r.plan.host);
    expect(
      within(r.plan.backendPeak, r.measured.wasmHeap),
      `heap: plan ${r.plan.backendPeak}, measured ${r.measured.wasmHeap}`,
    ).toBeLessThan(0.15);
    expect(within(r.plan.processPeak, r.measured.vmHwm), `process: plan ${r.plan.processPeak}, measured ${r.measured.vmHwm}`).toBeLessThan(
      0.15,
    );
  }, 300_000);
});
