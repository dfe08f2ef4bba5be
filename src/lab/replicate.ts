// Replication of the lab comparison (issue 8): several training seeds × decoding seeds × decoding
// configs on the same held-out scenes, each run through the demo machinery (real POPE runner +
// scorer) into one run file per (training seed, decoding seed) (replicate-runs.ts). The runs are then
// aggregated per config × split (replicate-aggregate.ts) and tabled (replicate-tables.ts).
import { makeDirs } from "../util/files.js";
import { join } from "node:path";
import type { Llava } from "../api.js";
import { LAB_PAI, runDemo, type DemoConfig, type DemoOptions } from "./demo.js";
import {
  compatibleRun,
  configKeys,
  modelFingerprint,
  readRunSet,
  runFile,
  writeRunFile,
  type RunFile,
  type RunKey,
  type RunRecord,
} from "./replicate-runs.js";
import { outcome } from "../eval/pope-score.js";
import { idKey } from "../eval/jsonl.js";

export interface ReplicateConfig extends DemoConfig {
  /** Uses the decoding seed (sampling, VCD noise, random/shuffle counterfactuals); else deterministic. */
  seeded: boolean;
  /** Colour group in the plots. */
  group: "baseline" | "cutoff" | "vision" | "text" | "both";
}

const CF_TYPES = ["uniform", "reversed", "random", "shuffle"] as const;

/** Every config of the experiment; names are ASCII (they are drawn with a bitmap font). */
export function replicateConfigs(seed: number): ReplicateConfig[] {
  const samp = { temperature: 1, topP: 1, seed };
  const rnd = (t: string) => t === "random" || t === "shuffle";
  return [
    { name: "regular sampling", opts: samp, seeded: true, group: "baseline" },
    { name: "greedy", opts: {}, seeded: false, group: "baseline" },
    { name: "VCD (noised image)", opts: { causal: { baseline: "vcd", seed } }, seeded: true, group: "baseline" },
    { name: "no-image contrast", opts: { causal: { baseline: "noimage" } }, seeded: false, group: "baseline" },
    { name: "PAI a=0.2 g=1.1 layers 0-1", opts: { causal: LAB_PAI }, seeded: false, group: "baseline" },
    { name: "PAI attention only a=0.2 g=1 layers 0-1", opts: { causal: { ...LAB_PAI, gamma: 1 } }, seeded: false, group: "baseline" },
    {
      name: "cutoff only g=0 e=0.6 (greedy)",
      opts: { causal: { cf: ["vision:uniform@sel"], gamma: 0, epsilon: 0.6 } },
      seeded: false,
      group: "cutoff",
    },
    {
      name: "cutoff only g=0 e=0.6 (sampling)",
      opts: { ...samp, causal: { cf: ["vision:uniform@sel"], gamma: 0, epsilon: 0.6 } },
      seeded: true,
      group: "cutoff",
    },
    ...CF_TYPES.map((t): ReplicateConfig => ({
      name: `CausalMM vision ${t}@sel`,
      opts: { causal: { cf: [`vision:${t}@sel`], seed } },
      seeded: rnd(t),
      group: "vision",
    })),
    ...CF_TYPES.map((t): ReplicateConfig => ({
      name: `CausalMM text ${t}@all`,
      opts: { causal: { cf: [`text:${t}@all`], seed } },
      seeded: rnd(t),
      group: "text",
    })),
    { name: "CausalMM multimodal (both)", opts: { causal: { cf: ["both"] } }, seeded: false, group: "both" },
    { name: "CausalMM official code", opts: { ...samp, causal: { preset: "official", seed } }, seeded: true, group: "both" },
  ];
}

export interface ReplicateOptions {
  models: { dir: string; trainSeed: number }[];
  decodeSeeds: number[];
  sceneSeed: number;
  perSplit: number;
  out: string;
  /** Only these config names (default all). */
  only?: string[];
  load: (dir: string) => Promise<Llava>;
  log?: (line: string) => void;
  /** Answering progress of one config (for a progress line). */
  onProgress?: DemoOptions["onProgress"];
}

/**
 * Runs every model × decoding seed × config not already on disk (OUT/runs/tT-dD.json). A run file is
 * resumed only when its settings match (else an error names it); configs it lacks are run and added.
 */
