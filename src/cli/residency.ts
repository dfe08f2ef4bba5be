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
  // each counterfactual branch (and a baseline's contrast) is one more batch row with its own KV cache
  const branches = listOpt(args, "cf").length + (str(args, "baseline") || str(args, "preset") ? 1 : 0);
  return {
    policy,
    ...(resident !== undefined ? { residentBytes: parseBytes(resident) } : {}),
    workload: { ...(maxNew !== undefined ? { maxNewTokens: maxNew } : {}), rows: 1 + branches, images: 1 + branches },
  };
}
