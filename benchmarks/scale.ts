// LLaVA-1.5-7B at full size on this machine (not CI): the memory plan per backend, the refusal of an
// impossible plan, and `causalmm ask` with one image and a one-word answer — load time, peak RSS,
// time to first token, ms per token — plain and CausalMM multimodal (`--cf both`), per residency
// policy, on the default backend (wasm). On cpu (pure JS: a full 7B answer takes hours) the plan, and
// agreement with wasm on a real-width model of a few layers.
//
// Make the models first (random weights in the exact llava-hf layout):
//   causalmm lab random --like llava-1.5-7b --out /work/data/llava-7b-random
//   causalmm lab random --like llava-1.5-7b --text-layers 2 --vision-layers 2 --out /work/data/llava-7b-random-t2v2
// Build with `npx tsc -p tsconfig.json`, then
//   node dist/benchmarks/scale.js CASE... [--model DIR] [--small DIR] [--log FILE]
// CASE: plan | refuse | ask:POLICY[:cf] (POLICY auto|all|stream|budget=3GiB; runs under
// `flock /work/coord/bigmem.lock` and /usr/bin/time) | agree | report. Each case appends one JSON
// line to the log (default /work/data/scale-results.jsonl); `report` prints the tables from it.
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../src/paths.js";
import { fixturesDir, table } from "./common.js";
import { agreeChild, agreeRow, type ScaleRow } from "./scale-agree.js";
import { runTimed, type Timed } from "./scale-run.js";

const CLI = join(PACKAGE_ROOT, "dist", "src", "cli", "main.js");
const LOCK = "/work/coord/bigmem.lock";
const QUESTION = "Is there a cat in the image?";

interface Args {
  cases: string[];
  model: string;
  small: string;
  log: string;
  image: string;
}

function parse(argv: string[]): Args {
  const a: Args = {
    cases: [],
    model: "/work/data/llava-7b-random",
    small: "/work/data/llava-7b-random-t2v2",
    log: "/work/data/scale-results.jsonl",
    image: "",
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === "--model") a.model = argv[++i];
    else if (k === "--small") a.small = argv[++i];
    else if (k === "--log") a.log = argv[++i];
    else if (k === "--image") a.image = argv[++i];
    else a.cases.push(k);
  }
  a.image ||= join(fixturesDir(), "preprocess", "chelsea.png");
  return a;
}

function record(a: Args, row: Record<string, unknown>): void {
  appendFileSync(a.log, JSON.stringify({ at: new Date().toISOString(), ...row }) + "\n");
  process.stdout.write(JSON.stringify(row) + "\n");
}

/** `causalmm plan` per backend: the policy it picks and whether it fits (no weights are read). */
async function plan(a: Args): Promise<void> {
  for (const backend of ["wasm", "cpu"]) {
    const r = await runTimed(["node", CLI, "plan", "--model", a.model, "--backend", backend, "--max-new-tokens", "8"]);
    record(a, { case: "plan", backend, status: r.status, seconds: r.seconds, peakRssKiB: r.peakKiB, output: r.stdout.trim() });
  }
}

/** `causalmm ask` on the model and image of the run, one-word, with the given flags (the question goes last). */
function askCommand(a: Args, backend: string, flags: string[]): string[] {
  return ["node", CLI, "ask", "--model", a.model, "--backend", backend, ...flags, "--image", a.image, "--one-word"];
}

/** An impossible plan (all weights as float32 on wasm's 4 GiB heap, or on cpu in 24 GB) must be refused at once. */
async function refuse(a: Args): Promise<void> {
  for (const backend of ["wasm", "cpu"]) {
    const r = await runTimed([...askCommand(a, backend, ["--residency", "all"]), QUESTION]);
    record(a, {
      case: "refuse",
      backend,
      status: r.status,
      seconds: r.seconds,
      peakRssKiB: r.peakKiB,
      message: r.stderr.trim().split("\n").slice(-3).join(" "),
    });
  }
}

