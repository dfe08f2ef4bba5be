// A progress bar on stderr, drawn only when stderr is a terminal (CI logs and pipes stay clean).
export class ProgressBar {
  private last = 0;
  private readonly start = Date.now();
  private readonly enabled: boolean;

  constructor(private readonly label: string, enabled = Boolean(process.stderr.isTTY)) {
    this.enabled = enabled;
  }

  update(done: number, total: number, extra = ""): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.last < 80 && done < total) return;
    this.last = now;
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const width = 28;
    const filled = Math.round(frac * width);
    const elapsed = (now - this.start) / 1000;
    const eta = frac > 0 ? elapsed * (1 / frac - 1) : 0;
    const bar = "█".repeat(filled) + "░".repeat(width - filled);
    process.stderr.write(`\r${this.label} ${bar} ${(frac * 100).toFixed(0).padStart(3)}% ${extra} eta ${eta.toFixed(0)}s `);
  }

  done(message = ""): void {
    if (!this.enabled) return;
    process.stderr.write(`\r\x1b[2K${message ? message + "\n" : ""}`);
  }
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  for (; n >= 1024 && i < units.length - 1; i++) n /= 1024;
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}
