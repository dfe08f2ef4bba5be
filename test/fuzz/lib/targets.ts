// Every fuzz target, in campaign order (case n goes to TARGETS[n % TARGETS.length]).
import { configJson, preprocessorJson, tokenizerJson } from "./configs.js";
import { images } from "./images.js";
import { mmeQuestions, popeQuestions } from "./questions.js";
import { safetensorsData, safetensorsHeader } from "./safetensors.js";
import type { Target } from "./target.js";

export const TARGETS: Target<unknown>[] = [
  safetensorsHeader,
  safetensorsData,
  configJson,
  preprocessorJson,
  tokenizerJson,
  images,
  popeQuestions,
  mmeQuestions,
];

export function targetByName(name: string): Target<unknown> {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`unknown fuzz target "${name}" (targets: ${TARGETS.map((x) => x.name).join(", ")})`);
  return t;
}
