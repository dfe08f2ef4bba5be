// Command-line helpers shared by record / heatmap / sweep / explore: index lists, layer choices,
// and the recorder selection from flags.
import type { ParsedArgs } from "../cli/args.js";
import { str } from "../cli/args.js";
import { selectedVisionLayer } from "../causal/spec.js";
import type { LlavaConfig } from "../model/config.js";
import type { RecorderOptions } from "./recorder.js";
import { ONE_WORD_SUFFIX, TEMPLATE_NAMES, type TemplateName } from "../text/index.js";
import type { PreprocessMode } from "../vision/index.js";
import type { OptionSpec } from "../cli/args.js";
import { parseIndexList } from "../util/index-list.js";
import { DEFAULTS } from "../defaults.js";

/** The CLIP layers that run for LLaVA (0 .. the selected feature layer); later ones never affect the answer. */
export function runningVisionLayers(cfg: LlavaConfig): number {
  return selectedVisionLayer(cfg.vision.numLayers, cfg.visionFeatureLayer) + 1;
}

/** Vision layer list: "sel" = the selected feature layer, "all" = every layer that runs. */
export function parseVisionLayers(text: string, cfg: LlavaConfig): number[] {
  const n = runningVisionLayers(cfg);
  return text.trim() === "sel" ? [n - 1] : parseIndexList(text, n, "vision layer");
}

export const PROMPT_OPTIONS: OptionSpec[] = [
  { name: "model", type: "string", help: "llava-hf model directory (default: the embedded model)" },
  { name: "tokenizer", type: "string", help: "directory with tokenizer.json (default: the model directory)" },
  { name: "image", type: "string", help: "PNG or JPEG file" },
  { name: "template", type: "string", help: "prompt template", choices: TEMPLATE_NAMES, default: DEFAULTS.template },
  { name: "mode", type: "string", help: "image preprocessing: crop or pad", choices: ["crop", "pad"], default: DEFAULTS.mode },
  { name: "suffix", type: "string", help: "text appended to the question verbatim" },
  { name: "one-word", type: "boolean", help: `append "${ONE_WORD_SUFFIX.trim()}"` },
];

export interface PromptFlags {
  template: TemplateName;
  mode: PreprocessMode;
  suffix: string;
}

export function promptFlags(args: ParsedArgs): PromptFlags {
  if (args.opts.suffix !== undefined && args.opts["one-word"]) throw new Error("use either --suffix or --one-word, not both");
  return {
    template: (str(args, "template") ?? DEFAULTS.template) as TemplateName,
    mode: (str(args, "mode") ?? DEFAULTS.mode) as PreprocessMode,
    suffix: args.opts["one-word"] ? ONE_WORD_SUFFIX : (str(args, "suffix") ?? ""),
  };
}

export const SELECT_OPTIONS: OptionSpec[] = [
  { name: "layers", type: "string", help: "text layers to record: all | last | list like 0,2,5-7", default: "all" },
  { name: "heads", type: "string", help: "text heads: all | list", default: "all" },
  { name: "vision-layers", type: "string", help: "CLIP layers (CLS row): all (every layer that runs) | sel | list | none", default: "all" },
  { name: "patches", type: "boolean", help: "also keep CLIP's full per-patch attention [H,P+1,P+1]" },
  { name: "prefill", type: "string", help: "prefill rows to keep: last or all", choices: ["last", "all"], default: "last" },
  { name: "taps", type: "string", help: "also keep the last row of these text projections: q,k,v" },
];

export function selectionFromArgs(args: ParsedArgs, cfg: LlavaConfig): RecorderOptions {
  const sel: RecorderOptions = {
    text: {
      layers: parseIndexList(str(args, "layers") ?? "all", cfg.text.numLayers, "text layer"),
      prefill: (str(args, "prefill") ?? "last") as "last" | "all",
    },
  };
  const heads = str(args, "heads") ?? "all";
  if (heads !== "all") sel.text!.heads = parseIndexList(heads, cfg.text.numHeads, "text head");
  const vl = str(args, "vision-layers") ?? "all";
  if (vl !== "none") sel.vision = { layers: parseVisionLayers(vl, cfg), patches: Boolean(args.opts.patches) };
  const taps = str(args, "taps");
  if (taps) {
    const list = taps.split(",").map((s) => s.trim());
    if (list.some((t) => !["q", "k", "v"].includes(t))) throw new Error(`--taps takes q,k,v (got '${taps}')`);
    sel.taps = list as ("q" | "k" | "v")[];
  }
  return sel;
}


export function question(args: ParsedArgs, cmd: string): string {
  const q = args.positional.join(" ").trim();
  if (!q) throw new Error(`${cmd}: a question is required, e.g. causalmm ${cmd} --image photo.jpg "Is there a cat?"`);
  return q;
}
