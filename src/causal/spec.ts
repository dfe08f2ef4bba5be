// The command-line syntax for interventions (`--cf`), parsed into Intervention data and formatted back.
//
//   <module>:<type>@<layers>[:h<heads>][:s<seed>]      e.g.  vision:uniform@sel
//                                                              text:random@8-16:s7
//                                                              text:reversed@0,2,5-7:h0,3
//                                                              vision:shuffle@all
//   module  vision | text
//   type    uniform | reversed | random | shuffle   ("given" needs a tensor: API only)
//   layers  sel (vision only: the layer whose output is the selected feature layer) | all | last |
//           a list of indices and inclusive ranges, 0-based: 0,2,5-7. The vision tower stops at sel,
//           so vision `all` means layers 0..sel, and a vision layer after sel is an error.
//   heads   same list syntax (or all); omitted = every head
//   seed    integer, for random/shuffle (default 0)
//
//   both[:<type>]  = vision:<type>@sel and text:<type>@all (type default uniform), returned as two
//                    interventions by `parseCfSpecs`. They are kept separate so the caller decides:
//                    two counterfactual branches (the multimodal rule s = (1+2γ)ℓ − γℓ_v − γℓ_t) or
//                    one branch with both applied (the fixtures' `both_uniform` case).
import { CF_TYPES, validateIntervention, type CfType, type Intervention, type ModelDims } from "./counterfactual.js";
import type { ModuleName } from "../model/hooks.js";
import { formatIndexList, parseIndexList } from "../util/index-list.js";

export interface SpecDims extends ModelDims {
  /** LLaVA's `vision_feature_layer` (−2 for LLaVA-1.5): index into CLIP's hidden_states. */
  visionFeatureLayer: number;
}

const CLI_TYPES = CF_TYPES.filter((t) => t !== "given");
const SYNTAX = "<module>:<type>@<layers>[:h<heads>][:s<seed>] or both[:<type>]";

function choices(dims: SpecDims): string {
  return (
    `modules: vision, text; types: ${CLI_TYPES.join(", ")}; layers: sel (vision), all, last or a list ` +
    `like 0,2,5-7 (vision 0–${dims.visionLayers - 1}, text 0–${dims.textLayers - 1}); heads: h<list> ` +
    `(vision 0–${dims.visionHeads - 1}, text 0–${dims.textHeads - 1}); seed: s<integer>`
  );
}

/**
 * The 0-based CLIP layer whose output is hidden_states[visionFeatureLayer]: hidden_states[0] is the
 * embedding output and hidden_states[i] the output of layer i−1, so for a negative feature layer f it
 * is numVisionLayers + f (LLaVA-1.5: 24 + (−2) = 22).
 */
export function selectedVisionLayer(numVisionLayers: number, visionFeatureLayer: number): number {
  const idx = visionFeatureLayer < 0 ? numVisionLayers + 1 + visionFeatureLayer : visionFeatureLayer;
  const layer = idx - 1;
  if (!Number.isInteger(layer) || layer < 0 || layer >= numVisionLayers) {
    throw new Error(
      `vision_feature_layer ${visionFeatureLayer} is not the output of a vision layer ` +
        `(valid: −${numVisionLayers}..−1 or 1..${numVisionLayers})`,
    );
  }
  return layer;
}

function parseLayers(text: string, module: ModuleName, dims: SpecDims, spec: string): number[] {
  const n = module === "vision" ? dims.visionLayers : dims.textLayers;
  if (module === "text") {
    if (text === "sel") throw new Error(`'sel' names a vision layer; for text use all, last or a list (0–${n - 1})`);
    return parseIndexList(text, n, `${module} layer`);
  }
  // The tower stops at the feature layer, so an intervention after it would change nothing: `all` is
  // every layer that runs (0..sel), and a layer named past it (or `last`) is an error.
  const sel = selectedVisionLayer(dims.visionLayers, dims.visionFeatureLayer);
  if (text === "sel") return [sel];
  if (text === "all") return Array.from({ length: sel + 1 }, (_, i) => i);
  const layers = parseIndexList(text, n, `${module} layer`);
  const late = layers.filter((l) => l > sel);
  if (late.length) {
    throw new Error(
      `vision layer ${late[0]} in '${spec}' comes after the vision feature layer: vision_feature_layer ` +
        `${dims.visionFeatureLayer} is the output of layer ${sel} (= sel), and layers after it do not run, so the ` +
        `counterfactual would change nothing (valid: 0–${sel})`,
    );
  }
  return layers;
}

