// Model loading for commands: backend choice reported on stderr, a progress bar while weights load.
import { initBackend } from "../backend.js";
import { loadModel } from "../model/load.js";
import type { LlavaModel } from "../model/llava.js";
import { formatBytes, ProgressBar } from "./progress.js";
import { loadLlava, type Llava } from "../api.js";
import { resolveModelDir } from "../paths.js";
import { str, type ParsedArgs } from "./args.js";
import type { LoadProgress } from "../weights/params.js";
import { residencyRequest } from "./residency.js";
import { withCleanup } from "../util/cleanup.js";

/** Runs `load` with a weights progress bar on stderr (hidden when stderr is not a terminal). */
async function withLoadBar<T>(load: (onProgress: (p: LoadProgress) => void) => Promise<T>): Promise<T> {
  const bar = new ProgressBar("loading weights");
  try {
    return await load((p) => bar.update(p.loadedBytes, p.totalBytes, `${formatBytes(p.loadedBytes)}/${formatBytes(p.totalBytes)}`));
  } finally {
    bar.done();
  }
}

export async function loadModelWithProgress(dir: string, backend: string | undefined, verbose = false): Promise<LlavaModel> {
  const info = await initBackend(backend);
  if (verbose || info.skipped.length) process.stderr.write(`backend: ${info.name} (${info.package})\n`);
  return withLoadBar((onProgress) => loadModel(dir, { onProgress }));
}

/** loadLlava for a command's --model/--backend/--tokenizer, with a progress bar on stderr. */
export async function loadLlavaWithProgress(args: ParsedArgs): Promise<Llava> {
  return withLoadBar((onProgress) =>
    loadLlava(resolveModelDir(str(args, "model")), {
      backend: str(args, "backend"),
      tokenizerDir: str(args, "tokenizer"),
      onProgress,
      residency: residencyRequest(args),
    }),
  );
}

/** Loads the command's model (`loadLlavaWithProgress`), runs `use` and always disposes the model. */
export async function withLlava<T>(args: ParsedArgs, use: (llava: Llava) => Promise<T> | T): Promise<T> {
  const llava = await loadLlavaWithProgress(args);
  return withCleanup(
    () => use(llava),
    () => llava.dispose(),
  );
}
