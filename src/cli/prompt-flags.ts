// The flags every model command shares (--model, --tokenizer, --image and the prompt: --template, --mode,
// --suffix, --one-word), declared once with how each sets AskOptions; `ask` and the eval answerer add
// decoding flags (ask-flags.ts), record / heatmap / sweep / explore read them as PromptFlags. Also the
// recorder selection (--layers, --heads, ...) and the question of those commands.
import type { OptionSpec, ParsedArgs } from "./args.js";
import { isParserDefault, str } from "./args.js";
import type { AskOptions } from "../api.js";
import { DEFAULTS } from "../defaults.js";
import type { LlavaConfig } from "../model/config.js";
import { parseVisionLayers } from "../introspect/layers.js";
import type { RecorderOptions } from "../introspect/recorder.js";
import { ONE_WORD_SUFFIX, TEMPLATE_NAMES, type TemplateName } from "../text/index.js";
import type { PreprocessMode } from "../vision/index.js";
import { parseIndexList } from "../util/index-list.js";

type Value = string | number | boolean | string[];

/** A flag and how it sets AskOptions. New flags (CausalMM: --cf, --gamma, ...) are one more entry. */
export interface AskFlag extends OptionSpec {
  apply?: (value: Value, opts: AskOptions) => void;
  /** The AskOptions value it sets (dotted path), for the `sources` of the settings. */
  key?: string;
}

export const MODEL_FLAG: AskFlag = {
  name: "model",
  type: "string",
  aliases: ["model-path"],
  help: "llava-hf model directory (default: the embedded model)",
};
export const TOKENIZER_FLAG: AskFlag = {
  name: "tokenizer",
  type: "string",
  help: "directory with tokenizer.json (default: the model directory)",
};
export const IMAGE_FLAG: AskFlag = { name: "image", type: "string", help: "PNG or JPEG file" };

/** The prompt: template, preprocessing and what is appended to the question. */
export const TEMPLATE_FLAG: AskFlag = {
  name: "template",
  type: "string",
  key: "template",
  aliases: ["conv-mode"],
  help: "prompt template (LLaVA's --conv-mode)",
  choices: TEMPLATE_NAMES,
  default: DEFAULTS.template,
  apply: (v, o) => (o.template = v as TemplateName),
};
export const MODE_FLAG: AskFlag = {
  name: "mode",
  type: "string",
  key: "mode",
  help: "image preprocessing: crop (llava-hf) or pad (original LLaVA)",
  choices: ["crop", "pad"],
  default: DEFAULTS.mode,
  apply: (v, o) => (o.mode = v as PreprocessMode),
};
export const SUFFIX_FLAGS: AskFlag[] = [
  {
    name: "suffix",
    type: "string",
    key: "suffix",
    help: "text appended to the question verbatim",
    apply: (v, o) => (o.suffix = String(v)),
  },
  {
    name: "one-word",
    type: "boolean",
    key: "suffix",
    help: `append "${ONE_WORD_SUFFIX.trim()}" (CausalMM/VCD eval prompt)`,
    apply: (v, o) => {
      if (v) o.suffix = ONE_WORD_SUFFIX;
    },
  },
];

/** The options of record / heatmap / sweep / explore that say which model reads which prompt. */
export const PROMPT_OPTIONS: OptionSpec[] = [MODEL_FLAG, TOKENIZER_FLAG, IMAGE_FLAG, TEMPLATE_FLAG, MODE_FLAG, ...SUFFIX_FLAGS];

/**
 * AskOptions from the flags of `flags` that have an `apply`, in declaration order. A parser default the
 * user did not give does not override a preset (given flags > preset > defaults).
 */
export function applyFlags(args: ParsedArgs, flags: readonly AskFlag[], cmd?: string): AskOptions {
  if (args.opts.suffix !== undefined && args.opts["one-word"]) {
    throw new Error(`${cmd ? `${cmd}: ` : ""}use either --suffix or --one-word, not both`);
  }
  const opts: AskOptions = {};
  for (const flag of flags) {
    const v = args.opts[flag.name];
    if (v !== undefined && flag.apply && !isParserDefault(args, flag)) flag.apply(v, opts);
  }
  return opts;
}

export interface PromptFlags {
  template: TemplateName;
  mode: PreprocessMode;
  suffix: string;
}

export function promptFlags(args: ParsedArgs): PromptFlags {
  const o = applyFlags(args, [TEMPLATE_FLAG, MODE_FLAG, ...SUFFIX_FLAGS]);
  return { template: o.template ?? DEFAULTS.template, mode: o.mode ?? DEFAULTS.mode, suffix: o.suffix ?? "" };
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