/** One `causalmm ask` on the full model: a one-word answer (2 new tokens gives one timed decode step). */
async function ask(a: Args, spec: string): Promise<void> {
  const [, policy, cf] = spec.split(":");
  const flags = policy.startsWith("budget=") ? ["--resident", policy.slice(7)] : ["--residency", policy];
  if (cf) flags.push("--cf", "both");
  const cmd = [...askCommand(a, "wasm", flags), "--max-new-tokens", "2", "--json", "--verbose", QUESTION];
  const r = await runTimed(["flock", LOCK, ...cmd]);
  const json =
    r.status === 0 ? (JSON.parse(r.stdout.trim().split("\n").pop()!) as { text: string; timings: Record<string, number> }) : undefined;
  record(a, {
    case: "ask",
    policy,
    cf: cf ? "both" : "none",
    status: r.status,
    seconds: r.seconds,
    peakRssKiB: r.peakKiB,
    timings: json?.timings,
    text: json?.text,
    stderr: r.stderr.trim().split("\n").slice(-12).join("\n"),
  });
}

function gib(kib: number | undefined): string {
  return kib === undefined ? "?" : (kib / 1024 ** 2).toFixed(2);
}

function report(a: Args): void {
  const rows = existsSync(a.log)
    ? readFileSync(a.log, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as ScaleRow)
    : [];
  const last = new Map<string, ScaleRow>();
  for (const r of rows) last.set(`${r.case}|${r.backend ?? ""}|${r.policy ?? ""}|${r.cf ?? ""}|${r.model ?? ""}`, r);
  const pick = (c: string) => [...last.values()].filter((r) => r.case === c);
  const s = (ms: number | undefined) => (ms === undefined ? "?" : (ms / 1000).toFixed(1));
  console.log(
    table(
      ["case", "backend", "exit", "wall s", "peak RSS GiB", "output"],
      [...pick("plan"), ...pick("refuse")].map((r) => [
        r.case,
        r.backend ?? "?",
        String(r.status),
        r.seconds.toFixed(2),
        gib(r.peakRssKiB),
        String(r.output ?? r.message)
          .split("\n")
          .slice(0, 1)
          .join(""),
      ]),
    ),
  );
  console.log();
  console.log(
    table(
      ["policy", "cf", "exit", "load s", "image+CLIP s", "prefill s (tokens)", "first token s", "ms/token", "wall s", "peak RSS GiB"],
      pick("ask").map((r) => {
        const t = r.timings ?? {};
        const first = t.loadMs !== undefined ? t.loadMs + (t.imageMs ?? 0) + t.visionEncodeMs + t.prefillMs : undefined;
        const perTok = t.decodeTokens ? (t.decodeMs / t.decodeTokens).toFixed(0) : "?";
        return [
          r.policy ?? "?",
          r.cf ?? "?",
          String(r.status),
          s(t.loadMs),
          s(t.imageMs !== undefined ? t.imageMs + t.visionEncodeMs : undefined),
          `${s(t.prefillMs)} (${t.prefillTokens ?? "?"})`,
          s(first),
          perTok,
          r.seconds.toFixed(0),
          gib(r.peakRssKiB),
        ];
      }),
    ),
  );
  const agree = pick("agree");
  if (agree.length) {
    console.log();
    console.log(
      table(["model", "policy", "wasm s", "cpu s", "max |Δ image features|", "max |Δ logits|", "argmax equal"], agree.map(agreeRow)),
    );
  }
}

async function main(): Promise<void> {
  const a = parse(process.argv.slice(2));
  if (a.cases[0] === "--agree-child") return agreeChild(process.argv.slice(3));
  for (const c of a.cases) {
    if (c === "plan") await plan(a);
    else if (c === "refuse") await refuse(a);
    else if (c.startsWith("ask:")) await ask(a, c);
    else if (c === "agree") record(a, await runAgree(a));
    else if (c === "report") report(a);
    else throw new Error(`unknown case '${c}' (plan | refuse | ask:POLICY[:cf] | agree | report)`);
  }
}

async function runAgree(a: Args): Promise<Record<string, unknown>> {
  const out: Record<string, Timed & { result?: unknown }> = {};
  for (const backend of ["wasm", "cpu"]) {
    const r = await runTimed(["node", join(PACKAGE_ROOT, "dist", "benchmarks", "scale.js"), "--agree-child", backend, a.small, a.image]);
    out[backend] = { ...r, result: r.status === 0 ? JSON.parse(r.stdout.trim().split("\n").pop()!) : r.stderr.slice(-2000) };
  }
  return { case: "agree", model: a.small, policy: "stream", wasm: out.wasm, cpu: out.cpu };
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
