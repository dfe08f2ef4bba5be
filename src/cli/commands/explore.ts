// `causalmm explore`: one self-contained HTML file to click through the answer's attention over the
// image (per layer / head or averaged), CLIP's CLS maps, the factual vs counterfactual top-k per step
// and an optional sweep picture. Opens from disk, works offline.
import { writeFileSync } from "node:fs";
import { withLlava } from "../load.js";
import type { ParsedArgs } from "../args.js";
import { defineCommand, need, numOpt, str } from "../args.js";
import { loadImage } from "../../vision/index.js";
import { loadRecording } from "../../introspect/store.js";
import { explorerPage, exploreAnswer, readSweepPng } from "../../introspect/explore.js";
import { promptFlags, PROMPT_OPTIONS, question } from "../prompt-flags.js";
import { runningVisionLayers } from "../../introspect/layers.js";
import { parseIndexList } from "../../util/index-list.js";
import type { Recording } from "../../introspect/session.js";
import type { ExplorerData } from "../../introspect/explore.js";

async function fresh(args: ParsedArgs): Promise<{ rec: Recording; topk: ExplorerData["topk"]; cf: string | undefined }> {
  const q = question(args, "explore");
  const image = await loadImage(need(args, "image", "explore"));
  const prompt = promptFlags(args);
  const cf = args.opts["no-cf"] ? undefined : (str(args, "cf") ?? "vision:uniform@sel");
  return withLlava(args, async (llava) => {
    const cfg = llava.model.config;
    const layers = parseIndexList(str(args, "layers") ?? "all", cfg.text.numLayers, "text layer");
    const vision = Array.from({ length: runningVisionLayers(cfg) }, (_, i) => i);
    const { rec, topk } = await exploreAnswer(llava, {
      image,
      question: q,
      ...prompt,
      cf,
      gamma: numOpt(args, "gamma"),
      maxNewTokens: numOpt(args, "max-new-tokens") ?? 16,
      topk: numOpt(args, "topk") ?? 5,
      select: { text: { layers }, vision: { layers: vision } },
    });
    return { rec, topk, cf };
  });
}

async function run(args: ParsedArgs): Promise<void> {
  const out = need(args, "out", "explore");
  const from = str(args, "from");
  const got = from ? { rec: await loadRecording(from), topk: undefined, cf: undefined } : await fresh(args);
  const html = await explorerPage(got.rec, { topk: got.topk ?? undefined, cf: got.cf, sweepPng: readSweepPng(str(args, "sweep")) });
  writeFileSync(out, html);
  process.stderr.write(`answer: ${got.rec.meta.answer.text}\nexplorer (${(html.length / 1024).toFixed(0)} KiB) → ${out}\n`);
  process.stdout.write(JSON.stringify({ out, bytes: html.length, answer: got.rec.meta.answer.text }) + "\n");
}

export const exploreCommand = defineCommand({
  name: "explore",
  summary: "write a self-contained HTML explorer of the answer's attention (and CausalMM top-k per step)",
  usage:
    'causalmm explore --out report.html (--from RECORD_DIR | --model DIR --image FILE "question") ' +
    "[--cf vision:uniform@sel | --no-cf] [--layers all|0-3] [--sweep sweep.png]",
  options: [
    { name: "out", type: "string", help: "the HTML file to write" },
    { name: "from", type: "string", help: "a directory written by 'causalmm record' (no counterfactual table)" },
    ...PROMPT_OPTIONS,
    { name: "cf", type: "string", help: "counterfactual branch for the top-k table (CausalMM answer)", default: "vision:uniform@sel" },
    { name: "no-cf", type: "boolean", help: "plain greedy answer, factual top-k only" },
    { name: "gamma", type: "number", help: "CausalMM γ", default: 1 },
    {
      name: "layers",
      type: "string",
      help: "text layers to include (the file grows with layers × heads × tokens × patches)",
      default: "all",
    },
    { name: "max-new-tokens", type: "number", help: "answer length limit", default: 16 },
    { name: "topk", type: "number", help: "rows of the top-k table", default: 5 },
    { name: "sweep", type: "string", help: "a sweep heatmap PNG (from 'causalmm sweep') to include" },
  ],
  run,
});
