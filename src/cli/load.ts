// Model loading for commands: backend choice reported on stderr, a progress bar while weights load.
import { initBackend } from "../backend.js";
import { loadModel } from "../model/load.js";
import type { LlavaModel } from "../model/llava.js";
import { formatBytes, ProgressBar } from "./progress.js";
import { loadLlava, type Llava } from "../api.js";
import { resolveModelDir } from "../paths.js";
import { str, type ParsedArgs } from "./args.js";

export async function loadModelWithProgress(dir: string, backend: string | undefined, verbose = false): Promise<LlavaModel> {
  const info = await initBackend(backend);
  if (verbose || info.skipped.length) process.stderr.write(`backend: ${info.name} (${info.package})\n`);
  const bar = new ProgressBar("loading weights");
  const model = await loadModel(dir, {
    onProgress: (p) => bar.update(p.loadedBytes, p.totalBytes, `${formatBytes(p.loadedBytes)}/${formatBytes(p.totalBytes)}`),
  });
  bar.done();
  return model;
}

/** loadLlava for a command's --model/--backend/--tokenizer, with a progress bar on stderr. */
export async function loadLlavaWithProgress(args: ParsedArgs): Promise<Llava> {
  const bar = new ProgressBar("loading weights");
  try {
    return await loadLlava(resolveModelDir(str(args, "model")), {
      backend: str(args, "backend"),
      tokenizerDir: str(args, "tokenizer"),
      onProgress: (p) => bar.update(p.loadedBytes, p.totalBytes, `${formatBytes(p.loadedBytes)}/${formatBytes(p.totalBytes)}`),
    });
  } finally {
    bar.done();
  }
}
