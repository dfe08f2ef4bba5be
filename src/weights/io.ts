// Positioned reads/writes that never touch more than the requested byte range.
import { readSync, writeSync } from "node:fs";

// fs.read/write reject lengths above 2^31-1, so larger ranges go in slices.
const MAX_IO = 1 << 30;

/** Fills `target` from `fd` starting at absolute file `position`; short files are an error. */
export function readExact(fd: number, file: string, target: Uint8Array, position: number, what: string): void {
  let done = 0;
  while (done < target.byteLength) {
    const len = Math.min(target.byteLength - done, MAX_IO);
    const n = readSync(fd, target, done, len, position + done);
    if (n === 0) {
      throw new Error(
        `${file}: unexpected end of file reading ${what} (wanted bytes ${position}..${position + target.byteLength}); ` +
          `was the file truncated or changed after it was opened?`,
      );
    }
    done += n;
  }
}

/** Appends all of `data` at the fd's current position. */
export function writeAll(fd: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.byteLength) {
    done += writeSync(fd, data, done, Math.min(data.byteLength - done, MAX_IO));
  }
}
