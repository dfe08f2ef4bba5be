// `causalmm heatmap`: pictures of where generated tokens look in the image (per layer / head or
// averaged), CLIP's CLS attention and the modality split, from a recording or from a fresh run.
import { withLlava } from "../load.js";
import type { ParsedArgs } from "../args.js";
import { defineCommand, need, numOpt, str } from "../args.js";
import { loadImage } from "../../vision/index.js";
import { recordAnswer, type Recording } from "../../introspect/session.js";
import { loadRecording } from "../../introspect/store.js";
import { renderRecording } from "../../introspect/render.js";
import { COLORMAPS, type ColormapName } from "../../introspect/draw.js";
import type { HeadChoice } from "../../introspect/maps.js";
import { promptFlags, PROMPT_OPTIONS, question } from "../prompt-flags.js";
import { runningVisionLayers } from "../../introspect/layers.js";
import { parseIndexList } from "../../util/index-list.js";

async function fresh(args: ParsedArgs): Promise<Recording> {
  const q = question(args, "heatmap");
  const image = await loadImage(need(args, "image", "heatmap"));
  const prompt = promptFlags(args);
  return withLlava(args, async (llava) => {
    const cfg = llava.model.config;
    const all = (n: number) => Array.from({ length: n }, (_, i) => i);
    return await recordAnswer(llava, {
      image,
      question: q,
      ...prompt,
      maxNewTokens: numOpt(args, "max-new-tokens") ?? 16,
      select: { text: { layers: all(cfg.text.numLayers) }, vision: { layers: all(runningVisionLayers(cfg)) } },
    });
  });
}

function heads(text: string | undefined, rec: Recording): HeadChoice[] {
  if (!text || text === "mean") return ["mean"];
  const n = rec.meta.dims.textHeads;
  return text.split(",").map((h) => (h.trim() === "mean" ? "mean" : parseIndexList(h, n, "head")[0]));
}

/** "mean,0,3" → ["mean", 0, 3]; "all" → every layer. */
function layerChoices(text: string, rec: Recording): (number | "mean")[] {
  return text
    .split(",")
    .flatMap((t): (number | "mean")[] => (t.trim() === "mean" ? ["mean"] : parseIndexList(t, rec.meta.dims.textLayers, "text layer")));
}

async function run(args: ParsedArgs): Promise<void> {
  const from = str(args, "from");
  const out = need(args, "out", "heatmap");
  const rec = from ? await loadRecording(from) : await fresh(args);
  const steps = str(args, "tokens");
  const files = await renderRecording(rec, out, {
    layers: layerChoices(str(args, "layer") ?? "mean", rec),
    heads: heads(str(args, "head"), rec),
    steps: steps && steps !== "all" ? parseIndexList(steps, rec.meta.answer.ids.length, "token") : undefined,
    alpha: numOpt(args, "alpha") ?? 0.6,
    colormap: (str(args, "colormap") ?? "viridis") as ColormapName,
    cls: !args.opts["no-cls"],
    modality: !args.opts["no-modality"],
  });
  process.stderr.write(`answer: ${rec.meta.answer.text}\n${files.length} pictures → ${out}\n`);
  process.stdout.write(JSON.stringify({ out, files: files.map((f) => f.file) }) + "\n");
}

export const heatmapCommand = defineCommand({
  name: "heatmap",
  summary: "attention of generated tokens over the image, CLIP CLS maps and the modality split as PNG",
  usage:
    'causalmm heatmap (--from RECORD_DIR | --model DIR --image FILE "question") --out DIR ' +
    "[--layer mean|all|0,3] [--head mean|0,2] [--tokens all|0-3] [--alpha 0.6] [--colormap viridis]",
  options: [
    { name: "from", type: "string", help: "a directory written by 'causalmm record'" },
    ...PROMPT_OPTIONS,
    { name: "max-new-tokens", type: "number", help: "answer length when recording afresh", default: 16 },
    {
      name: "layer",
      type: "string",
      help: "text layers, one picture each: mean (averaged over layers), all, or a list like mean,0,3",
      default: "mean",
    },
    { name: "head", type: "string", help: "heads: mean or a list (one picture each)", default: "mean" },
    { name: "tokens", type: "string", help: "generated tokens to draw: all or a list of 0-based steps", default: "all" },
    { name: "alpha", type: "number", help: "opacity of the colour layer (0–1)", default: 0.6 },
    { name: "colormap", type: "string", help: "colour map", choices: COLORMAPS, default: "viridis" },
    { name: "no-cls", type: "boolean", help: "skip CLIP's CLS maps" },
    { name: "no-modality", type: "boolean", help: "skip the layer × head modality picture" },
    { name: "out", type: "string", help: "output directory for the PNG files" },
  ],
  run,
});
