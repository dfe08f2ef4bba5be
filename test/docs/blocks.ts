// Shell blocks of the docs and the `causalmm` invocations inside them.
//
// A fenced block is a command block when its language is sh/bash/shell or a line starts with
// `causalmm` / `npx causalmm`. Every command block says what the docs test does with it, in the fence's
// info string after the language:
//   ```sh runnable                          run by test/docs/commands.test.ts in a sandbox
//   ```sh not-runnable: needs the 7B model  not run (the reason is required); its flags are still checked
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

export interface DocBlock {
  file: string;
  line: number;
  lang: string;
  runnable: boolean;
  reason?: string;
  /** Set when the info string has no (valid) marker. */
  unmarked?: boolean;
  body: string;
}

const SHELL = new Set(["sh", "bash", "shell", "console"]);
const COMMAND_LINE = /^\s*(npx\s+)?causalmm\s/m;

export function docFiles(root: string): string[] {
  const docs = readdirSync(join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => join(root, "docs", f));
  return [join(root, "README.md"), ...docs.sort()];
}

export function commandBlocks(path: string, root: string): DocBlock[] {
  const lines = readFileSync(path, "utf8").split("\n");
  const out: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(.*)$/.exec(lines[i]);
    if (!open) continue;
    let j = i + 1;
    while (j < lines.length && !/^```\s*$/.test(lines[j])) j++;
    const body = lines.slice(i + 1, j).join("\n");
    const info = open[1].trim();
    const lang = info.split(/\s+/)[0] ?? "";
    if (SHELL.has(lang) || COMMAND_LINE.test(body))
      out.push({ file: relative(root, path), line: i + 1, lang, body, ...marker(info.slice(lang.length).trim()) });
    i = j;
  }
  return out;
}

function marker(rest: string): Pick<DocBlock, "runnable" | "reason" | "unmarked"> {
  if (rest === "runnable") return { runnable: true };
  const m = /^not-runnable:\s*(\S.*)$/.exec(rest);
  if (m) return { runnable: false, reason: m[1] };
  return { runnable: false, unmarked: true };
}

/** Shell words of one line (quotes removed; no expansion). */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

/** Each `causalmm` invocation: its subcommand and the words after it (continuations joined, comments dropped). */
export function invocations(body: string): { command: string; args: string[] }[] {
  const joined = body.replace(/\\\n/g, " ");
  const out: { command: string; args: string[] }[] = [];
  for (const raw of joined.split("\n")) {
    const line = raw.replace(/(^|\s)#.*$/, "");
    for (const part of line.split(/&&|;|\|\|/)) {
      const w = words(part);
      const at = w.indexOf("causalmm");
      if (at < 0 || (at > 0 && w[at - 1] !== "npx" && !/^\W*$/.test(w[at - 1]))) continue;
      out.push({ command: w[at + 1] ?? "", args: w.slice(at + 2) });
    }
  }
  return out;
}

/** Long option names used by an invocation (`[--rule vcd]` in a synopsis counts as --rule). */
export function optionNames(args: string[]): string[] {
  return args
    .map((a) => a.replace(/^\[/, ""))
    .filter((a) => a.startsWith("--") && a.length > 2)
    .map((a) => a.slice(2).split("=")[0].replace(/\]+$/, ""));
}
