// The seam between the evaluation layer and a model: the runner only ever talks to an `Answerer`, so it
// can be tested with a fake and driven by any model implementation registered here.
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { OptionSpec, ParsedArgs } from "../cli/args.js";

/** One benchmark question. */
export interface EvalItem {
  questionId: string | number;
  /** Absolute (or cwd-relative) path of the image file. */
  image: string;
  question: string;
  /** Ground truth "yes"/"no" when the question file carries it. */
  label?: string;
  /** POPE split (random/popular/adversarial) or MME subtask. */
  category?: string;
  /** The image name exactly as written in the question file; this goes into the answers file. */
  imageFile?: string;
  meta?: Record<string, unknown>;
}

export interface Answer {
  text: string;
  /** What was asked (the official scripts store the question text here, not the templated prompt). */
  prompt: string;
  meta?: Record<string, unknown>;
}

export interface Answerer {
  /**
   * Answer several questions, one answer per item in the same order. The runner passes consecutive
   * items that share one image (at most `--batch` of them), so an implementation can encode each image
   * once. For exact resume, an answer must depend only on its item (seed per question, not per call):
   * after an interruption the same item may arrive in a smaller group.
   */
  answer(items: EvalItem[]): Promise<Answer[]>;
  readonly modelId: string;
  /** Everything that determines answers; written to `<answers>.settings.json` and compared on resume. */
  readonly settings: Record<string, unknown>;
  /** Optional: release model memory when the run ends (called also after a failure). */
  close?(): Promise<void> | void;
}

export type AnswererFactory = (opts: ParsedArgs) => Promise<Answerer>;

let registered: { factory: AnswererFactory; options: OptionSpec[] } | null = null;

/**
 * Register the model answerer for `causalmm eval`. `options` are extra CLI options the factory reads
 * (e.g. --model, --gamma); they are added to `causalmm eval --help` and accepted by the parser.
 * Call it at import time of a module that the CLI imports (side-effect import).
 */
export function setAnswererFactory(factory: AnswererFactory, options: OptionSpec[] = []): void {
  registered = { factory, options };
}

export function registeredAnswererOptions(): OptionSpec[] {
  return registered?.options ?? [];
}

/** Environment variable naming a .js module that exports an AnswererFactory (test hook). */
export const TEST_ANSWERER_ENV = "CAUSALMM_TEST_ANSWERER";

/**
 * The factory to use: the test hook module when $CAUSALMM_TEST_ANSWERER is set (its `default` or
 * `createAnswerer` export), else the registered one; a clear error when there is none.
 */
export async function resolveAnswererFactory(env: NodeJS.ProcessEnv = process.env): Promise<AnswererFactory> {
  const hook = env[TEST_ANSWERER_ENV];
  if (hook) {
    const path = isAbsolute(hook) ? hook : resolve(hook);
    const mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    const f = mod.default ?? mod.createAnswerer;
    if (typeof f !== "function") throw new Error(`${TEST_ANSWERER_ENV}=${hook}: module exports no factory (default or createAnswerer)`);
    return f as AnswererFactory;
  }
  if (!registered) throw new Error("no model answerer available (none registered with setAnswererFactory)");
  return registered.factory;
}
