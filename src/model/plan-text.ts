// The memory plan as text: `causalmm plan` prints it, and a refused load says the same numbers and
// which policy (or backend) would fit instead.
import { choosePlan, gib, type MemoryPlan, type PlanContext, type PlanRequest } from "./memory-plan.js";
import type { ResidencyPolicy } from "./residency.js";

function row(label: string, value: string, note = ""): string {
  return `  ${label.padEnd(30)} ${value.padStart(11)}${note ? `  ${note}` : ""}`;
}

export function formatPlan(p: MemoryPlan): string {
  const w = p.workload;
  const files = Object.entries(p.fileBytes)
    .map(([d, b]) => `${gib(b)} ${d}`)
    .join(" + ");
  const lines = [
    `memory plan: policy ${p.policy} on ${p.backend} (${p.units.resident} units resident, ${p.units.streamed} streamed)`,
    `  workload: ${w.promptTokens} prompt positions + ${w.maxNewTokens} new tokens, ${w.rows} batch row(s), ${w.images} image(s)`,
    row("weights in the checkpoint", gib(Object.values(p.fileBytes).reduce((a, b) => a + b, 0)), files),
    ...weightRows(p),
    row("KV cache", gib(p.kvBytes), `${w.rows} row(s) × ${w.promptTokens + w.maxNewTokens} positions`),
    row("activations", gib(p.activationBytes), "largest layer of CLIP or the prompt"),
    row("peak tensor memory", gib(p.tensorPeakBytes), "tf.memory()"),
    row(
      "peak backend memory",
      gib(p.backendPeakBytes),
      p.backendLimitBytes === null ? "no backend limit" : `limit ${gib(p.backendLimitBytes)}`,
    ),
    row(
      "peak process memory",
      gib(p.processPeakBytes),
      `machine: ${gib(p.machine.availableBytes + p.machine.processBytes)} available of ${gib(p.machine.totalBytes)} (${p.machine.source})`,
    ),
  ];
  lines.push(p.problems.length ? `  DOES NOT FIT: ${p.problems.join("; ")}` : "  fits");
  return lines.join("\n");
}

/** The weights' rows: where each part of the checkpoint lives under the plan's policy. */
function weightRows(p: MemoryPlan): string[] {
  const dtypes = Object.keys(p.fileBytes).join("/");
  const packed = p.backend === "wasm" ? ", with XNNPACK's packed copies" : "";
  const lmRows = p.lmHeadCopyBytes ? `; + ${gib(p.lmHeadCopyBytes)} float32 lm_head rows for CausalMM's scores` : "";
  if (p.policy === "native") {
    const gemm = p.nativeGemm ? "read in place by the native GEMM" : "widened to float32 per product (native addon not loaded)";
    return [
      row(
        "host copies (file dtype)",
        gib(p.hostBytes),
        `every linear weight, lm_head and the embedding table, ${dtypes} on the host, ${gemm}${lmRows}`,
      ),
      row(
        `in the ${p.backend} backend`,
        gib(p.residentBytes),
        `float32 norms, biases, patch and position embeddings${packed}; nothing streams`,
      ),
    ];
  }
  return [
    row("host copies (file dtype)", gib(p.hostBytes), `streamed units, kept ${dtypes} outside the backend${lmRows}`),
    row("resident float32 weights", gib(p.residentBytes), packed.slice(2)),
    row("largest streamed unit", gib(p.streamBytes), "while it runs, uploads and packed copies included"),
  ];
}

/** What would fit instead: the other policies here, then the cpu backend. */
export function alternatives(ctx: PlanContext, req: PlanRequest = {}): string[] {
  const out: string[] = [];
  const tries: { backend: string; policy: ResidencyPolicy }[] = [
    { backend: ctx.backend, policy: "all" },
    { backend: ctx.backend, policy: "budget" },
    { backend: ctx.backend, policy: "stream" },
  ];
  if (ctx.backend !== "cpu") tries.push({ backend: "cpu", policy: "budget" }, { backend: "cpu", policy: "stream" });
  for (const t of tries) {
    if (t.backend === ctx.backend && t.policy === (req.policy ?? "auto")) continue;
    const c = t.backend === ctx.backend ? ctx : { ...ctx, backend: t.backend, backendLimitBytes: null };
    const p = choosePlan(c, { ...req, policy: t.policy, residentBytes: t.policy === "budget" ? undefined : req.residentBytes });
    if (p.problems.length) continue;
    const flag =
      t.policy === "budget" ? `--residency budget --resident ${Math.floor(p.residentBytes / 1024 ** 2)}MiB` : `--residency ${t.policy}`;
    out.push(
      `${t.backend === ctx.backend ? "" : `--backend ${t.backend} `}${flag} (peak ${gib(p.processPeakBytes)} process, ${gib(p.backendPeakBytes)} backend)`,
    );
    if (out.length >= 2) break;
  }
  return out;
}

/** The error a load raises when its plan cannot fit. */
export function refusal(what: string, plan: MemoryPlan, ctx: PlanContext, req?: PlanRequest): string {
  const alt = alternatives(ctx, req);
  return (
    `${what} does not fit: ${plan.problems.join("; ")}.\n${formatPlan(plan)}\n` +
    (alt.length
      ? `would fit: ${alt.join("; or ")}`
      : "no residency policy fits this machine: free memory, or use a machine with more (see docs/architecture.md, Residency)")
  );
}
