// The memory plan of residency `native` against measurement, on a model with LLaVA-1.5-7B's widths
// (one decoder layer, one CLIP layer, the full 32064-token vocabulary; no files), at a small (112 px: 81
// prompt positions) and a medium (224 px: 273) image: the run happens in a child process
// (benchmarks/residency.ts) so its wasm heap and VmHWM are its own. The plan's backend peak must be within
// 15 % of the highest heap address a tensor allocation reached, and not 15 % above the wasm heap's size (which
// emscripten grows to max(request, 1.2 × size), so it overshoots the need by up to 20 %); its process peak
// within 15 % of VmHWM. (tf.memory()'s byte count is not compared: it counts reshaped views of one buffer
// once per view.) CausalMM `--cf both` (three batch rows, their KV caches and the edited image's CLIP pass) is
// held to the same bounds.
import { describe, expect, test } from "vitest";
import { execFileSync } from "node:child_process";
import { join } from "node:path";

interface Result {
  policy: string;
  rows: number;
  plan: { backendPeak: number; processPeak: number; host: number };
  measured: { wasmHeap: number; wasmHeapTop: number; vmHwm: number };
}

function run(policy: string, image: number, cf?: string): Result {
  const args = [
    "--backend",
    "wasm",
    "--policy",
    policy,
    "--text-layers",
    "1",
    "--vision-layers",
    // CausalMM's vision branch edits the layer LLaVA selects (−2), so it needs a second CLIP layer
    cf ? "2" : "1",
    "--image",
    String(image),
    "--new",
    "2",
    "--json",
    ...(cf ? ["--cf", cf] : []),
  ];
  const out = execFileSync(process.execPath, [join(process.cwd(), "dist/benchmarks/residency.js"), ...args], {
    encoding: "utf8",
    timeout: 300_000,
  });
  return JSON.parse(out.trim().split("\n").pop()!) as Result;
}

const within = (plan: number, measured: number) => Math.abs(plan - measured) / measured;

describe("memory plan of residency native at 7B widths (wasm)", () => {
  for (const [image, cf] of [[112], [224], [112, "both"]] as [number, string?][]) {
    test(`${image} px${cf ? ` --cf ${cf}` : ""}: backend and process peaks within 15 % of the measured heap and VmHWM`, () => {
      const r = run("native", image, cf);
      expect(r.policy).toBe("native");
      expect(r.rows).toBe(cf ? 3 : 1);
      // the 16-bit weights are on the host, not in the heap: 1 layer + embeddings + lm_head ≈ 0.93 GiB of F16
      expect(r.plan.host).toBeGreaterThan(0.9 * 1024 ** 3);
      expect(r.measured.wasmHeap).toBeLessThan(r.plan.host);
      const heap = `plan ${r.plan.backendPeak}, highest allocation ${r.measured.wasmHeapTop}, heap ${r.measured.wasmHeap}`;
      expect(within(r.plan.backendPeak, r.measured.wasmHeapTop), heap).toBeLessThan(0.15);
      expect(r.plan.backendPeak, heap).toBeLessThanOrEqual(1.15 * r.measured.wasmHeap);
      const process = `plan ${r.plan.processPeak}, measured ${r.measured.vmHwm}`;
      expect(within(r.plan.processPeak, r.measured.vmHwm), process).toBeLessThan(0.15);
    }, 300_000);
  }
});
