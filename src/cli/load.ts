// Model loading for commands: backend choice reported on stderr, a progress bar while weights load.
import { initBackend } from "../backend.js";
import { loadModel } from "../model/load.js";
import type { LlavaModel } from "../model/llava.js";
import { formatBytes, ProgressBar } from "./progress.js";

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
