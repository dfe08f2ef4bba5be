// Reads a checkpoint's preprocessor_config.json into the few numbers the CLIP pipeline needs,
// with llava-hf's values as defaults (so the tiny test models, which ship no such file, work too).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface ProcessorConfig {
  /** Target of the resize: shortest edge (or both edges when `squareResize`). */
  size: number;
  cropSize: number;
  mean: [number, number, number];
  std: [number, number, number];
  doResize: boolean;
  doCenterCrop: boolean;
  doNormalize: boolean;
  doRescale: boolean;
  rescaleFactor: number;
  /** PIL resample code; 3 = BICUBIC (CLIP's). Optional for hand-written configs. */
  resample?: number;
  /** `size` was given as {height, width}: resize to exactly size x size, ignoring aspect ratio. */
  squareResize?: boolean;
}

export const OPENAI_CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const OPENAI_CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

export function defaultProcessorConfig(imageSize = 336): ProcessorConfig {
  return {
    size: imageSize,
    cropSize: imageSize,
    mean: [...OPENAI_CLIP_MEAN],
    std: [...OPENAI_CLIP_STD],
    doResize: true,
    doCenterCrop: true,
    doNormalize: true,
    doRescale: true,
    rescaleFactor: 1 / 255,
    resample: 3,
    squareResize: false,
  };
}

type Json = Record<string, unknown>;

/** Far above any CLIP input (224-448); a larger size is a corrupt file, and its resize would not fit in memory. */
const MAX_SIDE = 16384;

function fail(file: string, msg: string): never {
  throw new Error(`${file}: ${msg}`);
}

/** `size`: an int (old configs; HF treats it as shortest_edge), {shortest_edge} or {height, width}. */
function parseSize(v: unknown, file: string): { size: number; squareResize: boolean } | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "number") return { size: v, squareResize: false };
  const o = v as Json;
  if (typeof o.shortest_edge === "number") return { size: o.shortest_edge, squareResize: false };
  if (typeof o.height === "number" && o.height === o.width) return { size: o.height, squareResize: true };
  return fail(file, `unsupported "size" ${JSON.stringify(v)} (need an int, {shortest_edge} or square {height, width})`);
}

function parseCrop(v: unknown, file: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "number") return v;
  const o = v as Json;
  if (typeof o.height === "number" && o.height === o.width) return o.height;
  return fail(file, `unsupported "crop_size" ${JSON.stringify(v)} (need an int or square {height, width})`);
}

function parseTriple(v: unknown, file: string, key: string): [number, number, number] | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "number") return [v, v, v];
  if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === "number")) return [v[0], v[1], v[2]];
  return fail(file, `"${key}" must be a number or 3 numbers, got ${JSON.stringify(v)}`);
}

/** PIL resample codes the resizer implements (1 LANCZOS, 2 BILINEAR, 3 BICUBIC, 4 BOX, 5 HAMMING). */
function parseResample(v: unknown, file: string): number {
  if (v === undefined || v === null) return 3;
  if (v === 1 || v === 2 || v === 3 || v === 4 || v === 5) return v;
  return fail(
    file,
    `unsupported "resample" ${JSON.stringify(v)} (PIL codes 1-5 are supported: 1 LANCZOS, 2 BILINEAR, 3 BICUBIC, 4 BOX, 5 HAMMING)`,
  );
}

function bool(json: Json, key: string, file: string): boolean {
  const v = json[key];
  if (v === undefined || v === null) return true;
  if (typeof v !== "boolean") fail(file, `"${key}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function positive(json: Json, key: string, file: string, dflt: number): number {
  const v = json[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) fail(file, `"${key}" must be a positive number, got ${JSON.stringify(v)}`);
  return v;
}

/** Builds a config from parsed preprocessor_config.json contents (`file` names it in errors). */
export function parseProcessorConfig(json: Json, file = "preprocessor_config.json"): ProcessorConfig {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    fail(
      file,
      `expected a JSON object with the image processor's settings, got ${Array.isArray(json) ? "an array" : JSON.stringify(json)}`,
    );
  }
  const d = defaultProcessorConfig();
  const size = parseSize(json.size, file);
  const crop = parseCrop(json.crop_size, file);
  const cfg: ProcessorConfig = {
    size: size?.size ?? crop ?? d.size,
    cropSize: crop ?? size?.size ?? d.cropSize,
    mean: parseTriple(json.image_mean, file, "image_mean") ?? d.mean,
    std: parseTriple(json.image_std, file, "image_std") ?? d.std,
    doResize: bool(json, "do_resize", file),
    doCenterCrop: bool(json, "do_center_crop", file),
    doNormalize: bool(json, "do_normalize", file),
    doRescale: bool(json, "do_rescale", file),
    rescaleFactor: positive(json, "rescale_factor", file, d.rescaleFactor),
    resample: parseResample(json.resample, file),
    squareResize: size?.squareResize ?? false,
  };
  if (!(cfg.size > 0 && cfg.cropSize > 0)) fail(file, `size and crop_size must be positive (got ${cfg.size}, ${cfg.cropSize})`);
  if (!(Number.isInteger(cfg.size) && Number.isInteger(cfg.cropSize)))
    fail(file, `size and crop_size must be integers (got ${cfg.size}, ${cfg.cropSize})`);
  if (cfg.size > MAX_SIDE || cfg.cropSize > MAX_SIDE)
    fail(file, `size and crop_size must be at most ${MAX_SIDE} (got ${cfg.size}, ${cfg.cropSize})`);
  if (cfg.std.some((s) => s === 0)) fail(file, `"image_std" must not contain 0`);
  if ([...cfg.mean, ...cfg.std].some((v) => !Number.isFinite(v))) fail(file, `"image_mean" and "image_std" must be finite numbers`);
  if (!cfg.doResize && !cfg.doCenterCrop) {
    fail(
      file,
      `"do_resize" and "do_center_crop" are both false, so images would reach the vision tower at their own size; ` +
        `it needs ${cfg.cropSize} × ${cfg.cropSize} (set one of them to true)`,
    );
  }
  return cfg;
}

/**
 * The checkpoint's preprocessor_config.json when `modelDir` has one, else llava-hf defaults with
 * size = crop = `imageSize` (default 336). When both exist they must agree on the crop size,
 * because the vision tower's position embeddings fix the input resolution.
 */
export function loadProcessorConfig(modelDir: string | undefined, imageSize?: number): ProcessorConfig {
  const file = modelDir ? join(modelDir, "preprocessor_config.json") : undefined;
  if (!file || !existsSync(file)) return defaultProcessorConfig(imageSize ?? 336);
  let json: Json;
  try {
    json = JSON.parse(readFileSync(file, "utf8")) as Json;
  } catch (e) {
    return fail(file, `cannot read or parse (${(e as Error).message})`);
  }
  const cfg = parseProcessorConfig(json, file);
  if (imageSize !== undefined && cfg.doCenterCrop && cfg.cropSize !== imageSize) {
    fail(file, `crop_size ${cfg.cropSize} does not match the model's image size ${imageSize}`);
  }
  if (imageSize !== undefined && !cfg.doCenterCrop && !(cfg.squareResize && cfg.size === imageSize)) {
    fail(
      file,
      `"do_center_crop" is false, so the resize alone must give the model's ${imageSize} × ${imageSize} input ` +
        `(size {"height": ${imageSize}, "width": ${imageSize}}), ` +
        `but "size" is ${cfg.squareResize ? `${cfg.size} × ${cfg.size}` : `a shortest edge of ${cfg.size}`}`,
    );
  }
  return cfg;
}
