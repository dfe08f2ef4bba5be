// Progress on stderr. On a terminal: a bar redrawn in place. Elsewhere (batch jobs, nohup, CI logs),
// bars would fill the log with `\r` frames, so a progress that asks for it prints a plain line every
// N items or S seconds instead: count, rate and ETA.
import type { OptionSpec, ParsedArgs } from "./args.js";
import { numOpt } from "./args.js";

/** Where progress goes: stderr, or a stream in tests. */
export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
}

export interface ProgressOptions {
  stream?: ProgressStream;
  /** Off a terminal, print plain lines (default false: nothing off a terminal). */
  plain?: boolean;
  /** Plain line every this many items (default: a tenth of the total). */
  everyItems?: number;
  /** ... or when this many seconds passed since the last line and something was done (default 60). */
  everySeconds?: number;
  /** What is counted, for the plain line ("answers", "questions"). */
  unit?: string;
  /** Clock in ms (tests). */
  now?: () => number;
}

/** `--progress-every` / `--progress-seconds` for the commands that answer many questions. */
export const PROGRESS_OPTIONS: OptionSpec[] = [
  {
    name: "progress-every",
    type: "number",
    integer: true,
    min: 1,
    help: "when stderr is not a terminal: a progress line every N answers (default: a tenth of the total)",
  },
  { name: "progress-seconds", type: "number", min: 0.001, help: "... or every S seconds, whichever comes first", default: 60 },
];

export function progressFlags(args: ParsedArgs): Pick<ProgressOptions, "plain" | "everyItems" | "everySeconds"> {
  return { plain: true, everyItems: numOpt(args, "progress-every"), everySeconds: numOpt(args, "progress-seconds") };
}

/** "1h02m", "4m05s", "12s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.max(0, Math.round(seconds));
  const pad = (n: number) => String(n).padStart(2, "0");
  if (s >= 3600) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  return `${s}s`;
}

export class ProgressBar {
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly now: () => number;
  private readonly start: number;
  private lastDraw = 0;
  /** Items done at the first update (a resumed run's earlier answers do not count towards the rate). */
  private base: number | undefined;
  private lastLineAt: number;
  private lastLineDone = -1;

  constructor(
    private readonly label: string,
    private readonly o: ProgressOptions = {},
  ) {
    this.stream = o.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
    this.now = o.now ?? Date.now;
    this.start = this.lastLineAt = this.now();
  }

  /** The first call sets the baseline of the rate (a resumed run's earlier items): start with update(0, n) when none. */
  update(done: number, total: number, extra = ""): void {
    const now = this.now();
    this.base ??= done;
    if (this.tty) return this.draw(now, done, total, extra);
    if (!this.o.plain || done <= this.base) return;
    const every = this.o.everyItems ?? Math.max(1, Math.round(total / 10));
    const byCount = done - Math.max(this.lastLineDone, this.base) >= every;
    const byTime = done > this.lastLineDone && now - this.lastLineAt >= (this.o.everySeconds ?? 60) * 1000;
    if (!byCount && !byTime && done < total) return;
    if (done === this.lastLineDone) return;
    this.lastLineAt = now;
    this.lastLineDone = done;
    this.stream.write(this.line(now, done, total) + "\n");
  }

  /** Items per second since the first update. */
  private rate(now: number, done: number): number {
    return (done - (this.base ?? 0)) / Math.max(1e-3, (now - this.start) / 1000);
  }

  /** `eval pope: 120/900 answers (13%), 1.52/s, eta 8m33s` (the bar's `extra` is for the terminal only). */
  private line(now: number, done: number, total: number): string {
    const rate = this.rate(now, done);
    const pct = total > 0 ? ` (${((100 * done) / total).toFixed(0)}%)` : "";
    const unit = this.o.unit ? ` ${this.o.unit}` : "";
    const eta = rate > 0 ? formatDuration((total - done) / rate) : "?";
    return `${this.label}: ${done}/${total}${unit}${pct}, ${rate.toFixed(rate < 10 ? 2 : 1)}/s, eta ${eta}`;
  }

  private draw(now: number, done: number, total: number, extra: string): void {
    if (now - this.lastDraw < 80 && done < total) return;
    this.lastDraw = now;
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const width = 28;
    const filled = Math.round(frac * width);
    const rate = this.rate(now, done);
    const eta = rate > 0 ? formatDuration((total - done) / rate) : "?";
    const bar = "█".repeat(filled) + "░".repeat(width - filled);
    this.stream.write(`\r${this.label} ${bar} ${(frac * 100).toFixed(0).padStart(3)}% ${extra} eta ${eta} `);
  }

  done(message = ""): void {
    if (this.tty) this.stream.write(`\r\x1b[2K${message ? message + "\n" : ""}`);
    else if (this.o.plain && message) this.stream.write(message + "\n");
  }
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  for (; n >= 1024 && i < units.length - 1; i++) n /= 1024;
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}
