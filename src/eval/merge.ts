// `--merge`: join the answers files of chunk runs 0..N−1 into one file in question order, checking that
// they come from the same settings and questions and that every question is answered exactly once.
// The merged file and its settings are byte-identical to those of a single unchunked run.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { EvalItem } from "./answerer.js";
import { checkBelongs, orderedLines, readAnswers } from "./answers-file.js";
import { EvalFileError, writeFileAtomic } from "./jsonl.js";
import { runQuestions } from "./runner.js";
import { describeDiff, diffSettings, questionsDigest, readSettings, settingsPath, writeSettings } from "./settings.js";

export interface MergeOptions {
  benchmark: string;
  items: readonly EvalItem[];
  parts: readonly string[];
  out: string;
  overwrite?: boolean;
}

interface Part {
  file: string;
  settings: Record<string, unknown>;
  idx: number;
}

export function mergeChunks(o: MergeOptions): { out: string; count: number; chunks: number } {
  if (o.parts.length === 0) throw new EvalFileError("merge: no chunk answers files given");
  if (o.parts.some((p) => resolve(p) === resolve(o.out))) throw new EvalFileError(`merge: output ${o.out} is also an input`);
  if (!o.overwrite && existsSync(o.out)) throw new EvalFileError(`${o.out}: already exists (use --overwrite to replace it)`);
  const parts = o.parts.map(readPart);
  const ref = checkConsistent(parts, o.benchmark, o.items);
  const n = Number(ref.settings.numChunks);
  const limit = ref.settings.limit === undefined ? undefined : Number(ref.settings.limit);
  const lines: string[] = [];
  for (let k = 0; k < n; k++) {
    const chunk = runQuestions(o.items, limit, n, k);
    const part = parts.find((p) => p.idx === k);
    if (!part) {
      if (chunk.length === 0) continue;
      throw new EvalFileError(
        `merge: chunk ${k} of ${n} is missing (have ${parts
          .map((p) => p.idx)
          .sort((a, b) => a - b)
          .join(", ")})`,
      );
    }
    const byId = checkBelongs(readAnswers(part.file), chunk, `chunk ${k} of ${n}`);
    lines.push(...orderedLines(byId, chunk, `${part.file} (chunk ${k} of ${n})`));
  }
  writeFileAtomic(o.out, lines.map((l) => l + "\n").join(""));
  writeSettings(settingsPath(o.out), { ...ref.settings, numChunks: 1, chunkIdx: 0 });
  return { out: o.out, count: lines.length, chunks: n };
}

function readPart(file: string): Part {
  const settings = readSettings(settingsPath(file));
  if (!settings) throw new EvalFileError(`${file}: no ${settingsPath(file)}; not an answers file of 'causalmm eval'`);
  const idx = Number(settings.chunkIdx);
  if (!Number.isInteger(idx)) throw new EvalFileError(`${settingsPath(file)}: no chunkIdx`);
  return { file, settings, idx };
}

/** Same settings apart from chunkIdx, same questions as given, each chunk index once. */
function checkConsistent(parts: Part[], benchmark: string, items: readonly EvalItem[]): Part {
  const ref = parts[0];
  if (ref.settings.benchmark !== benchmark)
    throw new EvalFileError(`${ref.file}: benchmark is ${JSON.stringify(ref.settings.benchmark)}, not ${benchmark}`);
  const q = ref.settings.questions as { sha256?: string; count?: number } | undefined;
  if (q?.sha256 !== questionsDigest(items) || q?.count !== items.length) {
    throw new EvalFileError(
      `${ref.file}: was made from other questions than the ones given (count ${q?.count} vs ${items.length}, or different ids/texts)`,
    );
  }
  const seen = new Map<number, string>();
  for (const p of parts) {
    const d = diffSettings({ ...ref.settings, chunkIdx: 0 }, { ...p.settings, chunkIdx: 0 });
    if (d.length) throw new EvalFileError(`merge: ${p.file} has other settings than ${ref.file} (${describeDiff(d)})`);
    const n = Number(p.settings.numChunks);
    if (p.idx < 0 || p.idx >= n) throw new EvalFileError(`${p.file}: chunkIdx ${p.idx} out of range for ${n} chunks`);
    const prev = seen.get(p.idx);
    if (prev) throw new EvalFileError(`merge: ${p.file} and ${prev} are both chunk ${p.idx}`);
    seen.set(p.idx, p.file);
  }
  return ref;
}
