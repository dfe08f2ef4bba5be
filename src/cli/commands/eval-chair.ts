// `causalmm eval chair` and `causalmm score chair`: the CHAIR pieces of the eval and score commands.
import type { OptionSpec, ParsedArgs } from "../args.js";
import { listOpt, need, numOpt, str } from "../args.js";
import type { EvalItem } from "../../eval/answerer.js";
import { CHAIR_PROMPT, chairItems, loadChairVocab } from "../../eval/chair-data.js";
import { chairIntervals, formatChairIntervals } from "../../eval/chair-intervals.js";
import { formatChair, loadChairTruth, readChairCaptions, scoreChair } from "../../eval/chair-score.js";
import { ChairExtractor } from "../../eval/chair-words.js";
import { writeFileAtomic } from "../../eval/jsonl.js";

export const CHAIR_OPTIONS: OptionSpec[] = [
  {
    name: "annotations",
    type: "list",
    help: "chair: COCO instances_*.json / captions_*.json, or JSONL {image_id, objects|caption} (repeatable)",
  },
  { name: "synonyms", type: "string", help: "chair: vocabulary file in chair.py's synonyms.txt format (default: the 80 COCO classes)" },
  { name: "chair-prompt", type: "string", help: `chair: the captioning instruction (default "${CHAIR_PROMPT}", OPERA's)` },
];

function extractor(args: ParsedArgs): ChairExtractor {
  return new ChairExtractor(loadChairVocab(str(args, "synonyms")));
}

/** The images to caption: those in --image-folder that the annotations cover. */
export function loadChairRun(args: ParsedArgs): { items: EvalItem[]; source: string } {
  const folder = need(args, "image-folder", "eval chair");
  const annotations = listOpt(args, "annotations");
  if (annotations.length === 0) throw new Error("eval chair: give --annotations (the images scored are those it covers)");
  const truth = loadChairTruth(annotations, extractor(args));
  return { items: chairItems(folder, { truth, prompt: str(args, "chair-prompt") }), source: folder };
}

export function scoreChairCmd(args: ParsedArgs, print: (json: unknown, text: string) => void): number {
  const ex = extractor(args);
  const truth = loadChairTruth(listOpt(args, "annotations"), ex);
  const answers = listOpt(args, "answers");
  if (answers.length === 0)
    throw new Error("score chair: give --answers (an eval chair answers file, or chair.py's {image_id, caption} JSONL)");
  const captions = answers.flatMap((a) => readChairCaptions(a, str(args, "image-id-key"), str(args, "caption-key")));
  const report = scoreChair(captions, truth, ex);
  const save = str(args, "save");
  if (save)
    writeFileAtomic(
      save,
      JSON.stringify(
        {
          sentences: report.sentences,
          overall_metrics: { CHAIRs: report.CHAIRs, CHAIRi: report.CHAIRi, Recall: report.Recall, Len: report.Len },
        },
        null,
        2,
      ) + "\n",
    );
  const intervals = chairIntervals(report.sentences, { resamples: numOpt(args, "resamples"), seed: numOpt(args, "seed") });
  const { sentences: _s, ...overall } = report;
  print({ ...overall, intervals }, `${formatChair(report)}\n${formatChairIntervals(intervals)}`);
  return 0;
}
