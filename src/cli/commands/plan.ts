// `causalmm plan --model DIR`: the memory plan of a model directory on a backend, before reading any
// weight: what each residency policy needs and whether it fits the backend and this machine.
import type { ParsedArgs } from "../args.js";
import { initBackend } from "../../backend.js";
import { planModel } from "../../model/load.js";
import { alternatives, formatPlan } from "../../model/plan-text.js";
import { resolveModelDir } from "../../paths.js";
import { defineCommand, str } from "../args.js";
import { RESIDENCY_FLAGS, residencyRequest } from "../residency.js";

async function run(args: ParsedArgs): Promise<number> {
  const dir = resolveModelDir(str(args, "model"));
  await initBackend(str(args, "backend"));
  const req = residencyRequest(args);
  const { plan, ctx } = planModel(dir, req);
  if (args.opts.json) {
    process.stdout.write(
      JSON.stringify({ ...plan, residency: { ...plan.residency, resident: [...plan.residency.resident] } }, null, 2) + "\n",
    );
    return plan.problems.length ? 1 : 0;
  }
  process.stdout.write(`${dir}\n${formatPlan(plan)}\n`);
  if (plan.problems.length) {
    const alt = alternatives(ctx, req);
    process.stdout.write(alt.length ? `would fit: ${alt.join("; or ")}\n` : "no residency policy fits this machine\n");
    return 1;
  }
  return 0;
}

export const planCommand = defineCommand({
  name: "plan",
  summary: "print the memory plan of a model directory (weights, residency, KV cache, peaks) without loading it",
  usage:
    "causalmm plan --model DIR [--backend wasm|cpu|...] [--residency auto|all|budget|stream] [--resident 3GiB] [--max-new-tokens N] [--cf SPEC ...]",
  options: [
    { name: "model", type: "string", help: "llava-hf model directory (default: the embedded model)" },
    ...RESIDENCY_FLAGS,
    { name: "max-new-tokens", type: "number", help: "new tokens to provision the KV cache for", default: 512 },
    { name: "cf", type: "list", help: "one counterfactual branch each (one more batch row and KV cache), as for ask" },
    { name: "baseline", type: "string", help: "a contrast baseline (one more batch row)" },
    { name: "preset", type: "string", help: "a CausalMM preset (one more batch row)" },
    { name: "json", type: "boolean", help: "print the plan as JSON" },
  ],
  run,
});
