// The run files of `causalmm replicate` (OUT/runs/tT-dD.json). Each holds the settings that shaped it
// (the model's bytes, training and decoding seed, held-out scene seed, questions per split) and, per
// decoding config, that config's options: a rerun resumes only runs made with the same settings, fills
// in configs an earlier `--config` run left out, and refuses anything else with an error naming the file.
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import { canonicalJson, writeFileAtomic } from "../eval/jsonl.js";

export const RUN_FORMAT = "causalmm-replicate-run/2";

/** Everything that shapes a run apart from the configs themselves. */
export interface RunKey {
  trainSeed: number;
  decodeSeed: number;
  sceneSeed: number;
  perSplit: number;
  /** sha256 over the model directory's config, tokenizer, preprocessor and weight files. */
  model: string;
}

/** One config on one split of one (training seed, decoding seed) run: per-question outcome codes. */
export interface RunRecord {
  trainSeed: number;
  decodeSeed: number;
  config: string;
  split: string;
  ids: string[];
  /** Outcome codes (TP, FP, TN, FN of pope-score.ts) under the VCD/CausalMM scoring rule. */
  codes: number[];
  /** Copied from the first decoding seed (deterministic config: its decoding-seed variance is zero). */
  reused: boolean;
}

export interface RunFile {
  format: typeof RUN_FORMAT;
  key: RunKey;
  /** The model directory when the run was made (informative; the fingerprint is what must match). */
  modelDir: string;
  /** Config name → canonical JSON of its decoding options. */
  configs: Record<string, string>;
  records: RunRecord[];
}

export const runFile = (out: string, t: number, d: number) => join(out, "runs", `t${t}-d${d}.json`);

const FINGERPRINTED =
  /^(config\.json|generation_config\.json|preprocessor_config\.json|tokenizer(_config)?\.json|.*\.safetensors(\.index\.json)?)$/;

/** A content hash of the files that make the model (a retrained or edited model gets another). */
export function modelFingerprint(dir: string): string {
  const h = createHash("sha256");
  const buf = Buffer.alloc(1 << 20);
  for (const f of readdirSync(dir)
    .filter((f) => FINGERPRINTED.test(f))
    .sort()) {
    h.update(`${f}\0`);
    const fd = openSync(join(dir, f), "r");
    try {
      for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) h.update(buf.subarray(0, n));
    } finally {
      closeSync(fd);
    }
  }
  return h.digest("hex").slice(0, 16);
}

export const configKey = (opts: unknown) => canonicalJson(opts, 0);

/** Config name → configKey of its options, for the run file's `configs`. */
export const configKeys = (configs: readonly { name: string; opts: unknown }[]): Record<string, string> =>
  Object.fromEntries(configs.map((c) => [c.name, configKey(c.opts)]));

const FLAGS: Record<keyof RunKey, string> = {
  trainSeed: "training seed (--model DIR@SEED)",
  decodeSeed: "decoding seed",
  sceneSeed: "--scene-seed",
  perSplit: "--questions",
  model: "model weights (fingerprint)",
};

/** The differences between two keys as "--questions 100 there, 50 here" phrases (empty: compatible). */
export function keyDifferences(theirs: RunKey, mine: RunKey): string[] {
  return (Object.keys(FLAGS) as (keyof RunKey)[])
    .filter((k) => theirs[k] !== mine[k])
    .map((k) => `${FLAGS[k]} ${theirs[k]} there, ${mine[k]} here`);
}

/** A run file, checked to be one; a file from before settings were recorded is refused, not guessed at. */
export function readRunFile(path: string): RunFile {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`${path}: not a readable replicate run file: ${(e as Error).message}`, { cause: e });
  }
  if (Array.isArray(data)) {
    throw new Error(
      `${path}: a replicate run written before runs recorded their settings (questions, scene seed, model), ` +
        "so it cannot be checked against this run: rerun into a new --out (or delete the file)",
    );
  }
  const f = data as Partial<RunFile>;
  if (f?.format !== RUN_FORMAT || !f.key || !f.configs || !Array.isArray(f.records)) throw new Error(`${path}: not a ${RUN_FORMAT} file`);
  return f as RunFile;
}

/** Writes a run file (atomically, so an interrupted write leaves the previous one). */
export function writeRunFile(path: string, run: Omit<RunFile, "format">): void {
  writeFileAtomic(path, JSON.stringify({ format: RUN_FORMAT, ...run }) + "\n");
}

/** The existing run at `path` if it is compatible with `key` (same settings, same options per shared config). */
export function compatibleRun(path: string, key: RunKey, configs: Record<string, string>): RunFile | null {
  if (!existsSync(path)) return null;
  const f = readRunFile(path);
  const diff = keyDifferences(f.key, key);
  if (diff.length)
    throw new Error(
      `${path}: made with other settings than this run (${diff.join("; ")}); use another --out, or delete the file to redo it`,
    );
  for (const [name, opts] of Object.entries(configs)) {
    const theirs = f.configs[name];
    if (theirs !== undefined && theirs !== opts) {
      throw new Error(
        `${path}: config "${name}" was run with other options (${theirs}) than this version defines (${opts}); use another --out`,
      );
    }
  }
  return f;
}

export interface RunSet {
  files: { path: string; run: RunFile }[];
  records: RunRecord[];
  sceneSeed: number;
  perSplit: number;
}

/** Every run under OUT/runs, refusing a mix of scene seeds, question counts or two models for one training seed. */
export function readRunSet(out: string): RunSet {
  const dir = join(out, "runs");
  const names = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => /^t-?\d+-d-?\d+\.json$/.test(f))
        .sort()
    : [];
  const files = names.map((n) => ({ path: join(dir, n), run: readRunFile(join(dir, n)) }));
  const first = files[0];
  const models = new Map<number, { path: string; model: string }>();
  for (const f of files) {
    for (const k of ["sceneSeed", "perSplit"] as const) {
      if (f.run.key[k] !== first.run.key[k]) {
        throw new Error(
          `${f.path}: ${FLAGS[k]} ${f.run.key[k]}, but ${first.path} has ${first.run.key[k]}: runs with different settings cannot be aggregated together`,
        );
      }
    }
    const m = models.get(f.run.key.trainSeed);
    if (m && m.model !== f.run.key.model) {
      throw new Error(
        `${f.path}: training seed ${f.run.key.trainSeed} names another model (fingerprint ${f.run.key.model}) than ${m.path} (${m.model})`,
      );
    }
    models.set(f.run.key.trainSeed, { path: f.path, model: f.run.key.model });
  }
  return {
    files,
    records: files.flatMap((f) => f.run.records),
    sceneSeed: first?.run.key.sceneSeed ?? NaN,
    perSplit: first?.run.key.perSplit ?? NaN,
  };
}
