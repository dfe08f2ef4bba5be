// A small, strict argument parser: every option is declared (name, type, help), unknown options and
// missing values are errors, and `--help` text is generated from the declarations.
export type OptionType = "string" | "number" | "boolean" | "list";

export interface OptionSpec {
  name: string;
  type: OptionType;
  help: string;
  default?: string | number | boolean;
  /** For `list`: the option may repeat; values accumulate. */
  alias?: string;
  choices?: readonly string[];
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  options: OptionSpec[];
  run(args: ParsedArgs): Promise<number | void>;
}

export interface ParsedArgs {
  opts: Record<string, string | number | boolean | string[] | undefined>;
  positional: string[];
}

export const COMMON_OPTIONS: OptionSpec[] = [
  { name: "backend", type: "string", help: "tfjs backend: auto|cuda|node|wasm|cpu (env CAUSALMM_BACKEND)", choices: ["auto", "cuda", "node", "wasm", "cpu"] },
  { name: "debug", type: "boolean", help: "print stack traces on errors" },
  { name: "help", type: "boolean", help: "show this help", alias: "h" },
];

export function parseArgs(argv: string[], spec: CommandSpec): ParsedArgs {
  const options = [...spec.options, ...COMMON_OPTIONS];
  const byName = new Map<string, OptionSpec>();
  for (const o of options) {
    byName.set(o.name, o);
    if (o.alias) byName.set(o.alias, o);
  }
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
    if (o.type === "boolean") {
      opts[o.name] = eq > 0 ? a.slice(eq + 1) !== "false" : true;
      continue;
    }
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new Error(`${spec.name}: option --${o.name} needs a value`);
    opts[o.name] = convert(spec.name, o, value, opts[o.name]);
  }
  return { opts, positional };
}

function convert(cmd: string, o: OptionSpec, value: string, prev: ParsedArgs["opts"][string]): ParsedArgs["opts"][string] {
  if (o.choices && o.type === "string" && !o.choices.includes(value)) {
    throw new Error(`${cmd}: --${o.name} must be one of ${o.choices.join(", ")} (got '${value}')`);
  }
  if (o.type === "number") {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n)) throw new Error(`${cmd}: --${o.name} needs a number (got '${value}')`);
    return n;
  }
  if (o.type === "list") return [...((Array.isArray(prev) ? prev : []) as string[]), value];
  return value;
}

export function helpText(spec: CommandSpec): string {
  const lines = [`causalmm ${spec.name} — ${spec.summary}`, "", `usage: ${spec.usage}`, "", "options:"];
  for (const o of [...spec.options, ...COMMON_OPTIONS]) {
    const flag = `--${o.name}${o.type === "boolean" ? "" : o.type === "number" ? " N" : " VALUE"}${o.alias ? `, -${o.alias}` : ""}`;
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
