// Scene sampling: a background, a few objects (classes drawn by popularity, then the planted priors
// add their objects), each with a colour, texture, size and place. A scene is a pure function of its
// key (seed, split, index), so any one scene can be regenerated without drawing the ones before it.
import { stream, type Rng } from "../util/rng.js";
import {
  BACKGROUNDS,
  CLASSES,
  COLOURS,
  COLOUR_NAMES,
  TEXTURES,
  classWeights,
  colourDistance,
  type ObjectClass,
  type Texture,
  type WorldKnobs,
} from "./world.js";

export interface SceneObject {
  cls: ObjectClass;
  colour: string;
  texture: Texture;
  /** Centre and size in pixels of a 56×56 canvas (render.ts scales to other sizes). */
  x: number;
  y: number;
  size: number;
}

export interface Scene {
  id: string;
  background: string;
  objects: SceneObject[];
}

/**
 * Objects sit in distinct cells of the 4×4 grid of 14-px patches, at most four per image: one object
 * is one image token. (With free placement, objects straddled patch borders and the from-scratch
 * vision tower learnt their shapes far too slowly for the lab's training budget.)
 */
const MAX_OBJECTS = 4;
export const CANVAS = 56;
const CELL = 14;
const GRID = CANVAS / CELL;

function weightedPick(rng: Rng, weights: number[]): number {
  const total = weights.reduce((a, b) => a + b, 0);
  let u = rng.uniform() * total;
  for (let i = 0; i < weights.length; i++) {
    u -= weights[i];
    if (u < 0) return i;
  }
  return weights.length - 1;
}

/** Distinct classes drawn by popularity weight, without replacement. */
function drawClasses(rng: Rng, k: WorldKnobs, n: number): ObjectClass[] {
  const w = classWeights(k);
  const out: ObjectClass[] = [];
  while (out.length < n) {
    const i = weightedPick(rng, w);
    out.push(CLASSES[i]);
    w[i] = 0;
  }
  return out;
}

/** The planted priors add objects: the background's home object, then each pair's follower. */
function applyPriors(rng: Rng, k: WorldKnobs, background: string, classes: ObjectClass[]): ObjectClass[] {
  const out = [...classes];
  const home = k.homes[background];
  // Each prior draws its number even when it cannot act, so one knob never shifts another's draws.
  const homeDraw = rng.uniform();
  if (home && !out.includes(home) && homeDraw < k.visualPrior) out.push(home);
  for (const [x, y] of k.pairs) {
    const draw = rng.uniform();
    if (out.includes(x) && !out.includes(y) && draw < k.cooccurrence) out.push(y);
  }
  return out;
}

function pickColour(rng: Rng, k: WorldKnobs, cls: ObjectClass, bg: [number, number, number]): string {
  const home = k.homeColours[cls];
  if (home && rng.uniform() < k.colourPrior) return home;
  // Colours too close to the background would make the object invisible: draw among the others.
  const visible = COLOUR_NAMES.filter((c) => colourDistance(COLOURS[c], bg) > 90 * 90);
  return visible[rng.int(visible.length)];
}

/** One scene; `knobs` decide which priors are active (training vs neutral test scenes). */
export function sampleScene(seed: number, split: string, index: number, k: WorldKnobs): Scene {
  const rng = stream(seed, "scene", split, index);
  const bg = BACKGROUNDS[rng.int(BACKGROUNDS.length)];
  const n = k.minObjects + rng.int(k.maxObjects - k.minObjects + 1);
  let classes = applyPriors(rng, k, bg.name, drawClasses(rng, k, n));
  // Priors may overfill the canvas: the objects they added stay, the earliest drawn ones go.
  if (classes.length > MAX_OBJECTS) classes = classes.slice(classes.length - MAX_OBJECTS);
  const cells = rng.permutation(GRID * GRID);
  const objects = classes.map((cls, i): SceneObject => {
    const cell = cells[i];
    const size = 12 + rng.int(3); // 12..14 px: inside one patch
    const slack = CELL - size;
    return {
      cls,
      colour: pickColour(rng, k, cls, bg.rgb),
      texture: TEXTURES[rng.int(TEXTURES.length)],
      x: (cell % GRID) * CELL + size / 2 + rng.int(slack + 1),
      y: Math.floor(cell / GRID) * CELL + size / 2 + rng.int(slack + 1),
      size,
    };
  });
  return { id: `${split}_${String(index).padStart(6, "0")}`, background: bg.name, objects };
}

export function sceneClasses(s: Scene): ObjectClass[] {
  return s.objects.map((o) => o.cls);
}

/** "A red ball and a green tree on grass." — objects left to right, then top to bottom. */
export function caption(s: Scene): string {
  const objs = [...s.objects].sort((a, b) => a.x - b.x || a.y - b.y).map((o) => `a ${o.colour} ${o.cls}`);
  const list = objs.length === 1 ? objs[0] : `${objs.slice(0, -1).join(", ")} and ${objs[objs.length - 1]}`;
  const text = `${list} on ${s.background}.`;
  return text[0].toUpperCase() + text.slice(1);
}
