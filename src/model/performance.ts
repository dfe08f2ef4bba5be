// How the model computes, never what: every choice here gives the same numbers up to float32 summation
// order. A model takes these options when it is created (LoadOptions.performance, the lab's
// TrainOptions.performance) and hands them down to every layer; nothing reads a process-wide switch.
// Benchmarks compare choices side by side with `model.withPerformance(TFJS_ONLY)` on the same weights.
export interface PerformanceOptions {
  /**
   * The attention products q·Kᵀ and P·V for several query rows (prefill, CLIP): "per-head" 2-D matMuls
   * with an explicit transpose (XNNPACK's fast path on wasm), one "batched" matMul, or "auto" (per-head
   * on wasm, batched elsewhere). Single-row decode steps use the kernels below where the backend has them.
   */
  attentionMatMul: "auto" | "per-head" | "batched";
  /**
   * The project's own tfjs kernels (src/model/kernels/: one-row attention products over the KV cache,
   * softmax, unstack, the plausibility cutoff): "auto" where the active backend has them, "never" for
   * tfjs ops and JS scans only.
   */
  kernels: "auto" | "never";
  /** The KV cache writes new positions into its spare storage ("auto": on wasm and cpu) or reallocates every step ("never"). */
  kvWrites: "auto" | "never";
  /**
   * The 2-D GEMMs: "tfjs" matMul, or the C++ addon of kernels/native.ts ("native", "auto": where it
   * loaded, else tfjs). Read by attention's per-head products and layers.ts `linear()` on tensor weights
   * (weights held outside tfjs, model/native-residency.ts, always go through the addon).
   */
  matmul: "auto" | "native" | "tfjs";
  /**
   * Training only (src/lab): BatchMatMul's gradient, "explicit-transpose" (lab/fast-grads.ts: flag-free
   * matMuls, 15–20× faster on wasm) or tfjs's own "tfjs" (matMuls with transpose flags).
   */
  matMulGradient: "explicit-transpose" | "tfjs";
}

/** What the project runs unless told otherwise. */
export const DEFAULT_PERFORMANCE: Readonly<PerformanceOptions> = Object.freeze({
  attentionMatMul: "auto",
  kernels: "auto",
  kvWrites: "auto",
  matmul: "auto",
  matMulGradient: "explicit-transpose",
});

/** tfjs ops only: batched matMuls, tfjs's softmax, a KV cache reallocated every step (the benchmarks' baseline). */
export const TFJS_ONLY: Readonly<Partial<PerformanceOptions>> = Object.freeze({
  attentionMatMul: "batched",
  kernels: "never",
  kvWrites: "never",
  matmul: "tfjs",
});

const CHOICES: { [K in keyof PerformanceOptions]: readonly PerformanceOptions[K][] } = {
  attentionMatMul: ["auto", "per-head", "batched"],
  kernels: ["auto", "never"],
  kvWrites: ["auto", "never"],
  matmul: ["auto", "native", "tfjs"],
  matMulGradient: ["explicit-transpose", "tfjs"],
};

/** The defaults with `opts` on top; an unknown field or value is an error naming it. */
export function resolvePerformance(opts: Partial<PerformanceOptions> = {}): Readonly<PerformanceOptions> {
  for (const [key, value] of Object.entries(opts)) {
    const allowed = CHOICES[key as keyof PerformanceOptions] as readonly string[] | undefined;
    if (!allowed) throw new Error(`performance options: unknown option "${key}" (known: ${Object.keys(CHOICES).join(", ")})`);
    if (value !== undefined && !allowed.includes(value as string)) {
      throw new Error(`performance options: ${key} must be one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
    }
  }
  const defined = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
  return Object.freeze({ ...DEFAULT_PERFORMANCE, ...defined });
}
