// Before/after of one benchmark across two built checkouts, interleaved (A, B, A, B, …: this machine's
// speed drifts within minutes), with the median of every numeric table cell over the runs.
// Run: npm run build && node dist/benchmarks/ab.js --a DIR --b DIR [--runs 3] [--save DIR] -- model.js [args…]
//      (each DIR is a checkout built with `npx tsc -p tsconfig.json`; the script runs DIR/dist/benchmarks/<script>;
//      --save keeps every run's output as a-1.txt, b-1.txt, …; --from-saved DIR summarizes the runs saved there)
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { median, table } from "./common.js";

interface Table {
  header: string[];
  rows: string[][];
}

/** The markdown tables of a benchmark's output (blocks of `|` lines: header, separator, rows). */
export function tablesOf(out: string): Table[] {
  const tables: Table[] = [];
  let block: string[][] = [];
  const cells = (l: string) =>
    l
      .trim()
      .slice(1, -1)
      .split("|")
      .map((c) => c.trim());
  for (const line of [...out.split("\n"), ""]) {
    if (line.trim().startsWith("|")) block.push(cells(line));
    else if (block.length) {
      tables.push({ header: block[0], rows: block.slice(2) });
      block = [];
    }
  }
  return tables;
}

/** Per cell: the median over runs where every run has a number there, else the first run's text. */
export function medianCells(runs: Table[][]): (string | number)[][][] {
  return runs[0].map((t, k) =>
    t.rows.map((row, r) =>
      row.map((cell, c) => {
        const values = runs.map((run) => Number(run[k]?.rows[r]?.[c]));
        return cell !== "" && values.every(Number.isFinite) ? median(values) : cell;
      }),
    ),
  );
}

function main(): void {
  const argv = process.argv.slice(2);
  const opt = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
  const saved = opt("--from-saved");
  const outs: Record<"a" | "b", Table[][]> = { a: [], b: [] };
  let title: string;
  if (saved) {
    for (let i = 1; existsSync(join(saved, `a-${i}.txt`)) && existsSync(join(saved, `b-${i}.txt`)); i++) {
      for (const key of ["a", "b"] as const) outs[key].push(tablesOf(readFileSync(join(saved, `${key}-${i}.txt`), "utf8")));
    }
    if (!outs.a.length) throw new Error(`ab: no saved runs (a-1.txt and b-1.txt) in ${saved}`);
    title = `${saved}: medians over ${outs.a.length} interleaved runs`;
  } else {
    const [a, b] = [opt("--a"), opt("--b")];
    const sep = argv.indexOf("--");
    if (!a || !b || sep < 0 || sep + 1 >= argv.length)
      throw new Error("usage: ab.js --a DIR --b DIR [--runs N] [--save DIR] -- SCRIPT.js [args…]");
    const runs = Number(opt("--runs") ?? 3);
    const save = opt("--save");
    if (save) mkdirSync(save, { recursive: true });
    const [script, ...args] = argv.slice(sep + 1);
    for (let i = 0; i < runs; i++) {
      for (const [key, dir] of [
        ["a", a],
        ["b", b],
      ] as const) {
        const out = execFileSync(process.execPath, [join(dir, "dist", "benchmarks", script), ...args], {
          cwd: dir,
          encoding: "utf8",
          maxBuffer: 64 << 20,
        });
        if (save) writeFileSync(join(save, `${key}-${i + 1}.txt`), out);
        process.stderr.write(`run ${i + 1}/${runs} ${key} (${dir}) done\n`);
        outs[key].push(tablesOf(out));
      }
    }
    title = `${script} ${args.join(" ")}: medians over ${runs} interleaved runs\na = ${a}\nb = ${b}`;
  }
  const [ma, mb] = [medianCells(outs.a), medianCells(outs.b)];
  console.log(`${title}; each cell reads a → b (b / a)`);
  ma.forEach((rows, k) => {
    const both = rows.map((row, r) =>
      row.map((cell, c) => {
        const other = mb[k]?.[r]?.[c];
        if (typeof cell !== "number" || typeof other !== "number") return cell;
        return `${fmtNum(cell)} → ${fmtNum(other)} (${cell === 0 ? "–" : (other / cell).toFixed(2)}×)`;
      }),
    );
    console.log("\n" + table(outs.a[0][k].header, both));
  });
}

const fmtNum = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));

if (process.argv[1]?.endsWith("ab.js")) main();
