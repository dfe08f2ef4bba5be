// The answerer behind `causalmm eval`: its flags (ask's decoding flags plus --no-cache), how they become
// the typed options of eval/'s ModelAnswerer, and the test hook that swaps in a fake model.
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { OptionSpec, ParsedArgs } from "./args.js";
import { str } from "./args.js";
import { ASK_FLAGS, buildAskOptions, settingSources } from "./ask-flags.js";
import { loadLlava } from "../api.js";
import type { Answerer } from "../eval/answerer.js";
import { evalAskOptions, ModelAnswerer } from "../eval/model-answerer.js";
import { resolveModelDir } from "../paths.js";

/** Builds the answerer of a run from the command's parsed flags. */
export type AnswererFactory = (args: ParsedArgs) => Promise<Answerer>;

/** An answerer for `causalmm eval` and the extra flags it reads (added to `--help` and the parser). */
export interface AnswererSpec {
  create: AnswererFactory;
  options: OptionSpec[];
}

const SKIP = new Set(["image", "json", "verbose", "save-settings"]);
const EVAL_MODEL_OPTIONS: OptionSpec[] = [
  ...ASK_FLAGS.filter((f) => !SKIP.has(f.name)).map((f) =>
    f.name === "max-new-tokens" ? { ...f, default: undefined, help: "maximum new tokens (default: 128; eval chair: 512)" } : f,
  ),
  { name: "no-cache", type: "boolean", help: "re-encode the image and re-run the prompt prefix for every question (same answers, slower)" },
];

/** Loads the model named by --model (default: the embedded one) and answers with ask's decoding flags. */
async function createModelAnswerer(args: ParsedArgs): Promise<Answerer> {
  const opts = evalAskOptions(buildAskOptions(args));
  const dir = resolveModelDir(str(args, "model"));
  const llava = await loadLlava(dir, { backend: str(args, "backend"), tokenizerDir: str(args, "tokenizer") });
  const answerer = new ModelAnswerer(llava, opts, !args.opts["no-cache"]);
  answerer.settings.sources = settingSources(args, opts); // informational: resume compares the values, not this
  return answerer;
}

export const MODEL_ANSWERER: AnswererSpec = { create: createModelAnswerer, options: EVAL_MODEL_OPTIONS };

/** Environment variable naming a .js module that exports an AnswererFactory (test hook). */
export const TEST_ANSWERER_ENV = "CAUSALMM_TEST_ANSWERER";

/** The factory of the test hook module when $CAUSALMM_TEST_ANSWERER is set (its `default` or `createAnswerer` export). */
export async function testAnswererFactory(env: NodeJS.ProcessEnv = process.env): Promise<AnswererFactory | undefined> {
  const hook = env[TEST_ANSWERER_ENV];
  if (!hook) return undefined;
  const path = isAbsolute(hook) ? hook : resolve(hook);
  const mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  const f = mod.default ?? mod.createAnswerer;
  if (typeof f !== "function") throw new Error(`${TEST_ANSWERER_ENV}=${hook}: module exports no factory (default or createAnswerer)`);
  return f as AnswererFactory;
}
