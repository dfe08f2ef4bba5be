// Mutation operators. Each returns the mutated input and a short description of what it did, so
// a tally entry (and every accepted mutated header) says exactly which change got through.
import type { Rng } from "./rng.js";

export interface Mutated<T> {
  value: T;
  what: string;
}

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];
const INTERESTING_U32 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];

/** One byte-level change inside [lo, hi) of `b` (a copy; `b` is left alone). */
export function mutateBytes(b: Uint8Array, rng: Rng, lo = 0, hi = b.length): Mutated<Uint8Array> {
  hi = Math.max(lo + 1, Math.min(hi, b.length));
  const at = lo + rng.int(hi - lo);
  const out = new Uint8Array(b);
  switch (rng.int(7)) {
    case 0: {
      const n = 1 + rng.int(4);
      for (let i = 0; i < n; i++) {
        const p = lo + rng.int(hi - lo);
        out[p] ^= 1 << rng.int(8);
      }
      return { value: out, what: `flip ${n} bit(s) near byte ${at}` };
    }
    case 1: {
      const v = rng.pick(INTERESTING_BYTES);
      out[at] = v;
      return { value: out, what: `byte ${at} = 0x${v.toString(16)}` };
    }
    case 2: {
      const v = rng.pick(INTERESTING_U32);
      const big = rng.chance(0.5);
      for (let i = 0; i < 4 && at + i < out.length; i++) out[at + i] = (big ? v >>> (8 * (3 - i)) : v >>> (8 * i)) & 0xff;
      return { value: out, what: `u32${big ? "be" : "le"} at ${at} = 0x${v.toString(16)}` };
    }
    case 3: {
      const cut = rng.chance(0.5) ? at : rng.int(b.length);
      return { value: b.slice(0, cut), what: `truncate to ${cut} of ${b.length} bytes` };
    }
    case 4: {
      const n = 1 + rng.int(Math.min(64, hi - at));
      return { value: concat(b.subarray(0, at), b.subarray(at + n)), what: `delete ${n} bytes at ${at}` };
    }
    case 5: {
      const n = 1 + rng.int(32);
      const ins = Uint8Array.from({ length: n }, () => rng.int(256));
      return { value: concat(b.subarray(0, at), ins, b.subarray(at)), what: `insert ${n} random bytes at ${at}` };
    }
    default: {
      const n = 1 + rng.int(Math.min(256, hi - at));
      return { value: concat(b.subarray(0, at + n), b.subarray(at, at + n), b.subarray(at + n)), what: `duplicate ${n} bytes at ${at}` };
    }
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

function deepArray(depth: number): JsonValue {
  let v: JsonValue = [];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

/** Values that break loaders: wrong types, edge numbers, huge or deep containers. */
function interestingValue(rng: Rng): { v: JsonValue; what: string } {
  const choices: Array<() => JsonValue> = [
    () => null,
    () => true,
    () => false,
    () => 0,
    () => -1,
    () => 1,
    () => 0.5,
    () => -0.0,
    () => 1e308,
    () => -1e308,
    () => 2 ** 53,
    () => 2 ** 31,
    () => 2 ** 32 + 1,
    () => 1e-320,
    () => "",
    () => "x",
    () => "1",
    () => "NaN",
    () => "<image>",
    () => "\u0000",
    () => "\ud800",
    () => "x".repeat(1 << 16),
    () => [],
    () => [1, 2],
    () => ({}),
    () => ({ __proto__: 1 }) as unknown as JsonValue,
    () => deepArray(2000),
    () => Array.from({ length: 1000 }, (_, i) => i),
  ];
  const i = rng.int(choices.length);
  const v = choices[i]();
  const s = JSON.stringify(v);
  return { v, what: s.length > 40 ? `${s.slice(0, 30)}…(${s.length} chars)` : s };
}

/** Every path to a value inside `root` (keys and indices), up to `limit` of them. */
function paths(root: JsonValue, limit = 5000): (string | number)[][] {
  const out: (string | number)[][] = [];
  const walk = (v: JsonValue, p: (string | number)[]): void => {
    if (out.length >= limit) return;
    out.push(p);
    if (Array.isArray(v)) v.slice(0, 50).forEach((x, i) => walk(x, [...p, i]));
    else if (v && typeof v === "object") for (const k of Object.keys(v)) walk(v[k], [...p, k]);
  };
  walk(root, []);
  return out;
}

function getAt(root: JsonValue, p: (string | number)[]): JsonValue {
  let v = root;
  for (const k of p) v = (v as Record<string | number, JsonValue>)[k];
  return v;
}

/**
 * One structural change to a parsed JSON document (which is mutated in place): replace a value,
 * delete or add a key, nudge a number, or change a string. `prefer` restricts the choice of
 * location to paths whose last key matches (e.g. the tensor entries of a safetensors header).
 */
export function mutateJson(root: JsonValue, rng: Rng, prefer?: RegExp): Mutated<JsonValue> {
  let all = paths(root);
  if (prefer) {
    const hits = all.filter((p) => p.length > 0 && prefer.test(String(p[p.length - 1])));
    if (hits.length) all = hits;
  }
  const p = rng.pick(all);
  const where = p.length ? p.map(String).join(".") : "(root)";
  const cur = getAt(root, p);
  const parent = p.length ? (getAt(root, p.slice(0, -1)) as Record<string | number, JsonValue>) : undefined;
  const key = p[p.length - 1];
  const set = (v: JsonValue): JsonValue => {
    if (!parent) return v;
    parent[key] = v;
    return root;
  };
  const op = rng.int(6);
  if (op === 0 && parent) {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
    return { value: root, what: `delete ${where}` };
  }
  if (op === 1 && typeof cur === "number") {
    const v = rng.pick([cur + 1, cur - 1, cur * 2, -cur, cur / 2, cur * 1024, Math.round(cur) + 0.5]);
    return { value: set(v), what: `${where}: ${cur} -> ${v}` };
  }
  if (op === 2 && typeof cur === "string" && cur.length > 0) {
    const i = rng.int(cur.length);
    const v = rng.chance(0.5) ? cur.slice(0, i) + cur.slice(i + 1) : cur.slice(0, i) + String.fromCharCode(rng.int(0x3000)) + cur.slice(i);
    return { value: set(v), what: `${where}: edit string at ${i}` };
  }
  if (op === 3 && cur && typeof cur === "object" && !Array.isArray(cur)) {
    const { v, what } = interestingValue(rng);
    const k = rng.pick(["extra", "__proto__", "constructor", "", "model_type", "dtype", "shape", "data_offsets", "__metadata__"]);
    Object.defineProperty(cur, k, { value: v, enumerable: true, writable: true, configurable: true });
    return { value: root, what: `${where}: add key ${JSON.stringify(k)} = ${what}` };
  }
  if (op === 4 && Array.isArray(cur)) {
    const { v, what } = interestingValue(rng);
    cur.push(v);
    return { value: root, what: `${where}: push ${what}` };
  }
  const { v, what } = interestingValue(rng);
  return { value: set(v), what: `${where} = ${what}` };
}

/** JSON text with one text-level break: truncation, a stray character, or a BOM/garbage prefix. */
export function breakJsonText(text: string, rng: Rng): Mutated<string> {
  const at = rng.int(text.length + 1);
  switch (rng.int(4)) {
    case 0:
      return { value: text.slice(0, at), what: `truncate text to ${at} chars` };
    case 1: {
      const c = rng.pick(["{", "}", "[", "]", ",", ":", '"', "\\", "\n", "\u0000", "\ufeff", "é"]);
      return { value: text.slice(0, at) + c + text.slice(at), what: `insert ${JSON.stringify(c)} at ${at}` };
    }
    case 2:
      return { value: text.slice(0, at) + text.slice(at + 1 + rng.int(16)), what: `delete chars at ${at}` };
    default:
      return { value: rng.pick(["", " ", "null", "[]", "0", '"x"', "\ufeff{}", "{}"]), what: "replace the whole file" };
  }
}