export async function runReplicate(o: ReplicateOptions): Promise<void> {
  const names = replicateConfigs(0).map((c) => c.name);
  for (const c of o.only ?? []) if (!names.includes(c)) throw new Error(`replicate: unknown --config '${c}' (valid: ${names.join("; ")})`);
  makeDirs(join(o.out, "runs"), "the replicate run files");
  const seen = new Map<number, string>();
  for (const m of o.models) {
    if (seen.has(m.trainSeed))
      throw new Error(`replicate: training seed ${m.trainSeed} given for two models (${seen.get(m.trainSeed)} and ${m.dir})`);
    seen.set(m.trainSeed, m.dir);
  }
  for (const m of o.models) {
    const model = modelFingerprint(m.dir);
    const plans = o.decodeSeeds.map((d) => planRun(o, m.trainSeed, d, model));
    if (plans.every((p) => p.todo.length === 0)) continue;
    const llava = await o.load(m.dir);
    try {
      for (const plan of plans) await doRun(o, llava, m.dir, plan);
    } finally {
      llava.dispose();
    }
  }
}

interface RunPlan {
  file: string;
  key: RunKey;
  configs: ReplicateConfig[];
  existing: RunFile | null;
  todo: ReplicateConfig[];
}

/** What one (training seed, decoding seed) run still needs; throws when its file was made otherwise. */
function planRun(o: ReplicateOptions, trainSeed: number, decodeSeed: number, model: string): RunPlan {
  const file = runFile(o.out, trainSeed, decodeSeed);
  const key: RunKey = { trainSeed, decodeSeed, sceneSeed: o.sceneSeed, perSplit: o.perSplit, model };
  const configs = replicateConfigs(decodeSeed).filter((c) => !o.only || o.only.includes(c.name));
  const existing = compatibleRun(file, key, configKeys(configs));
  return { file, key, configs, existing, todo: configs.filter((c) => !existing?.configs[c.name]) };
}

async function doRun(o: ReplicateOptions, llava: Llava, dir: string, p: RunPlan): Promise<void> {
  if (p.todo.length === 0) return;
  const { trainSeed: t, decodeSeed: d } = p.key;
  // Deterministic configs are copied from the first decoding seed's run when it has them.
  const firstSeed = o.decodeSeeds[0];
  const firstFile = runFile(o.out, t, firstSeed);
  const firstConfigs = configKeys(replicateConfigs(firstSeed));
  const prior = d === firstSeed ? null : compatibleRun(firstFile, { ...p.key, decodeSeed: firstSeed }, firstConfigs);
  const reuse = p.todo.filter((c) => !c.seeded && prior?.configs[c.name] !== undefined);
  const run = p.todo.filter((c) => !reuse.includes(c));
  const t0 = performance.now();
  o.log?.(
    `training seed ${t} (${dir}), decoding seed ${d}: ${run.length} configs (${reuse.length} deterministic ones reused` +
      `${p.existing ? `, ${Object.keys(p.existing.configs).length} already in ${p.file}` : ""})`,
  );
  const res = await runDemo(llava, {
    out: join(o.out, "work", `t${t}-d${d}`),
    perSplit: o.perSplit,
    seed: o.sceneSeed,
    configs: run,
    log: o.log,
    onProgress: o.onProgress,
  });
  const records: RunRecord[] = [...(p.existing?.records ?? [])];
  for (const c of reuse)
    for (const r of prior!.records.filter((r) => r.config === c.name)) records.push({ ...r, decodeSeed: d, reused: true });
  for (const c of run) {
    const answers = res.answers.get(c.name)!;
    for (const split of [...new Set(res.items.map((it) => it.category ?? "all"))]) {
      const items = res.items.filter((it) => (it.category ?? "all") === split);
      const ids = items.map((it) => idKey(it.questionId));
      const codes = items.map((it, i) => outcome("vcd", answers.get(ids[i]) ?? "", it.label as "yes" | "no"));
      records.push({ trainSeed: t, decodeSeed: d, config: c.name, split, ids, codes, reused: false });
    }
  }
  const configs = { ...p.existing?.configs, ...configKeys(p.todo) };
  writeRunFile(p.file, { key: p.key, modelDir: dir, configs, records });
  o.log?.(`  done in ${((performance.now() - t0) / 1000).toFixed(0)} s -> ${p.file}`);
}

/** Every run record under OUT/runs (checked: one scene seed, one question count, one model per training seed). */
export function readRuns(out: string): RunRecord[] {
  return readRunSet(out).records;
}
