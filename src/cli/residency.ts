// The residency flags shared by the commands that load a model (`ask`, `plan`): which policy, the
// byte budget, and the workload the memory plan provisions for (read from the command's own flags).
import type { OptionSpec, ParsedArgs } from "./args.js";
import { listOpt, numOpt, str } from "./args.js";
import type { PlanRequest } from "../model/memory-plan.js";
import type { ResidencyPolicy } from "../model/residency.js";

export const RESIDENCY_FLAGS: OptionSpec[] = [
  {
    name: "residency",
    type: "string",
    help:
      "weights on the backend: auto (fastest that fits), all, budget (with --resident), " +
      "stream (one layer at a time), native (16-bit weights on the host, native GEMM)",
    choices: ["auto", "all", "budget", "stream", "native"],
  },
  {
    name: "resident",
    type: "string",
    help: "budget policy: bytes of float32 weights kept on the backend, e.g. 3GiB, 512MiB (implies --residency budget)",
  },
];

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
  t: 1e12,
  tb: 1e12,
};

/** "3GiB", "512 MiB", "2.5G", "4000000000" → bytes. */
export function parseBytes(text: string, what = "--resident"): number {
  const m = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`${what}: expected a size such as 3GiB, 512MiB or 2.5G, got '${text}'`);
  return Math.round(Number(m[1]) * unit);
}

/** The plan request from --residency/--resident and the command's --max-new-tokens and --cf flags. */
export function residencyRequest(args: ParsedArgs): PlanRequest {
  const resident = str(args, "resident");
  const policy = (str(args, "residency") ?? (resident !== undefined ? "budget" : "auto")) as ResidencyPolicy | "auto";
  if (resident !== undefined && policy !== "budget")
    throw new Error(`--resident sets the budget policy's size; it does not go with --residency ${policy}`);
  const maxNew = numOpt(args, "max-new-tokens");
  const cf = cfBranchCount(listOpt(args, "cf"), numOpt(args, "draws") ?? 1);
  // a baseline's (or the official preset's) contrast is one more branch, with its own image when it has one
  const extra = str(args, "baseline") || str(args, "preset") ? 1 : 0;
  return {
    policy,
    ...(resident !== undefined ? { residentBytes: parseBytes(resident) } : {}),
    workload: {
      ...(maxNew !== undefined ? { maxNewTokens: maxNew } : {}),
      rows: 1 + cf.rows + extra,
      images: 1 + cf.images + extra,
    },
  };
}

/**
 * Counterfactual branches of `--cf` entries (each a batch row with its own KV cache) and how many of
 * them encode an edited image, as causal/presets.ts builds them: `both` is two branches (vision and
 * text), `A+B` one, and a random/shuffle branch is one per draw.
 */
export function cfBranchCount(entries: string[], draws: number): { rows: number; images: number } {
  let rows = 0;
  let images = 0;
  for (const e of entries) {
    const parts = e.includes("+") ? [e.split("+")] : e.startsWith("both") ? [["vision" + e.slice(4)], ["text" + e.slice(4)]] : [[e]];
    for (const branch of parts) {
      const n = branch.some((p) => /:(random|shuffle)\b/.test(p)) ? draws : 1;
      rows += n;
      if (branch.some((p) => p.startsWith("vision") || p.startsWith("both"))) images += n;
    }
  }
  return { rows, images };
}
