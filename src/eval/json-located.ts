// Whole-file JSON with errors that name file and line: a syntax error is reported at its line and column,
// and the elements of a top-level array carry the line they start on, so a malformed record in a
// thousand-record data.json can be found by its line number, not by counting array elements.
import { existsSync, readFileSync } from "node:fs";
import { EvalFileError, isObject, type Located } from "./jsonl.js";

/** 1-based line and column of a character offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: offset - start + 1 };
}

/** Line on which each element of a top-level JSON array starts (the text must be valid JSON). */
export function arrayElementLines(text: string): number[] {
  const lines: number[] = [];
  let line = 1,
    depth = 0,
    inString = false,
    escaped = false,
    expectElement = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "\n") line++;
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === "\\") escaped = true;
      else if (ch === '"') inString = false;
      continue;
    }
    if (expectElement && !/\s/.test(ch)) {
      expectElement = false;
      if (ch !== "]") lines.push(line);
    }
    if (ch === '"') inString = true;
    else if (ch === "[" || ch === "{") {
      depth++;
      if (depth === 1 && ch === "[") expectElement = true;
    } else if (ch === "]" || ch === "}") depth--;
    else if (ch === "," && depth === 1) expectElement = true;
  }
  return lines;
}

/** Parse a whole JSON file; a syntax error names `file:line:column`. */
export function readJsonFile(path: string, what: string): { value: unknown; text: string } {
  if (!existsSync(path)) throw new EvalFileError(`${path}: ${what} not found`);
  const text = readFileSync(path, "utf8").replace(/^\uFEFF/, "");
  try {
    return { value: JSON.parse(text), text };
  } catch (e) {
    const msg = (e as Error).message;
    const m = /at position (\d+)/.exec(msg);
    const { line, column } = lineColumn(text, m ? Number(m[1]) : text.length);
    throw new EvalFileError(`${path}:${line}:${column}: broken JSON (${msg})`);
  }
}

/** The objects of a file holding one JSON array, each with `file:line` of where it starts. */
export function readJsonArrayOfObjects(path: string, what: string): Located<Record<string, unknown>>[] {
  const { value, text } = readJsonFile(path, what);
  if (!Array.isArray(value)) throw new EvalFileError(`${path}: expected a JSON array (${what})`);
  const lines = arrayElementLines(text);
  return value.map((v, i) => {
    const where = `${path}:${lines[i] ?? "?"}`;
    if (!isObject(v)) throw new EvalFileError(`${where}: element ${i} is not a JSON object`);
    return { value: v as Record<string, unknown>, where };
  });
}
