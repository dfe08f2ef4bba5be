// Reads the EXIF Orientation tag (0x0112) from a TIFF-structured EXIF block. We parse it ourselves
// instead of letting jimp do it because jimp applies the rotation unconditionally on read, while
// PIL (and therefore LLaVA's eval scripts) leaves pixels un-rotated unless asked.

const ORIENTATION_TAG = 0x0112;
const TYPE_SHORT = 3;
const TYPE_LONG = 4;

/** Bytes of the "Exif\0" prefix PIL checks for (JPEG APP1 payloads carry "Exif\0\0"). */
export const EXIF_PREFIX = [0x45, 0x78, 0x69, 0x66, 0x00] as const;

export function startsWith(b: Uint8Array, at: number, prefix: readonly number[]): boolean {
  if (at + prefix.length > b.length) return false;
  for (let i = 0; i < prefix.length; i++) if (b[at + i] !== prefix[i]) return false;
  return true;
}

/**
 * Orientation from a TIFF block occupying b[start, end) ("II*\0" or "MM\0*" header, IFD0 entries).
 * Returns 1 (no transform) when the block is malformed or has no orientation tag, because a broken
 * metadata block must never make an otherwise decodable image fail.
 */
export function tiffOrientation(b: Uint8Array, start: number, end: number): number {
  if (end - start < 8) return 1;
  const little = b[start] === 0x49 && b[start + 1] === 0x49;
  const big = b[start] === 0x4d && b[start + 1] === 0x4d;
  if (!little && !big) return 1;
  const u16 = (p: number): number => (little ? b[p] | (b[p + 1] << 8) : (b[p] << 8) | b[p + 1]);
  const u32 = (p: number): number => (little ? u16(p) + u16(p + 2) * 65536 : u16(p) * 65536 + u16(p + 2));
  if (u16(start + 2) !== 42) return 1;
  const ifd = start + u32(start + 4);
  if (ifd + 2 > end) return 1;
  const count = u16(ifd);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + 12 * i;
    if (e + 12 > end) return 1;
    if (u16(e) !== ORIENTATION_TAG) continue;
    const type = u16(e + 2);
    if (type === TYPE_SHORT) return u16(e + 8);
    if (type === TYPE_LONG) return u32(e + 8);
    return 1;
  }
  return 1;
}

/** Orientation from an EXIF payload that starts with "Exif\0" (one padding byte follows). */
export function exifPayloadOrientation(b: Uint8Array, start: number, end: number): number {
  if (!startsWith(b, start, EXIF_PREFIX)) return 1;
  return tiffOrientation(b, start + 6, end);
}
