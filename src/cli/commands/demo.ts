// `causalmm demo`: the main job. On the embedded lab model (or --model): synthetic POPE with regular,
// greedy, baseline and CausalMM decoding, a table per split, and the heatmap + HTML explorer of one
// hallucinated answer, all written under --out.
import { writeFileSync } from "node:fs";
import { makeDirs } from "../../util/files.js";
import { join, resolve } from "node:path";
import type { ParsedArgs } from "../args.js";
import { defineCommand, numOpt, str } from "../args.js";
import { withLlava } from "../load.js";
import { DEMO_QUESTIONS_FILE, demoTable, hallucinatedExample, runDemo } from "../../lab/demo.js";
import { exploreAnswer, explorerPage } from "../../introspect/explore.js";
import { renderRecording } from "../../introspect/render.js";
import { ONE_WORD_SUFFIX } from "../../text/index.js";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

async function run(args: ParsedArgs): Promise<void> {
  const out = resolve(str(args, "out") ?? "demo-out");
  const t0 = performance.now();
  const log = (s: string) => process.stderr.write(s + "\n");
  await withLlava(args, async (llava) => {
    log(
      `model ${llava.dir} (${llava.model.config.text.numLayers} text layers, ${llava.model.numImageTokens} image tokens); writing to ${out}`,
    );
    const res = await runDemo(llava, { out, perSplit: numOpt(args, "questions") ?? 60, seed: numOpt(args, "seed") ?? 2026, log });
    process.stdout.write(
      `\nSynthetic POPE on held-out lab scenes (accuracy % / F1 % / yes-ratio; VCD/CausalMM scoring rule)\n\n${demoTable(res.rows)}\n\n`,
    );
    const example = hallucinatedExample(res.items, res.answers);
    if (example) {
      const { rec, topk } = await exploreAnswer(llava, {
        image: example.image,
        question: example.question,
        suffix: ONE_WORD_SUFFIX,
        maxNewTokens: 3,
        cf: "both",
        select: {
          text: { layers: range(llava.model.config.text.numLayers) },
          vision: { layers: range(llava.model.config.vision.numLayers) },
        },
      });
      const dir = join(out, "example");
      makeDirs(dir, "the demo's example heatmaps");
      const files = await renderRecording(rec, dir, {});
      writeFileSync(join(out, "explorer.html"), await explorerPage(rec, { topk, cf: "both" }));
      process.stdout.write(
        `hallucinated example (${example.category}): "${example.question}" (truth: ${example.label}); greedy said yes\n`,
      );
      process.stdout.write(
        `  heatmaps: ${files.map((f) => join("example", f.file)).join(", ")}\n  explorer: ${join(out, "explorer.html")}\n`,
      );
    } else process.stdout.write("no hallucinated example among these questions (greedy never said yes to an absent object)\n");
    process.stdout.write(
      `results: ${join(out, "results.json")}, answers: ${join(out, "answers")}/ — ${((performance.now() - t0) / 1000).toFixed(0)} s in all\n`,
    );
    process.stdout.write(
      `rescore: causalmm score pope --answers ${join(out, res.rows[0]?.answers ?? "answers/greedy.jsonl")} --questions ${join(out, DEMO_QUESTIONS_FILE)}\n`,
    );
  });
}

export const demoCommand = defineCommand({
  name: "demo",
  summary: "main job: synthetic POPE on the embedded lab model, regular vs VCD vs CausalMM, heatmap + explorer",
  usage: "causalmm demo [--model DIR] [--out DIR] [--questions N] [--seed S] [--backend B]",
  options: [
    { name: "model", type: "string", help: "model directory (default: the embedded lab model)" },
    { name: "out", type: "string", help: "output directory", default: "demo-out" },
    { name: "questions", type: "number", integer: true, min: 1, help: "questions per POPE split", default: 60 },
    { name: "seed", type: "number", integer: true, help: "seed of the held-out scenes and of sampling", default: 2026 },
  ],
  run,
});
