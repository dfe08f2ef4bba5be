// Did a change make anything slower? Builds two git revisions in their own directories and runs the same
// benchmarks on both, interleaved round by round (A B, then B A, ...), so the machine's drift hits both alike;
// prints, for every number in every table the benchmarks print, its median over rounds per revision and B / A.
// Run: npm run build && node dist/benchmarks/compare-revs.js REV_A REV_B [--rounds 3] [--benches model,causal]
//        [--args-causal "--backends wasm"] [--args-model "..."] [--no-native] [--keep] [--save DIR]
//      node dist/benchmarks/compare-revs.js --from-saved DIR   (the medians of the runs saved there so far)
// REV_A / REV_B may also be already built checkouts (a directory holding dist/benchmarks, e.g. a git worktree
// with work in progress, built with `npx tsc -p tsconfig.json`): those are run as they are, not built.
// --no-native skips building the C++ GEMM addon, so both revisions run on tfjs ops (quicker to build).
// --save DIR keeps every run's output as DIR/BENCH.A.ROUND.txt (and B); --from-saved DIR summarizes them.
// Both revisions use this checkout's node_modules (same dependencies: pass revisions whose package.json agree).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PACKAGE_ROOT } from "../src/paths.js";
import { fixturesDir, median, table } from "./common.js";

interface Options {
  revs: [string, string];
  rounds: number;
  benches: string[];
  args: Record<string, string[]>;
  native: boolean;
  keep: boolean;
  save?: string;
  fromSaved?: string;
}

type Label = "A" | "B";

/** One built revision: where it lives and what it is (sha "" for a checkout given as a directory). */
interface Rev {
  label: Label;
  name: string;
  sha: string;
  dir: string;
}

/** Numbers read from one benchmark run, keyed `bench · table n · row label · column`. */
type Cells = Map<string, number>;

function parse(argv: string[]): Options {
  const revs: string[] = [];
  const o: Options = { revs: ["", ""], rounds: 3, benches: ["model", "causal"], args: {}, native: true, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`compare-revs: ${a} needs a value`);
      return argv[++i];
    };
    if (a === "--rounds") o.rounds = Number(value());
    else if (a === "--benches") o.benches = value().split(",").filter(Boolean);
    else if (a.startsWith("--args-")) o.args[a.slice("--args-".length)] = value().split(/\s+/).filter(Boolean);
    else if (a === "--keep") o.keep = true;
    else if (a === "--no-native") o.native = false;
    else if (a === "--save") o.save = value();
    else if (a === "--from-saved") o.fromSaved = value();
    else if (a.startsWith("--")) throw new Error(`compare-revs: unknown option ${a}`);
    else revs.push(a);
  }
  if (o.fromSaved !== undefined) return o;
  if (revs.length !== 2)
    throw new Error(
      "usage: compare-revs REV_A REV_B [--rounds N] [--benches model,causal] [--args-BENCH '...'] [--no-native] [--keep] [--save DIR]" +
        " | compare-revs --from-saved DIR",
    );
  if (!Number.isInteger(o.rounds) || o.rounds < 1) throw new Error(`compare-revs: --rounds must be a positive integer (got ${o.rounds})`);
  for (const b of o.benches) {
    if (!existsSync(join(PACKAGE_ROOT, "benchmarks", `${b}.ts`))) throw new Error(`compare-revs: no benchmark benchmarks/${b}.ts`);
  }
  o.revs = [revs[0], revs[1]];
  return o;
}

function git(...args: string[]): string {
  return execFileSync("git", ["-C", PACKAGE_ROOT, ...args], { encoding: "utf8" }).trim();
}

/** Directories made so far, removed at the end (also when a build fails). */
const made: string[] = [];

/** A built checkout is used as it is; a revision's tree is exported (no .git, nothing of this checkout's work in
 *  progress) and built. */
