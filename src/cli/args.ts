// A small, strict argument parser: every option is declared (name, type, help), unknown options and
// missing values are errors, and `--help` text is generated from the declarations.
export type OptionType = "string" | "number" | "boolean" | "list";

export interface OptionSpec {
  name: string;
  type: OptionType;
  help: string;
  default?: string | number | boolean;
  /** A one-letter short form (`-h`). */
  alias?: string;
  /** Other long names accepted for the option (`--question-file` for `--questions`, as LLaVA spells it). */
  aliases?: readonly string[];
  choices?: readonly string[];
  /** `number`: the value must be an integer. */
  integer?: boolean;
  /** `number`: bounds, inclusive unless `exclusiveMin` / `exclusiveMax`. */
  min?: number;
  max?: number;
  exclusiveMin?: boolean;
  exclusiveMax?: boolean;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  options: OptionSpec[];
  run(args: ParsedArgs): Promise<number | void>;
}

/** What a command declares; `run` may end without a value, which exits 0. */
export interface CommandDefinition extends Omit<CommandSpec, "run"> {
  run(args: ParsedArgs): Promise<number | void> | number | void;
}

/** A command from its declaration: the one place every command's exit code is made (nothing returned = 0). */
export function defineCommand(def: CommandDefinition): CommandSpec {
  return { ...def, run: async (args) => (await def.run(args)) ?? 0 };
}

export interface ParsedArgs {
  opts: Record<string, string | number | boolean | string[] | undefined>;
  positional: string[];
  /** Options the user gave on the command line (the rest of `opts` are parser defaults or set by code). */
  given?: ReadonlySet<string>;
}

/** Whether `name` holds its parser default only: declared with a default and not given by the user. */
export function isParserDefault(a: ParsedArgs, o: OptionSpec): boolean {
  return a.given !== undefined && !a.given.has(o.name) && o.default !== undefined && a.opts[o.name] === o.default;
}

export const COMMON_OPTIONS: OptionSpec[] = [
  {
    name: "backend",
    type: "string",
    help: "tfjs backend: auto|cuda|node|wasm|cpu (env CAUSALMM_BACKEND)",
    choices: ["auto", "cuda", "node", "wasm", "cpu"],
  },
  { name: "debug", type: "boolean", help: "print stack traces on errors" },
  { name: "help", type: "boolean", help: "show this help", alias: "h" },
];

export function parseArgs(argv: string[], spec: CommandSpec): ParsedArgs {
  const options = [...spec.options, ...COMMON_OPTIONS];
  const byName = new Map<string, OptionSpec>();
  for (const o of options) {
    byName.set(o.name, o);
    if (o.alias) byName.set(o.alias, o);
    for (const al of o.aliases ?? []) byName.set(al, o);
  }
  const given = new Set<string>();
  const opts: ParsedArgs["opts"] = {};
  for (const o of options) if (o.default !== undefined) opts[o.name] = o.default;
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith("-") || a === "-" || /^-\d/.test(a)) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const key = a.replace(/^--?/, "").slice(0, eq > 0 ? eq - (a.startsWith("--") ? 2 : 1) : undefined);
    const o = byName.get(key);
    if (!o) throw new Error(`${spec.name}: unknown option '${a}' (see 'causalmm ${spec.name} --help')`);
    given.add(o.name);
    if (o.type === "boolean") {
      opts[o.name] = eq > 0 ? parseBoolean(spec.name, o, a.slice(eq + 1)) : true;
      continue;
    }
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new Error(`${spec.name}: option --${o.name} needs a value`);
    opts[o.name] = convert(spec.name, o, value, opts[o.name]);
  }
  return { opts, positional, given };
}

const TRUE_WORDS = new Set(["true", "1", "yes"]);
const FALSE_WORDS = new Set(["false", "0", "no"]);

/** `--flag=VALUE` for a boolean: true/false/1/0/yes/no in any case; anything else is an error (never true). */
function parseBoolean(cmd: string, o: OptionSpec, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (TRUE_WORDS.has(v)) return true;
  if (FALSE_WORDS.has(v)) return false;
  throw new Error(`${cmd}: --${o.name} is a switch: give --${o.name}, or --${o.name}=true|false|1|0|yes|no (got '${value}')`);
}

/** The range an option declares, as text: "an integer ≥ 1", "a number in (0, 1]". */
export function rangeText(o: OptionSpec): string {
  const kind = o.integer ? "an integer" : "a number";
  const lo = o.min !== undefined ? `${o.exclusiveMin ? "(" : "["}${o.min}` : undefined;
  const hi = o.max !== undefined ? `${o.max}${o.exclusiveMax ? ")" : "]"}` : undefined;
  if (lo && hi) return `${kind} in ${lo}, ${hi}`;
  if (lo) return `${kind} ${o.exclusiveMin ? ">" : "≥"} ${o.min}`;
  if (hi) return `${kind} ${o.exclusiveMax ? "<" : "≤"} ${o.max}`;
  return kind;
}

function inRange(o: OptionSpec, n: number): boolean {
  if (o.integer && !Number.isInteger(n)) return false;
  if (o.min !== undefined && (o.exclusiveMin ? !(n > o.min) : !(n >= o.min))) return false;
  if (o.max !== undefined && (o.exclusiveMax ? !(n < o.max) : !(n <= o.max))) return false;
  return true;
}

function convert(cmd: string, o: OptionSpec, value: string, prev: ParsedArgs["opts"][string]): ParsedArgs["opts"][string] {
  if (o.choices && o.type === "string" && !o.choices.includes(value)) {
    throw new Error(`${cmd}: --${o.name} must be one of ${o.choices.join(", ")} (got '${value}')`);
  }
  if (o.type === "number") {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n)) throw new Error(`${cmd}: --${o.name} needs a finite number (got '${value}')`);
    if (!inRange(o, n)) throw new Error(`${cmd}: --${o.name} must be ${rangeText(o)} (got '${value}')`);
    return n;
  }
  if (o.type === "list") return [...((Array.isArray(prev) ? prev : []) as string[]), value];
  return value;
}

export function helpText(spec: CommandSpec): string {
  const lines = [`causalmm ${spec.name} — ${spec.summary}`, "", `usage: ${spec.usage}`, "", "options:"];
  for (const o of [...spec.options, ...COMMON_OPTIONS]) {
    const other = [...(o.alias ? [`-${o.alias}`] : []), ...(o.aliases ?? []).map((al) => `--${al}`)];
    const flag = `--${o.name}${o.type === "boolean" ? "" : o.type === "number" ? " N" : " VALUE"}${other.length ? `, ${other.join(", ")}` : ""}`;
    const dflt = o.default !== undefined && o.type !== "boolean" ? ` (default: ${o.default})` : "";
    lines.push(`  ${flag.padEnd(28)} ${o.help}${dflt}${o.type === "list" ? " (repeatable)" : ""}`);
  }
  return lines.join("\n");
}

export function str(a: ParsedArgs, name: string): string | undefined {
  const v = a.opts[name];
  return v === undefined ? undefined : String(v);
}

export function need(a: ParsedArgs, name: string, cmd: string): string {
  const v = str(a, name);
  if (v === undefined || v === "") throw new Error(`${cmd}: --${name} is required`);
  return v;
}

export function numOpt(a: ParsedArgs, name: string): number | undefined {
  const v = a.opts[name];
  return v === undefined ? undefined : Number(v);
}

export function listOpt(a: ParsedArgs, name: string): string[] {
  const v = a.opts[name];
  return Array.isArray(v) ? v : v === undefined ? [] : [String(v)];
}
