#!/usr/bin/env node
// The `causalmm` command line: one subcommand per file in ./commands.
import { helpText, parseArgs, type CommandSpec } from "./args.js";
import { COMMANDS } from "./commands/index.js";
import { PACKAGE_VERSION } from "../paths.js";

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `causalmm ${PACKAGE_VERSION} — LLaVA-1.5 with CausalMM counterfactual attention on TensorFlow.js`,
    "",
    "usage: causalmm <command> [options]",
    "",
    "commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Run 'causalmm <command> --help' for the options of a command.",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage() + "\n");
    return name ? 0 : 1;
  }
  if (name === "--version") {
    process.stdout.write(PACKAGE_VERSION + "\n");
    return 0;
  }
  const cmd: CommandSpec | undefined = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`causalmm: unknown command '${name}' (commands: ${COMMANDS.map((c) => c.name).join(", ")})\n`);
    return 2;
  }
  const debug = rest.includes("--debug");
  try {
    const args = parseArgs(rest, cmd);
    if (args.opts.help) {
      process.stdout.write(helpText(cmd) + "\n");
      return 0;
    }
    return (await cmd.run(args)) ?? 0;
  } catch (e) {
    const err = e as Error;
    process.stderr.write(`causalmm ${name}: error: ${debug ? err.stack : err.message}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e) => {
    process.stderr.write(`causalmm: ${(e as Error).stack}\n`);
    process.exitCode = 1;
  },
);
