// Maps the two llava-hf key layouts onto one canonical layout (the transformers <= 4.4x one).
//
//   canonical (ours, <= 4.4x)              newer transformers (>= 4.52)
//   vision_tower.vision_model.X            model.vision_tower.vision_model.X
//   multi_modal_projector.X                model.multi_modal_projector.X
//   language_model.model.X                 model.language_model.X
//   language_model.lm_head.X               lm_head.X
//
// Keys outside these prefixes pass through unchanged, so canonical keys map to themselves.

const TO_CANONICAL: readonly (readonly [string, string])[] = [
  ["model.vision_tower.", "vision_tower."],
  ["model.multi_modal_projector.", "multi_modal_projector."],
  ["model.language_model.", "language_model.model."],
  ["lm_head.", "language_model.lm_head."],
];

/** Canonical name of a checkpoint key in either layout. */
export function canonicalName(key: string): string {
  for (const [from, to] of TO_CANONICAL) {
    if (key.startsWith(from)) return to + key.slice(from.length);
  }
  return key;
}

/** The newer (>= 4.52) spelling of a canonical key; used to write checkpoints in that layout. */
export function newLayoutName(canonical: string): string {
  for (const [from, to] of TO_CANONICAL) {
    if (canonical.startsWith(to)) return from + canonical.slice(to.length);
  }
  return canonical;
}
