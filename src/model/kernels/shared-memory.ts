// The kernel module's binary with its imported memory declared shared, for tfjs-wasm's threaded build
// (whose memory is a SharedArrayBuffer: an import must match it in sharedness). The .wat declares a plain
// memory because wabt refuses to validate shared ones; the change is one limits entry of the import
// section (flags 0x00 min → 0x03 min max: shared memories must have a maximum), so it is made here on the
// bytes rather than by shipping a second assembled module.

/** Reads an unsigned LEB128 at `at`: the value and the offset after it. */
function readU32(b: Uint8Array, at: number): [number, number] {
  let v = 0;
  let shift = 0;
  for (;;) {
    const byte = b[at++];
    v |= (byte & 0x7f) << shift;
    if (!(byte & 0x80)) return [v >>> 0, at];
    shift += 7;
  }
}

function u32(v: number): number[] {
  const out: number[] = [];
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v) byte |= 0x80;
    out.push(byte);
  } while (v);
  return out;
}

/** Skips a limits entry (flags, min, max if present). */
function skipLimits(b: Uint8Array, at: number): number {
  const flags = b[at++];
  [, at] = readU32(b, at);
  if (flags & 1) [, at] = readU32(b, at);
  return at;
}

/** The import section's contents with every memory import made shared with `maxPages` pages at most. */
function shareMemoryImports(sec: Uint8Array, maxPages: number): Uint8Array<ArrayBuffer> {
  const out: number[] = [];
  let [count, at] = readU32(sec, 0);
  out.push(...u32(count));
  for (; count > 0; count--) {
    const start = at;
    for (let name = 0; name < 2; name++) {
      const [len, next] = readU32(sec, at);
      at = next + len;
    }
    const kind = sec[at++];
    out.push(...sec.subarray(start, at));
    if (kind === 2) {
      const [min] = readU32(sec, at + 1);
      if (min > maxPages) throw new Error(`shared-memory kernels: the module needs ${min} pages, more than ${maxPages}`);
      out.push(0x03, ...u32(min), ...u32(maxPages));
      at = skipLimits(sec, at);
      continue;
    }
    const end = kind === 0 ? readU32(sec, at)[1] : kind === 1 ? skipLimits(sec, at + 1) : kind === 3 ? at + 2 : -1;
    if (end < 0) throw new Error(`shared-memory kernels: unknown import kind ${kind}`);
    out.push(...sec.subarray(at, end));
    at = end;
  }
  return Uint8Array.from(out);
}

/** `module` (a wasm binary importing a plain memory) importing a shared memory of up to `maxPages` 64 KiB pages. */
export function withSharedMemoryImport(module: Uint8Array, maxPages = 65536): Uint8Array<ArrayBuffer> {
  const out: number[] = [...module.subarray(0, 8)];
  let at = 8;
  while (at < module.length) {
    const id = module[at];
    const [size, body] = readU32(module, at + 1);
    const contents = module.subarray(body, body + size);
    const next = id === 2 ? shareMemoryImports(contents, maxPages) : contents;
    out.push(id, ...u32(next.length), ...next);
    at = body + size;
  }
  return Uint8Array.from(out);
}