/** Parse one intervention (`both` has two: use parseCfSpecs). Errors list the valid choices. */
export function parseCfSpec(s: string, dims: SpecDims): Intervention {
  const spec = s.trim();
  if (/^both(:|$)/.test(spec)) throw new Error(`'${spec}' stands for two interventions: use parseCfSpecs`);
  const m = /^([a-z]+):([a-z]+)@([^:]+)((?::[^:]+)*)$/.exec(spec);
  if (!m) throw new Error(`bad counterfactual spec '${s}': expected ${SYNTAX} (${choices(dims)})`);
  const [, mod, type, layerText, rest] = m;
  if (mod !== "vision" && mod !== "text") throw new Error(`unknown module '${mod}' in '${s}' (valid: vision, text)`);
  if (!(CLI_TYPES as readonly string[]).includes(type)) {
    const extra = type === "given" ? "; 'given' needs a tensor and is only available through the API" : "";
    throw new Error(`unknown counterfactual type '${type}' in '${s}' (valid: ${CLI_TYPES.join(", ")})${extra}`);
  }
  const iv: Intervention = { module: mod, layers: parseLayers(layerText, mod, dims, s), type: type as CfType };
  for (const opt of rest.split(":").filter((x) => x.length > 0)) {
    const twice = (opt.startsWith("h") && iv.heads !== undefined) || (/^s-?\d+$/.test(opt) && iv.seed !== undefined);
    if (twice) throw new Error(`'${opt}' in '${s}': ${opt.startsWith("h") ? "heads" : "the seed"} given twice (give one :${opt[0]}…)`);
    if (opt.startsWith("h")) {
      iv.heads = parseIndexList(opt.slice(1), mod === "vision" ? dims.visionHeads : dims.textHeads, `${mod} head`);
    } else if (/^s-?\d+$/.test(opt)) {
      iv.seed = Number(opt.slice(1));
    } else {
      throw new Error(`unknown option '${opt}' in '${s}' (valid: h<heads> like h0,3 or h0-3, s<seed> like s42)`);
    }
  }
  validateIntervention(iv, dims);
  return iv;
}

/** Parse a spec that may be the `both[:<type>]` shorthand; always returns a list. */
export function parseCfSpecs(s: string, dims: SpecDims): Intervention[] {
  const m = /^both(?::([a-z]+))?$/.exec(s.trim());
  if (!m) return [parseCfSpec(s, dims)];
  const type = m[1] ?? "uniform";
  if (!(CLI_TYPES as readonly string[]).includes(type)) {
    throw new Error(`unknown counterfactual type '${type}' in '${s}' (valid: ${CLI_TYPES.join(", ")})`);
  }
  return [parseCfSpec(`vision:${type}@sel`, dims), parseCfSpec(`text:${type}@all`, dims)];
}

/** The canonical spec for `iv` (explicit layer numbers); `parseCfSpec(formatCfSpec(iv))` gives it back. */
export function formatCfSpec(iv: Intervention): string {
  if (iv.type === "given") throw new Error("a 'given' counterfactual has no command-line form");
  let s = `${iv.module}:${iv.type}@${formatIndexList(iv.layers)}`;
  if (iv.heads !== undefined) s += `:h${formatIndexList(iv.heads)}`;
  if (iv.seed !== undefined) s += `:s${iv.seed}`;
  return s;
}
