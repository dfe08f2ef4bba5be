// `causalmm sweep`: the effect of counterfactual attention in each layer (group) × type × module on
// the next-token distribution at the answer position, over a POPE question file or one question.
import { withLlava } from "../load.js";
import type { ParsedArgs } from "../args.js";
import { defineCommand, listOpt, need, numOpt, str } from "../args.js";
import { loadPopeQuestions } from "../../eval/pope-data.js";
import type { ModuleName } from "../../model/hooks.js";
import type { CfType } from "../../causal/counterfactual.js";
import { runSweep, SWEEP_TYPES, type SweepQuestion, type SweepSettings } from "../../introspect/sweep.js";
import { summarize, writeSweep, type SweepMetric, type SweepReport } from "../../introspect/sweep-report.js";
import { PROMPT_OPTIONS, promptFlags } from "../prompt-flags.js";
import { runningVisionLayers } from "../../introspect/layers.js";
import { parseIndexList } from "../../util/index-list.js";
import type { Llava } from "../../api.js";
import { ONE_WORD_SUFFIX } from "../../text/index.js";
import { PROGRESS_OPTIONS, ProgressBar, progressFlags } from "../progress.js";

function questions(args: ParsedArgs): SweepQuestion[] {
  const file = str(args, "questions");
  if (file) {
    const items = loadPopeQuestions(file, { imageFolder: str(args, "image-dir") ?? ".", checkImages: true });
    const limit = numOpt(args, "limit");
    return items.slice(0, limit ?? items.length).map((it) => ({ id: it.questionId, image: it.image, text: it.question, label: it.label }));
  }
  const q = args.positional.join(" ").trim() || str(args, "question");
  if (!q) throw new Error('sweep: give --questions FILE, or --image FILE and a question ("Is there a cat?")');
  return [{ id: 0, image: need(args, "image", "sweep"), text: q }];
}

/** `--layer-groups [text=|vision=]0-7;8-15;none` (repeatable); without a prefix it applies to both. */
export function layerGroups(specs: string[], llava: Llava): Partial<Record<ModuleName, number[][]>> {
  const cfg = llava.model.config;
  const n: Record<ModuleName, number> = { text: cfg.text.numLayers, vision: runningVisionLayers(cfg) };
  const out: Partial<Record<ModuleName, number[][]>> = {};
  for (const spec of specs) {
    const m = /^(text|vision)=(.*)$/.exec(spec.trim());
    const modules: ModuleName[] = m ? [m[1] as ModuleName] : ["text", "vision"];
    for (const mod of modules) {
      const groups = (m ? m[2] : spec).split(";").map((g) => (g.trim() === "none" ? [] : parseIndexList(g, n[mod], `${mod} layer`)));
      out[mod] = [...(out[mod] ?? []), ...groups];
    }
  }
  return out;
}

function csv<T extends string>(text: string, valid: readonly T[], what: string): T[] {
  const xs = text.split(",").map((s) => s.trim()) as T[];
  for (const x of xs) if (!valid.includes(x)) throw new Error(`sweep: unknown ${what} '${x}' (valid: ${valid.join(", ")})`);
  return xs;
}

async function run(args: ParsedArgs): Promise<void> {
  const out = need(args, "out", "sweep");
  const qs = questions(args);
  const prompt = promptFlags({
    ...args,
    opts: { ...args.opts, "one-word": args.opts.suffix === undefined && args.opts["one-word"] !== false },
  });
  const modules = csv<ModuleName>(str(args, "modules") ?? "vision,text", ["vision", "text"], "module");
  const types = csv<CfType>(str(args, "types") ?? SWEEP_TYPES.join(","), SWEEP_TYPES, "type");
  await withLlava(args, async (llava) => {
    const settings: SweepSettings = {
      modules,
      types,
      draws: numOpt(args, "draws") ?? 3,
      seed: numOpt(args, "seed") ?? 0,
      batch: numOpt(args, "batch") ?? 8,
      ...prompt,
      groups: layerGroups(listOpt(args, "layer-groups"), llava),
    };
    const t0 = performance.now();
    const bar = new ProgressBar("sweep", { ...progressFlags(args), unit: "questions" });
    bar.update(0, qs.length);
    const res = await runSweep(llava, qs, settings, (p) => bar.update(p.question, p.total, `question ${p.question}/${p.total}`));
    bar.done();
    process.stderr.write(`${res.cells.length} cells × ${qs.length} question(s) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    const bootstrap = numOpt(args, "bootstrap") ?? 1000;
    const tok = (id: number) => llava.tokenizer.idToToken(id) ?? String(id);
    const report: SweepReport = {
      format: "causalmm-sweep/1",
      settings: { ...settings, bootstrap, level: 0.95, model: llava.dir },
      yesNo: { ...res.yesNo, yesTokens: res.yesNo.yes.map(tok), noTokens: res.yesNo.no.map(tok) },
      questions: res.results,
      cells: summarize(res.cells, res.results, bootstrap, settings.seed),
    };
    const files = await writeSweep(out, report, (str(args, "metric") ?? "kl") as SweepMetric);
    process.stdout.write(JSON.stringify({ files }) + "\n");
  });
}

export const sweepCommand = defineCommand({
  name: "sweep",
  summary: "causal-effect sweep: counterfactual attention per layer × type × module, effect on the answer",
  usage:
    'causalmm sweep --model DIR (--questions POPE.jsonl --image-dir DIR [--limit N] | --image FILE "question") ' +
    "[--modules vision,text] [--types uniform,reversed,random,shuffle] [--layer-groups text=0-7;8-15] " +
    "[--draws 3] [--seed 0] [--bootstrap 1000] --out PREFIX",
  options: [
    ...PROMPT_OPTIONS.filter((o) => o.name !== "one-word"),
    { name: "one-word", type: "boolean", help: `append "${ONE_WORD_SUFFIX.trim()}" (default on; --one-word=false to turn off)` },
    { name: "questions", type: "string", help: 'POPE question file: JSON lines of {"question_id","image","text","label"}' },
    { name: "image-dir", type: "string", help: "folder the question file's image names are relative to", default: "." },
    { name: "limit", type: "number", integer: true, min: 1, help: "only the first N questions" },
    { name: "question", type: "string", help: "the question (or give it as the positional argument)" },
    { name: "modules", type: "string", help: "vision,text", default: "vision,text" },
    { name: "types", type: "string", help: "counterfactual types", default: SWEEP_TYPES.join(",") },
    {
      name: "layer-groups",
      type: "list",
      help: "[text=|vision=]GROUP;GROUP;… with GROUP = all | 0-7 | 1,3 | none (default: each layer alone)",
    },
    { name: "draws", type: "number", integer: true, min: 1, help: "seeded draws averaged for random/shuffle", default: 3 },
    { name: "seed", type: "number", integer: true, help: "seed of random/shuffle and of the bootstrap", default: 0 },
    {
      name: "bootstrap",
      type: "number",
      integer: true,
      min: 0,
      help: "bootstrap resamples over questions for the 95% intervals",
      default: 1000,
    },
    { name: "batch", type: "number", integer: true, min: 1, help: "counterfactual rows per batched forward", default: 8 },
    { name: "metric", type: "string", help: "what the PNG shows", choices: ["kl", "dLogOdds", "argmaxFlip", "yesNoFlip"], default: "kl" },
    { name: "out", type: "string", help: "output prefix: writes PREFIX.json, PREFIX.csv, PREFIX.png" },
    ...PROGRESS_OPTIONS,
  ],
  run,
});
