// Contrastive scoring of next-token logits (CausalMM §3.3, following VCD's sampler). Plain functions of
// Float32Arrays over the vocabulary: the decoding loop that produces the logits lives elsewhere.
//
//   single CF:    s = (1+γ)ℓ − γℓ_cf
//   multimodal:   s = (1+2γ)ℓ − γℓ_cf,v − γℓ_cf,t
//   general:      s = (1 + γ·Σw_i)ℓ − γ·Σ w_i ℓ_i          (w_i = 1 gives both rules above)
//   plausibility: s_k = −∞ where ℓ_k < log ε + max ℓ      (ℓ = factual logits; VCD "version 2")

export interface CfLogits {
  logits: Float32Array;
  /** Weight w_i of this branch (1 for the paper's rules). */
  weight: number;
}

export interface ContrastOptions {
  /** γ: contrast strength (CausalMM/VCD default 0.5; the goldens use 1). */
  gamma: number;
  /** ε in (0, 1]: plausibility cutoff; 0 disables it. */
  epsilon: number;
}

function checkOptions(opts: ContrastOptions): void {
  if (!Number.isFinite(opts.gamma)) throw new Error(`gamma must be finite, got ${opts.gamma}`);
  if (!(opts.epsilon >= 0 && opts.epsilon <= 1)) throw new Error(`epsilon must be in [0, 1], got ${opts.epsilon}`);
}

/** Contrast scores over the vocabulary; implausible tokens get −Infinity. */
export function contrastLogits(factual: Float32Array, cfs: CfLogits[], opts: ContrastOptions): Float32Array {
  checkOptions(opts);
  const v = factual.length;
  for (const cf of cfs) {
    if (cf.logits.length !== v) throw new Error(`counterfactual logits have ${cf.logits.length} entries, factual ${v}`);
    if (!Number.isFinite(cf.weight)) throw new Error(`counterfactual weight must be finite, got ${cf.weight}`);
  }
  const g = opts.gamma;
  const a = 1 + g * cfs.reduce((acc, cf) => acc + cf.weight, 0);
  const cutoff = plausibilityCutoff(factual, opts.epsilon);
  // Hot path (every step, every row): indexed loops, weights folded once; same arithmetic order as
  // s = a·ℓ − Σ (γ·wᵢ)·ℓᵢ, so results do not depend on the number of branches' code path.
  const out = new Float32Array(v);
  const ls = cfs.map((cf) => cf.logits);
  const gw = cfs.map((cf) => g * cf.weight);
  const n = ls.length;
  if (n === 1) {
    const l0 = ls[0];
    const w0 = gw[0];
    for (let k = 0; k < v; k++) out[k] = factual[k] < cutoff ? -Infinity : a * factual[k] - w0 * l0[k];
    return out;
  }
  for (let k = 0; k < v; k++) {
    if (factual[k] < cutoff) {
      out[k] = -Infinity;
      continue;
    }
    let s = a * factual[k];
    for (let i = 0; i < n; i++) s -= gw[i] * ls[i][k];
    out[k] = s;
  }
  return out;
}

/**
 * `log ε + max ℓ` (−∞ for ε = 0), in float32 like the reference (torch.log(torch.tensor(eps)) + max),
 * so borderline tokens are cut the same way.
 */
export function plausibilityCutoff(factual: Float32Array, epsilon: number): number {
  if (!(epsilon > 0)) return -Infinity;
  let max = -Infinity;
  for (let k = 0; k < factual.length; k++) if (factual[k] > max) max = factual[k];
  return Math.fround(Math.fround(Math.log(epsilon)) + max);
}

/** Ascending indices of the tokens the cutoff keeps (`!(ℓ_k < cutoff)`, as `contrastLogits` decides). */
export function plausibleTokens(factual: Float32Array, epsilon: number): Int32Array {
  if (!(epsilon > 0)) return Int32Array.from(factual.keys());
  // One pass over the vocabulary (this runs every decode step): candidates are the tokens at or above
  // the cutoff of the running max, a superset of the final set since that cutoff only grows.
  const logEps = Math.fround(Math.log(epsilon));
  let max = -Infinity;
  let cutoff = -Infinity;
  const candidates: number[] = [];
  for (let k = 0; k < factual.length; k++) {
    const x = factual[k];
    if (x >= cutoff) {
      candidates.push(k);
      if (x > max) {
        max = x;
        cutoff = Math.fround(logEps + max);
      }
    } else if (x !== x) candidates.push(k); // NaN is never "below the cutoff"
  }
  return Int32Array.from(candidates.filter((k) => !(factual[k] < cutoff)));
}

