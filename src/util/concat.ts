// One Float32Array from several (image batches: each image's preprocessed pixels end to end).

/** The parts end to end; a single part is returned as it is (no copy). */
export function concatFloat32(parts: Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0];
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
