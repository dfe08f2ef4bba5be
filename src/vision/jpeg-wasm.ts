// Optional bit-exact JPEG path. PIL decodes JPEG with libjpeg-turbo (islow IDCT, fancy chroma
// upsampling); jimp's jpeg-js differs by a few levels (up to ~32 on 4:2:0 edges). The
// `@jsquash/jpeg` package ships mozjpeg — a libjpeg-turbo fork with the same decoder — as wasm, and
// it reproduced PIL's pixels exactly on every fixture JPEG. It is not a dependency of this project:
// when it is installed we use it, otherwise callers fall back to jimp.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

export interface RawRgba {
  width: number;
  height: number;
  data: ArrayLike<number>;
}

type WasmDecode = (bytes: Uint8Array) => Promise<RawRgba>;

interface JsquashDecodeModule {
  default: (buffer: ArrayBuffer, options?: { preserveOrientation?: boolean }) => Promise<RawRgba>;
  init: (module: WebAssembly.Module, overrides?: Record<string, unknown>) => Promise<void>;
}

let loading: Promise<WasmDecode | null> | undefined;
/** libjpeg messages of the current decode; the wasm module would otherwise print them. */
let messages: string[] = [];

async function load(): Promise<WasmDecode | null> {
  const require = createRequire(import.meta.url);
  let decodeJs: string;
  let wasmPath: string;
  try {
    decodeJs = require.resolve("@jsquash/jpeg/decode.js");
    wasmPath = require.resolve("@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm");
  } catch {
    return null; // not installed
  }
  const mod = (await import(pathToFileURL(decodeJs).href)) as JsquashDecodeModule;
  const wasm = await WebAssembly.compile(readFileSync(wasmPath));
  const collect = (s: string): void => {
    messages.push(String(s));
  };
  await mod.init(wasm, { print: collect, printErr: collect });
  return async (bytes) => {
    messages = [];
    // The codec wants an ArrayBuffer holding exactly the file; a Node Buffer may be a view into a
    // shared pool (and Buffer#slice does not copy), so copy through the Uint8Array constructor.
    const copy = new Uint8Array(bytes).buffer;
    try {
      // preserveOrientation: false means "leave pixels as stored", i.e. PIL's default.
      return await mod.default(copy, { preserveOrientation: false });
    } catch (e) {
      const detail = messages
        .map((m) => m.trim())
        .filter(Boolean)
        .join("; ");
      throw new Error(detail || (e as Error).message, { cause: e });
    }
  };
}

/** The mozjpeg wasm decoder when `@jsquash/jpeg` can be loaded, else null. Cached. */
export function wasmJpegDecoder(): Promise<WasmDecode | null> {
  loading ??= load().catch(() => null);
  return loading;
}
