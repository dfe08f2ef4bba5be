// `causalmm ask`: one question about one picture. The answer streams to stdout token by token (or
// comes as one JSON object with --json); load progress and --verbose timings go to stderr.
import { withLlava } from "../load.js";
import type { ParsedArgs } from "../args.js";
import { defineCommand, need, str } from "../args.js";
import type { AskOptions, AskResult, Llava } from "../../api.js";
import { currentBackend } from "../../backend.js";
import { loadImage } from "../../vision/index.js";
import type { Timings } from "../../generate/generate.js";
import { writeFileSync } from "node:fs";
import { ASK_FLAGS, buildAskOptions, settingSources } from "../ask-flags.js";

function out(text: string): void {
  if (text) process.stdout.write(text);
}

/** A reader that stops early (`| head -c 20`) closes the pipe: that ends the command quietly. */
function exitOnClosedPipe(): void {
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e;
    process.exit(0);
  });
}

async function streamAnswer(m: Llava, image: Parameters<Llava["ask"]>[0], question: string, opts: AskOptions): Promise<AskResult> {
  const it = m.stream(image, question, opts);
  for (;;) {
    const r = await it.next();
    if (r.done) {
      out("\n");
      return r.value;
    }
    out(r.value.text);
  }
}

function fmt(ms: number): string {
  return `${ms.toFixed(2).padStart(10)} ms`;
}

/** llama.cpp-style timing lines. */
export function timingLines(t: Timings): string[] {
  const perTok = (ms: number, n: number) => (n > 0 ? `${(ms / n).toFixed(2)} ms per token, ` : "");
  return [
    `load time      = ${fmt(t.loadMs ?? 0)}`,
    `image          = ${fmt(t.imageMs ?? 0)} (decode + preprocess)`,
    `vision encode  = ${fmt(t.visionEncodeMs)}`,
    `prefill        = ${fmt(t.prefillMs)} / ${String(t.prefillTokens).padStart(5)} tokens (` +
      `${perTok(t.prefillMs, t.prefillTokens)}${t.prefillTokensPerSec.toFixed(2)} tok/s)`,
    `decode         = ${fmt(t.decodeMs)} / ${String(t.decodeTokens).padStart(5)} runs   (` +
      `${perTok(t.decodeMs, t.decodeTokens)}${t.decodeTokensPerSec.toFixed(2)} tok/s)`,
    `total          = ${fmt((t.loadMs ?? 0) + (t.imageMs ?? 0) + t.totalMs)} / ${String(t.generatedTokens).padStart(5)} new tokens`,
  ];
}

async function run(args: ParsedArgs): Promise<void> {
  const question = args.positional.join(" ").trim();
  if (!question) throw new Error('ask: a question is required, e.g. causalmm ask --image photo.jpg "What is in this picture?"');
  const imagePath = need(args, "image", "ask");
  const opts = buildAskOptions(args);
  const verbose = Boolean(args.opts.verbose);
  exitOnClosedPipe();
  // The image first: a bad file should fail in milliseconds, not after loading gigabytes of weights.
  const t0 = performance.now();
  const image = await loadImage(imagePath);
  const decodeMs = performance.now() - t0;
  await withLlava(args, async (m) => {
    if (verbose) process.stderr.write(`backend: ${currentBackend()?.name} (${currentBackend()?.package}), model: ${m.dir}\n`);
    const res = args.opts.json ? await m.ask(image, question, opts) : await streamAnswer(m, image, question, opts);
    res.timings.imageMs = (res.timings.imageMs ?? 0) + decodeMs;
    const settings = { ...res.settings, model: m.dir, image: imagePath, question, sources: settingSources(args, opts) };
    const saveTo = str(args, "save-settings");
    if (saveTo) writeFileSync(saveTo, JSON.stringify(settings, null, 2) + "\n");
    if (args.opts.json) {
      out(JSON.stringify({ ids: res.tokens, text: res.text, finishReason: res.finishReason, timings: res.timings, settings }) + "\n");
    }
    if (verbose) {
      if (res.settings.seed !== undefined) process.stderr.write(`seed: ${res.settings.seed}\n`);
      process.stderr.write(timingLines(res.timings).join("\n") + "\n");
    }
  });
}

export const askCommand = defineCommand({
  name: "ask",
  summary: "ask the model a question about a picture (answer streamed to stdout)",
  usage:
    "causalmm ask --model DIR --image FILE [--template llava_v1|llava-hf] [--mode crop|pad] [--max-new-tokens N] " +
    "[--temperature T --top-p P --top-k K --seed S] [--stop S] " +
    "[--cf SPEC ... | --preset official | --baseline vcd|noimage|icd|pai [--pai-alpha A --pai-start-layer S --pai-end-layer E]] " +
    '[--gamma G --epsilon E --draws K] [--json] [--verbose] "question"',
  options: ASK_FLAGS,
  run,
});
