// Which CLIP layers can matter: LLaVA reads the hidden state of `vision_feature_layer`, so the layers
// after it run for nothing (and do not run at all).
import { selectedVisionLayer } from "../causal/spec.js";
import type { LlavaConfig } from "../model/config.js";
import { parseIndexList } from "../util/index-list.js";

/** The CLIP layers that run for LLaVA (0 .. the selected feature layer); later ones never affect the answer. */
export function runningVisionLayers(cfg: LlavaConfig): number {
  return selectedVisionLayer(cfg.vision.numLayers, cfg.visionFeatureLayer) + 1;
}

/** Vision layer list: "sel" = the selected feature layer, "all" = every layer that runs. */
export function parseVisionLayers(text: string, cfg: LlavaConfig): number[] {
  const n = runningVisionLayers(cfg);
  return text.trim() === "sel" ? [n - 1] : parseIndexList(text, n, "vision layer");
}