/** log Σ exp(x), stable. */
function logSumExp(x: Float32Array): number {
  let m = -Infinity;
  for (let k = 0; k < x.length; k++) if (x[k] > m) m = x[k];
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (let k = 0; k < x.length; k++) s += Math.exp(x[k] - m);
  return m + Math.log(s);
}

/**
 * Average K counterfactual draws (e.g. K seeds of a random/shuffle intervention) into one logit vector.
 *
 * The paper's effects (eqs. 1–3) are expectations over the counterfactual attention Ā of a difference of
 * outcomes, E_Ā[Y(A) − Y(Ā)] = Y(A) − E_Ā[Y(Ā)]. The decoding score is linear in the counterfactual
 * logits, so with Y = logits the Monte-Carlo estimate of E[s] is exactly the score of the mean logits:
 * hence the default "logits". (Each draw's logits are defined up to an additive constant; that only
 * shifts every score by the same amount and changes neither softmax nor argmax.) "probs" instead takes
 * Y to be the predictive distribution and returns log E_Ā[softmax(ℓ_Ā)], the log of the mixture.
 */
export function averageDraws(logitsList: Float32Array[], mode: "logits" | "probs" = "logits"): Float32Array {
  if (logitsList.length === 0) throw new Error("averageDraws needs at least one draw");
  const v = logitsList[0].length;
  for (const l of logitsList) if (l.length !== v) throw new Error("averageDraws: draws have different vocabulary sizes");
  const k = logitsList.length;
  if (k === 1 && mode === "logits") return logitsList[0]; // the mean of one draw is itself (callers don't mutate it)
  const out = new Float32Array(v);
  if (mode === "logits") {
    for (let j = 0; j < v; j++) {
      let s = 0;
      for (const l of logitsList) s += l[j];
      out[j] = s / k;
    }
    return out;
  }
  if (mode !== "probs") throw new Error(`averageDraws mode must be "logits" or "probs", got ${String(mode)}`);
  const lse = logitsList.map((l) => logSumExp(l));
  for (let j = 0; j < v; j++) {
    // log (1/K) Σ_i exp(ℓ_ij − lse_i), computed stably around the largest term.
    let m = -Infinity;
    for (let i = 0; i < k; i++) m = Math.max(m, logitsList[i][j] - lse[i]);
    let s = 0;
    if (m > -Infinity) for (let i = 0; i < k; i++) s += Math.exp(logitsList[i][j] - lse[i] - m);
    out[j] = m === -Infinity ? -Infinity : m + Math.log(s / k);
  }
  return out;
}

/**
 * M3ID's γ_t = exp(−λt) (Favero et al., "Multi-Modal Hallucination Control by Visual Information
 * Grounding", CVPR 2024, arXiv 2403.14003): the trust in the image-conditioned model fades with the
 * number t of generated tokens (t = 1 for the first generated token). Paper default λ = 0.02.
 */
export function m3idGamma(step: number, lambda = 0.02): number {
  if (!(step >= 0) || !(lambda >= 0)) throw new Error(`m3id: step and lambda must be ≥ 0, got ${step}, ${lambda}`);
  return Math.exp(-lambda * step);
}

/**
 * M3ID's contrast weight (1 − γ_t)/γ_t = e^{λt} − 1: M3ID scores ℓ_c + ((1−γ_t)/γ_t)(ℓ_c − ℓ_u) with
 * ℓ_u the no-image logits, i.e. (1 + w_t)ℓ_c − w_tℓ_u. It starts at 0 and grows with the step.
 * (M3ID uses log-softmax outputs; raw logits differ by a per-branch constant, which changes nothing.)
 */
export function m3idWeight(step: number, lambda = 0.02): number {
  m3idGamma(step, lambda);
  return Math.expm1(lambda * step);
}

/**
 * The no-image branch's weight w_t/γ, so that its term γ·(w_t/γ)·ℓ_u is exactly M3ID's w_t(ℓ − ℓ_u)
 * whatever γ the other branches use (the `--baseline noimage` plan's weight). (M3ID additionally applies
 * the correction only at uncertain steps; that gate is the caller's decision.)
 */
export function noImageWeight(step: number, gamma: number, lambda = 0.02): number {
  if (!Number.isFinite(gamma) || gamma === 0) throw new Error(`the no-image contrast needs a finite non-zero gamma, got ${gamma}`);
  return m3idWeight(step, lambda) / gamma;
}

/** The no-image branch as an entry of `contrastLogits`'s list (weight `noImageWeight`). */
export function noImageContrast(noImageLogits: Float32Array, step: number, gamma: number, lambda = 0.02): CfLogits {
  return { logits: noImageLogits, weight: noImageWeight(step, gamma, lambda) };
}
