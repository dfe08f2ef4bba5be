// `npm run fuzz -- [--cases N] [--seed S] [--target NAME]... [--case N] [--json FILE] [--show-accepted]`
// A seeded mutation-fuzz campaign over every loader; prints a tally per target and class, then
// every failing case (with the command that replays it) and every accepted mutated header.
import { existsSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { FAILURE_CLASSES, formatTally, replayCommand, runCampaign, type CaseResult } from "./campaign.js";

interface Args {
  cases: number;
  seed: number;
  targets: string[];
  only?: number;
  json?: string;
  showAccepted: boolean;
  quiet: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { cases: 400, seed: (Date.now() % 1_000_000) >>> 0, targets: [], showAccepted: false, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${k} needs a value`);
      return x;
    };
    const int = (): number => {
      const s = v();
      if (!/^\d+$/.test(s)) throw new Error(`${k} must be a non-negative integer, got ${JSON.stringify(s)}`);
      return Number(s);
    };
    if (k === "--cases") a.cases = int();
    else if (k === "--seed") a.seed = int();
    else if (k === "--target") a.targets.push(v());
    else if (k === "--case") a.only = int();
    else if (k === "--json") a.json = v();
    else if (k === "--show-accepted") a.showAccepted = true;
    else if (k === "--quiet") a.quiet = true;
    else throw new Error(`unknown option ${k} (options: --cases N --seed S --target NAME --case N --json FILE --show-accepted --quiet)`);
  }
  return a;
}

function fixturesDir(): string {
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");
  for (const d of [process.env.CAUSALMM_FIXTURES, join(repo, "..", "shared", "fixtures")]) {
    if (d && existsSync(join(d, "README.md"))) return resolve(d);
  }
  throw new Error("the fuzzers need the shared fixtures: set CAUSALMM_FIXTURES or place them at ../shared/fixtures");
}

function show(r: CaseResult, seed: number, full: boolean): string {
  const msg = (r.message ?? "").split("\n")[0].slice(0, 300);
  const stack =
    full && r.stack
      ? "\n      " +
        r.stack
          .split("\n")
          .slice(1, 6)
          .map((s) => s.trim())
          .join("\n      ")
      : "";
  return (
    `  [${r.cls}] ${r.target} #${r.index} (${r.ms.toFixed(0)} ms, +${r.growthMb} MiB of ${r.budgetMb}): ${r.what}\n` +
    `    ${msg}${stack}\n    replay: ${replayCommand(seed, r)}`
  );
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const fixtures = fixturesDir();
  const total = args.only !== undefined ? 1 : args.cases;
  console.log(`fuzz campaign: seed ${args.seed}, ${total} case(s)${args.targets.length ? `, targets ${args.targets.join(", ")}` : ""}`);
  let last = performance.now();
  const rep = await runCampaign({
    seed: args.seed,
    cases: args.cases,
    fixtures,
    targets: args.targets,
    only: args.only,
    onCase: (r, done) => {
      if (!args.quiet && FAILURE_CLASSES.includes(r.cls)) console.log(show(r, args.seed, false));
      if (performance.now() - last > 15_000) {
        last = performance.now();
        console.log(`  … ${done}/${total} cases`);
      }
    },
  });
  console.log(`\n${formatTally(rep)}\n\n${rep.cases} cases in ${rep.seconds.toFixed(0)} s, seed ${rep.seed}`);
  const failures = rep.results.filter((r) => FAILURE_CLASSES.includes(r.cls));
  if (failures.length) console.log(`\nFailures (${failures.length}):\n${failures.map((r) => show(r, rep.seed, true)).join("\n")}`);
  const accepted = rep.results.filter((r) => r.cls === "accepted" && r.header);
  console.log(`\nAccepted mutated headers/configs (${accepted.length}):`);
  for (const r of args.showAccepted || args.only !== undefined ? accepted : accepted.slice(0, 40))
    console.log(`  ${r.target} #${r.index}: ${r.what}`);
  if (!args.showAccepted && accepted.length > 40) console.log(`  … ${accepted.length - 40} more (--show-accepted or --json lists all)`);
  const byDesign = rep.results.filter((r) => r.cls === "accepted" && r.byDesign);
  if (byDesign.length)
    console.log(`\nAccepted by design (${byDesign.length}): ${[...new Set(byDesign.map((r) => `${r.target}: ${r.byDesign}`))].join("; ")}`);
  if (args.only !== undefined) {
    const r = rep.results[0];
    console.log(`\ncase ${r.index}: ${r.cls}\n  ${r.what}\n  ${r.message ?? "(accepted)"}${r.stack ? "\n" + r.stack : ""}`);
  }
  if (args.json) writeFileSync(args.json, JSON.stringify(rep, null, 1));
  process.exitCode = failures.length ? 1 : 0;
}

main().catch((e: Error) => {
  console.error(`fuzz: ${e.message}`);
  process.exitCode = 2;
});
