// JSON-lines I/O with errors that name file and line, and durable writes (fsync, atomic rename), because
// answers files are the product of hours of model time and must survive a kill at any instant.
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { writeError } from "../util/files.js";

/** One parsed record and where it came from (1-based line, or array element for JSON arrays). */
export interface Located<T> {
  value: T;
  where: string;
}

export class EvalFileError extends Error {}

/**
 * Records of a JSONL file or of a JSON array file. A `.json` file whose text starts with `[` is an
 * array; anything else is JSONL (the POPE "*.json" files are in fact JSON lines). Blank lines are skipped.
 */
export function readRecords(path: string): Located<Record<string, unknown>>[] {
  if (!existsSync(path)) throw new EvalFileError(`${path}: file not found`);
  const text = readFileSync(path, "utf8").replace(/^\uFEFF/, "");
  if (text.trimStart().startsWith("[")) return readArray(path, text);
  const out: Located<Record<string, unknown>>[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, "");
    if (line.trim() === "") continue;
    out.push({ value: parseObject(line, `${path}:${i + 1}`), where: `${path}:${i + 1}` });
  }
  return out;
}

function readArray(path: string, text: string): Located<Record<string, unknown>>[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new EvalFileError(`${path}: broken JSON array: ${(e as Error).message}`);
  }
  if (!Array.isArray(data)) throw new EvalFileError(`${path}: expected a JSON array`);
  return data.map((v, i) => {
    const where = `${path}: element ${i}`;
    if (!isObject(v)) throw new EvalFileError(`${where}: expected a JSON object`);
    return { value: v, where };
  });
}

function parseObject(line: string, where: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    throw new EvalFileError(`${where}: broken JSON line: ${(e as Error).message}`);
  }
  if (!isObject(v)) throw new EvalFileError(`${where}: expected a JSON object, got ${JSON.stringify(v).slice(0, 40)}`);
  return v;
}

/** A JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A required string field (numbers are not accepted where text is meant). */
export function needString(r: Located<Record<string, unknown>>, key: string): string {
  const v = r.value[key];
  if (typeof v !== "string") throw new EvalFileError(`${r.where}: missing field "${key}" (string)`);
  return v;
}

/** question_id: a string or an integer, as in the official files. */
export function needId(r: Located<Record<string, unknown>>, key = "question_id"): string | number {
  const v = r.value[key];
  if (typeof v === "string" && v !== "") return v;
  if (typeof v === "number" && Number.isSafeInteger(v)) return v;
  if (v === undefined) throw new EvalFileError(`${r.where}: missing field "${key}" (string or integer)`);
  const got = JSON.stringify(v)?.slice(0, 40) ?? String(v);
  const why =
    typeof v === "number"
      ? "a number that is not a safe integer"
      : v === ""
        ? "an empty string"
        : `a ${v === null ? "null" : Array.isArray(v) ? "list" : typeof v}`;
  throw new EvalFileError(`${r.where}: "${key}" must be a non-empty string or an integer, got ${got} (${why})`);
}

/** The one image placeholder the prompt template adds itself; a second in the text would be a second image slot. */
const IMAGE_PLACEHOLDER = "<image>";

/** A question's text field: a string without "<image>" (the prompt puts the image before the question). */
export function needQuestionText(r: Located<Record<string, unknown>>, key: string, id: string | number): string {
  return checkQuestionText(needString(r, key), r.where, id);
}

export function checkQuestionText(text: string, where: string, id: string | number): string {
  if (text.includes(IMAGE_PLACEHOLDER)) {
    throw new EvalFileError(
      `${where}: question ${JSON.stringify(id)} contains "${IMAGE_PLACEHOLDER}"; ` +
        "the prompt template adds the image itself, so remove it from the question text",
    );
  }
  return text;
}

/** Map key for an id: 5 and "5" are different ids in the answers file, so keep the type. */
export function idKey(id: string | number): string {
  return typeof id === "number" ? `n:${id}` : `s:${id}`;
}

/** Throw on the first repeated id, naming both places. */
export function checkUniqueIds(records: { id: string | number; where: string }[], what = "question_id"): void {
  const seen = new Map<string, string>();
  for (const r of records) {
    const k = idKey(r.id);
    const first = seen.get(k);
    if (first) throw new EvalFileError(`${r.where}: duplicate ${what} ${JSON.stringify(r.id)} (first at ${first})`);
    seen.set(k, r.where);
  }
}

/** JSON with object keys sorted at every level, so equal settings give byte-equal files. */
export function canonicalJson(v: unknown, indent = 2): string {
  return JSON.stringify(sortKeys(v), null, indent);
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (!isObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) if (v[k] !== undefined) out[k] = sortKeys(v[k]);
  return out;
}

/** Write a whole file durably: temp file, fsync, rename over the target, fsync the directory. Errors name `path`. */
export function writeFileAtomic(path: string, data: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, "w");
    try {
      writeAll(fd, Buffer.from(data, "utf8"));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    if (existsSync(tmp)) unlinkSync(tmp);
    throw writeError(path, e, "; the file is unchanged");
  }
  fsyncDir(dirname(path));
}

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

/** Make a rename durable; some platforms cannot open directories, which is harmless to skip. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    /* not supported here */
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Append one line with a single write and fsync it, so a kill leaves at most one partial line. A failed
 * write (ENOSPC, EIO) is an error naming `path`, and the file is cut back to its last complete line.
 */
export function appendLineDurable(fd: number, line: string, path: string): void {
  const start = fstatSync(fd).size;
  try {
    writeAll(fd, Buffer.from(line + "\n", "utf8"));
    fsyncSync(fd);
  } catch (e) {
    let after = "; the file was cut back to its last complete line, so running again resumes";
    try {
      ftruncateSync(fd, start);
    } catch {
      after = "; its last line may be partial (running again drops it and resumes)";
    }
    throw writeError(path, e, after);
  }
}
