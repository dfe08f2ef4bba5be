// The list of subcommands, in the order `causalmm --help` shows them.
import type { CommandSpec } from "../args.js";
import { inspectCommand } from "./inspect.js";

export const COMMANDS: CommandSpec[] = [inspectCommand];
