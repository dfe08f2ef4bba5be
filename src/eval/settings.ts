// `<answers>.settings.json`: everything that determines the answers in a file. A restart into the same
// file must have identical settings, otherwise answers from two configurations would be mixed silently.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import type { Answerer, EvalItem } from "./answerer.js";
import { canonicalJson, EvalFileError, writeFileAtomic } from "./jsonl.js";
import { PACKAGE_VERSION } from "../paths.js";

export interface RunSettings {
  benchmark: string;
  modelId: string;
  answerer: Record<string, unknown>;
  /** The full question list (before chunking): file name, count and a digest of ids, images and texts. */
  questions: { file: string; count: number; sha256: string };
  numChunks: number;
  chunkIdx: number;
  limit?: number;
  packageVersion: string;
}

export function settingsPath(answersFile: string): string {
  return `${answersFile}.settings.json`;
}

/** Digest of what is asked (ids, image names, texts), independent of where the images live. */
export function questionsDigest(items: readonly EvalItem[]): string {
  const h = createHash("sha256");
  for (const it of items) h.update(JSON.stringify([it.questionId, it.imageFile ?? basename(it.image), it.question]) + "\n");
  return h.digest("hex");
}

export function buildSettings(p: {
  benchmark: string;
  answerer: Pick<Answerer, "modelId" | "settings">;
  source: string;
  items: readonly EvalItem[];
  numChunks: number;
  chunkIdx: number;
  limit?: number;
}): RunSettings {
  return {
    benchmark: p.benchmark,
    modelId: p.answerer.modelId,
    answerer: p.answerer.settings,
    questions: { file: basename(p.source), count: p.items.length, sha256: questionsDigest(p.items) },
    numChunks: p.numChunks,
    chunkIdx: p.chunkIdx,
    limit: p.limit,
    packageVersion: PACKAGE_VERSION,
  };
}

export function readSettings(path: string): Record<string, unknown> | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new EvalFileError(`${path}: unreadable settings file: ${(e as Error).message}`);
  }
}

export function writeSettings(path: string, s: RunSettings | Record<string, unknown>): void {
  writeFileAtomic(path, canonicalJson(s) + "\n");
}

export interface SettingsDiff {
  key: string;
  before: unknown;
  after: unknown;
}

/**
 * Keys that describe settings without shaping the answers: where each value came from (flag, preset,
 * default). Files written before they existed stay resumable, and a value given by flag that equals
 * the preset's is the same run.
 */
const INFORMATIONAL_PREFIXES = ["answerer.sources."];

/** Differences between two settings objects as dotted keys (arrays compare as a whole), informational keys aside. */
export function diffSettings(before: unknown, after: unknown): SettingsDiff[] {
  const a = flatten(before);
  const b = flatten(after);
  const keys = [...new Set([...a.keys(), ...b.keys()])].filter((k) => !INFORMATIONAL_PREFIXES.some((p) => k.startsWith(p))).sort();
  return keys.filter((k) => a.get(k) !== b.get(k)).map((k) => ({ key: k, before: parse(a.get(k)), after: parse(b.get(k)) }));
}

function parse(s: string | undefined): unknown {
  return s === undefined ? undefined : JSON.parse(s);
}

function flatten(v: unknown, prefix = "", out = new Map<string, string>()): Map<string, string> {
  // Round-trip through JSON first, so in-memory values compare as they would after being saved.
  const plain = v === undefined ? undefined : JSON.parse(JSON.stringify(v));
  if (plain !== null && typeof plain === "object" && !Array.isArray(plain)) {
    for (const [k, x] of Object.entries(plain)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else if (plain !== undefined) {
    out.set(prefix, canonicalJson(plain, 0));
  }
  return out;
}

export function describeDiff(d: SettingsDiff[]): string {
  const show = (v: unknown) => (v === undefined ? "(absent)" : JSON.stringify(v));
  return d.map((x) => `${x.key}: ${show(x.before)} → ${show(x.after)}`).join("; ");
}

/**
 * Refuse to continue an answers file written with other settings; otherwise (re)write the settings.
 * `hasAnswers` says whether the answers file already holds data (settings without answers are stale
 * and may be replaced).
 */
export function checkSettings(answersFile: string, settings: RunSettings, hasAnswers: boolean): void {
  const path = settingsPath(answersFile);
  const old = readSettings(path);
  if (old === null && hasAnswers) {
    throw new EvalFileError(
      `${answersFile}: has answers but no ${basename(path)}; cannot tell how they were made. Use another --answers file, or --overwrite to discard them.`,
    );
  }
  if (old !== null && hasAnswers) {
    const d = diffSettings(old, settings);
    if (d.length) {
      throw new EvalFileError(
        `${answersFile}: was started with different settings (${describeDiff(d)}). Use another --answers file, or --overwrite to discard the old answers.`,
      );
    }
  }
  writeSettings(path, settings);
}