function build(label: Label, name: string, native: boolean): Rev {
  if (existsSync(join(name, "dist", "benchmarks"))) {
    process.stderr.write(`${label} = ${resolve(name)}: a built checkout, run as it is\n`);
    return { label, name, sha: "", dir: resolve(name) };
  }
  const sha = git("rev-parse", "--verify", `${name}^{commit}`);
  const dir = mkdtempSync(join(tmpdir(), `causalmm-${label}-${sha.slice(0, 8)}-`));
  made.push(dir);
  execFileSync("sh", ["-c", `git -C "$0" archive --format=tar "$1" | tar -x -C "$2"`, PACKAGE_ROOT, sha, dir]);
  symlinkSync(join(PACKAGE_ROOT, "node_modules"), join(dir, "node_modules"));
  process.stderr.write(`${label} = ${name} (${sha.slice(0, 12)}): building in ${dir}\n`);
  execFileSync(join(PACKAGE_ROOT, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"], { cwd: dir, stdio: "inherit" });
  const scripts = (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { scripts?: Record<string, string> }).scripts ?? {};
  if (native && scripts["build:native"]) {
    // as the package's install step does: a failed addon build leaves that revision on tfjs ops, said here
    const r = spawnSync("npm", ["run", "--silent", "build:native"], { cwd: dir, encoding: "utf8" });
    process.stderr.write(`${label}: native addon ${r.status === 0 ? "built" : "did not build (tfjs ops are used)"}\n`);
  }
  return { label, name, sha, dir };
}

/** Every number in the `| a | b |` tables of a benchmark's output, keyed by its table, row and column. */
export function tableCells(bench: string, output: string): Cells {
  const cells: Cells = new Map();
  let n = 0;
  let header: string[] | null = null;
  for (const line of output.split("\n")) {
    if (!line.startsWith("|")) {
      header = null;
      continue;
    }
    const row = line
      .slice(1, -1)
      .split("|")
      .map((c) => c.trim());
    if (!header) {
      // a repeated column name ("× plain" after each time) is told apart by the column before it
      header = row.map((h, i) => (row.indexOf(h) < i ? `${h} (${row[i - 1]})` : h));
      n++;
      continue;
    }
    if (row.every((c) => /^-+$/.test(c))) continue;
    const isNumber = (c: string) => c !== "" && Number.isFinite(Number(c));
    const label = row.filter((c) => c !== "" && !isNumber(c)).join(" / ");
    row.forEach((c, i) => {
      if (!isNumber(c)) return;
      const key = `${bench} · table ${n} · ${label} · ${header![i] ?? `column ${i + 1}`}`;
      let k = key;
      for (let dup = 2; cells.has(k); dup++) k = `${key} #${dup}`; // rows with the same labels keep their order
      cells.set(k, Number(c));
    });
  }
  return cells;
}

function runBench(rev: Rev, bench: string, args: string[], env: NodeJS.ProcessEnv): string {
  const t0 = performance.now();
  const r = spawnSync("node", [join("dist", "benchmarks", `${bench}.js`), ...args], {
    cwd: rev.dir,
    env,
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  const s = ((performance.now() - t0) / 1000).toFixed(0);
  if (r.status !== 0) throw new Error(`${rev.label} (${rev.name}): benchmarks/${bench} exited ${r.status}:\n${r.stderr.slice(-2000)}`);
  process.stderr.write(`  ${rev.label} ${bench}: ${s} s\n`);
  return r.stdout;
}

/** The medians per cell for A and B and B / A, as a table under a heading line. */
function report(heading: string, rounds: number, seen: Record<Label, Map<string, number[]>>): void {
  const keys = [...new Set([...seen.A.keys(), ...seen.B.keys()])];
  const med = (label: Label, k: string) => (seen[label].has(k) ? median(seen[label].get(k)!) : undefined);
  const rows = keys.map((k) => {
    const [a, b] = [med("A", k), med("B", k)];
    return [k, a ?? "—", b ?? "—", a !== undefined && b !== undefined && a !== 0 ? (b / a).toFixed(3) : "—"];
  });
  console.log(
    `${heading}; medians over ${rounds} interleaved rounds; for times lower is better, for rates (tok/s, q/s) higher is better\n`,
  );
  console.log(table(["benchmark · table · row · column", "A", "B", "B / A"], rows));
}

function record(seen: Map<string, number[]>, cells: Cells): void {
  for (const [key, x] of cells) {
    const xs = seen.get(key) ?? [];
    xs.push(x);
    seen.set(key, xs);
  }
}

/** The runs a `--save DIR` left (BENCH.A.ROUND.txt and BENCH.B.ROUND.txt), summarized. */
export function fromSaved(dir: string): void {
  const seen: Record<Label, Map<string, number[]>> = { A: new Map(), B: new Map() };
  const runs = readdirSync(dir)
    .map((f) => /^(.+)\.([AB])\.(\d+)\.txt$/.exec(f))
    .filter((m) => m !== null)
    .sort((x, y) => Number(x[3]) - Number(y[3]));
  if (!runs.length) throw new Error(`compare-revs: no saved runs (BENCH.A.1.txt, ...) in ${dir}`);
  for (const [f, bench, label] of runs) record(seen[label as Label], tableCells(bench, readFileSync(join(dir, f), "utf8")));
  const heading = existsSync(join(dir, "revs.txt")) ? readFileSync(join(dir, "revs.txt"), "utf8").trim() : `A, B as saved in ${dir}`;
  report(heading, Math.max(...runs.map((m) => Number(m[3]))), seen);
}

function main(): void {
  const o = parse(process.argv.slice(2));
  if (o.fromSaved !== undefined) return fromSaved(o.fromSaved);
  const env = { ...process.env, CAUSALMM_FIXTURES: fixturesDir() };
  const revs: Rev[] = [];
  try {
    revs.push(build("A", o.revs[0], o.native), build("B", o.revs[1], o.native));
    const heading = revs.map((r) => `${r.label} = ${r.sha ? `${r.name} (${r.sha.slice(0, 12)})` : r.dir}`).join(", ");
    if (o.save) {
      mkdirSync(o.save, { recursive: true });
      writeFileSync(join(o.save, "revs.txt"), heading + "\n");
    }
    const seen: Record<Label, Map<string, number[]>> = { A: new Map(), B: new Map() };
    for (let round = 0; round < o.rounds; round++) {
      process.stderr.write(`round ${round + 1}/${o.rounds}\n`);
      const order = round % 2 === 0 ? revs : [...revs].reverse();
      for (const bench of o.benches) {
        for (const rev of order) {
          const out = runBench(rev, bench, o.args[bench] ?? [], env);
          if (o.save) writeFileSync(join(o.save, `${bench}.${rev.label}.${round + 1}.txt`), out);
          record(seen[rev.label], tableCells(bench, out));
        }
      }
    }
    report(heading, o.rounds, seen);
  } finally {
    if (o.keep) process.stderr.write(`kept: ${made.join(" ")}\n`);
    else for (const dir of made) rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
