// Every command in the docs is either run here or says why not (issue 13 item 6). Runnable blocks run
// as written, in document order, in one sandbox per file (see sandbox.ts for what they find there);
// every block, run or not, uses only options its command declares.
import { describe, expect, it } from "vitest";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "../../src/cli/args.js";
import { COMMANDS } from "../../src/cli/commands/index.js";
import { describeFixtures, REPO_ROOT } from "../helpers/fixtures.js";
import { run } from "../helpers/run.js";
import { commandBlocks, docFiles, invocations, optionNames, type DocBlock } from "./blocks.js";
import { makeSandbox } from "./sandbox.js";

const MAIN = join(REPO_ROOT, "dist", "src", "cli", "main.js");
const LAB_MODEL = join(REPO_ROOT, "weights", "llava-lab");
const where = (b: DocBlock) => `${b.file}:${b.line}`;
const blocks = docFiles(REPO_ROOT).flatMap((f) => commandBlocks(f, REPO_ROOT));

describe("docs command blocks", () => {
  it("finds the blocks, and each is marked runnable or not-runnable with a reason", () => {
    expect(blocks.length).toBeGreaterThan(10);
    expect(blocks.filter((b) => b.unmarked).map(where)).toEqual([]);
    expect(blocks.filter((b) => b.runnable).length).toBeGreaterThanOrEqual(4);
  });

  it("every causalmm invocation uses a real command and only its options", () => {
    const problems: string[] = [];
    for (const b of blocks) {
      for (const inv of invocations(b.body)) {
        const cmd = COMMANDS.find((c) => c.name === inv.command);
        if (!cmd) {
          problems.push(`${where(b)}: unknown command '${inv.command}'`);
          continue;
        }
        for (const name of optionNames(inv.args)) {
          try {
            parseArgs([`--${name}`, "1"], cmd);
          } catch (e) {
            if (/unknown option/.test((e as Error).message)) problems.push(`${where(b)}: causalmm ${inv.command} has no --${name}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });
});

describeFixtures("runnable docs commands (built CLI, embedded lab model)", (fixtures) => {
  const byFile = new Map<string, DocBlock[]>();
  for (const b of blocks.filter((x) => x.runnable)) byFile.set(b.file, [...(byFile.get(b.file) ?? []), b]);
  for (const [file, list] of byFile) {
    it(`${file}: ${list.length} block(s) run as written`, async () => {
      expect(existsSync(MAIN), `build first: ${MAIN}`).toBe(true);
      const box = makeSandbox(fixtures, MAIN, LAB_MODEL);
      for (const b of list) {
        const script = join(box.dir, `block-${b.line}.sh`);
        writeFileSync(script, `set -e\n${b.body}\n`);
        const r = await run("bash", [script], { cwd: box.dir, env: box.env, timeout: 540_000 });
        expect(r.status, `${where(b)} failed (${r.signal ?? r.status}):\n${r.stderr.slice(-2000)}`).toBe(0);
        expect(r.stderr, `${where(b)} printed an error`).not.toMatch(/error:/);
      }
    }, 600_000);
  }
});
