// `causalmm eval vlind` and `causalmm score vlind`: the VLind-Bench pieces of the eval and score commands.
import { dirname, join } from "node:path";
import type { OptionSpec, ParsedArgs } from "../args.js";
import { listOpt, need, numOpt, str } from "../args.js";
import type { EvalItem } from "../../eval/answerer.js";
import { readReleasePredictions, readVlindAnswers } from "../../eval/vlind-answers.js";
import { loadVlindData, vlindItems, VLIND_PROMPT_SETS, type VlindPrompts } from "../../eval/vlind-data.js";
import { formatVlind } from "../../eval/vlind-format.js";
import { scoreVlind, VLIND_STYLES } from "../../eval/vlind-score.js";

/** Options both commands read. */
export const VLIND_OPTIONS: OptionSpec[] = [
  { name: "data", type: "string", help: "vlind: VLind-Bench data.json (images in <its folder>/images/{counterfactual,factual})" },
  { name: "vote-thres", type: "number", min: 0, help: "vlind: votes an image needs to count as good (default 2, as released)" },
];

export const VLIND_EVAL_OPTIONS: OptionSpec[] = [
  { name: "image-dir", type: "string", help: "vlind: counterfactual images (default: <data dir>/images/counterfactual)" },
  { name: "factual-image-dir", type: "string", help: "vlind: factual images (default: <data dir>/images/factual)" },
  {
    name: "vlind-prompts",
    type: "string",
    choices: Object.keys(VLIND_PROMPT_SETS),
    help: "vlind: prompt wordings: reversed (instructblip_eval.py, default) or gpt4o (gpt4o_eval.py)",
  },
];

export const VLIND_SCORE_OPTIONS: OptionSpec[] = [
  { name: "style", type: "string", choices: Object.keys(VLIND_STYLES), help: "vlind: score images of one style only (default all)" },
  { name: "pred-file", type: "string", help: "vlind: score the release's own prediction file (data.json with <model>_pred_* entries)" },
  { name: "model-id", type: "string", help: "vlind: with --pred-file, the release's -mid (e.g. gpt4o, instructblip)" },
];

/** The probes to answer: six per instance with a good image, plus two per good image. */
export function loadVlindRun(args: ParsedArgs, checkImages: boolean): { items: EvalItem[]; source: string } {
  const data = need(args, "data", "eval vlind");
  const root = dirname(data);
  const items = vlindItems(loadVlindData(data), {
    imageDir: str(args, "image-dir") ?? join(root, "images", "counterfactual"),
    factualImageDir: str(args, "factual-image-dir") ?? join(root, "images", "factual"),
    voteThreshold: numOpt(args, "vote-thres"),
    prompts: str(args, "vlind-prompts") as VlindPrompts | undefined,
    checkImages,
  });
  return { items, source: data };
}

export function scoreVlindCmd(args: ParsedArgs, print: (json: unknown, text: string) => void): number {
  const o = { voteThreshold: numOpt(args, "vote-thres"), style: str(args, "style") };
  const pred = str(args, "pred-file");
  const answers = listOpt(args, "answers");
  if (pred) {
    if (answers.length) throw new Error("score vlind: give --answers (with --data) or --pred-file (with --model-id), not both");
    const modelId = need(args, "model-id", "score vlind --pred-file");
    const { data, answer } = readReleasePredictions(pred, modelId);
    const report = scoreVlind(data, answer, { ...o, source: pred });
    print(report, formatVlind(report, modelId));
    return 0;
  }
  if (answers.length !== 1) {
    throw new Error("score vlind: give one --answers file (from eval vlind) and --data, or --pred-file with --model-id");
  }
  const report = scoreVlind(loadVlindData(need(args, "data", "score vlind")), readVlindAnswers(answers[0]), { ...o, source: answers[0] });
  print(report, formatVlind(report));
  return 0;
}
