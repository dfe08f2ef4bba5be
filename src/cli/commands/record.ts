// `causalmm record`: answer a question about a picture and keep the attention of chosen layers/heads
// (per generated token its query row; CLIP's CLS row; optionally the full prefill / per-patch maps).
import { withLlava } from "../load.js";
import type { ParsedArgs } from "../args.js";
import { defineCommand, need, numOpt, str } from "../args.js";
import { loadImage } from "../../vision/index.js";
import { parseCfSpecs } from "../../causal/spec.js";
import { specDims } from "../../causal/presets.js";
import { makeInterventionHook } from "../../causal/counterfactual.js";
import { recordAnswer } from "../../introspect/session.js";
import { saveRecording, type StoreFormat } from "../../introspect/store.js";
import { promptFlags, PROMPT_OPTIONS, question, SELECT_OPTIONS, selectionFromArgs } from "../prompt-flags.js";
import { formatBytes } from "../progress.js";

async function run(args: ParsedArgs): Promise<void> {
  const q = question(args, "record");
  const image = await loadImage(need(args, "image", "record"));
  const out = need(args, "out", "record");
  const prompt = promptFlags(args);
  await withLlava(args, async (llava) => {
    const cfg = llava.model.config;
    const select = selectionFromArgs(args, cfg);
    const cf = str(args, "cf");
    const ivs = cf ? cf.split("+").flatMap((s) => parseCfSpecs(s, specDims(cfg))) : [];
    const rec = await recordAnswer(llava, {
      image,
      question: q,
      ...prompt,
      select,
      maxNewTokens: numOpt(args, "max-new-tokens") ?? 32,
      topk: numOpt(args, "topk") ?? 5,
      hook: ivs.length ? makeInterventionHook(ivs) : undefined,
      interventions: cf ? [cf] : [],
    });
    const index = await saveRecording(out, rec, (str(args, "format") ?? "npy") as StoreFormat);
    process.stderr.write(
      `answer: ${rec.meta.answer.text}\n${index.records.length} records, ${formatBytes(index.bytes)} → ${out}/index.json\n`,
    );
    process.stdout.write(JSON.stringify({ out, answer: rec.meta.answer.text, records: index.records.length, bytes: index.bytes }) + "\n");
  });
}

export const recordCommand = defineCommand({
  name: "record",
  summary: "answer a question and save the attention of chosen layers/heads (.npy or safetensors + index.json)",
  usage:
    "causalmm record --model DIR --image FILE [--layers all|0,2,5-7] [--heads ...] " +
    '[--vision-layers all|sel|none] [--patches] [--prefill last|all] [--cf SPEC] [--format npy|safetensors] --out DIR "question"',
  options: [
    ...PROMPT_OPTIONS,
    ...SELECT_OPTIONS,
    { name: "max-new-tokens", type: "number", help: "greedy answer length limit", default: 32 },
    { name: "topk", type: "number", help: "keep the top-k next-token probabilities of every step", default: 5 },
    {
      name: "cf",
      type: "string",
      help: "apply interventions while recording (records are post-intervention), e.g. vision:uniform@sel or A+B",
    },
    {
      name: "format",
      type: "string",
      help: "npy (one file per record) or safetensors (one file)",
      choices: ["npy", "safetensors"],
      default: "npy",
    },
    { name: "out", type: "string", help: "output directory" },
  ],
  run,
});
