// The list of subcommands, in the order `causalmm --help` shows them.
import type { CommandSpec } from "../args.js";
import { askCommand } from "./ask.js";
import { demoCommand } from "./demo.js";
import { inspectCommand } from "./inspect.js";
import { evalCommand } from "./eval.js";
import { scoreCommand } from "./score.js";
import { labCommand } from "./lab.js";
import { trainCommand } from "./train.js";
import { recordCommand } from "./record.js";
import { heatmapCommand } from "./heatmap.js";
import { exploreCommand } from "./explore.js";
import { sweepCommand } from "./sweep.js";
import { replicateCommand } from "./replicate.js";
import { planCommand } from "./plan.js";

export const COMMANDS: CommandSpec[] = [
  demoCommand,
  askCommand,
  planCommand,
  inspectCommand,
  evalCommand,
  scoreCommand,
  labCommand,
  trainCommand,
  recordCommand,
  heatmapCommand,
  sweepCommand,
  exploreCommand,
  replicateCommand,
];
