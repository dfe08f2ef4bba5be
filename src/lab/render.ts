// Draws a scene into an 8-bit RGB image. Shapes are tested per pixel against simple implicit
// forms (in units of the object's half-size), so every class has a distinct silhouette at 56 px.
import { stream } from "../util/rng.js";
import { createImage, type RgbImage } from "../vision/image.js";
import { BACKGROUNDS, COLOURS, type ObjectClass, type Texture } from "./world.js";
import { CANVAS, type Scene, type SceneObject } from "./scenes.js";

/** Is the point (u, v) ∈ [-1, 1]² (v down) inside the silhouette of `cls`? */
function inside(cls: ObjectClass, u: number, v: number): boolean {
  const r = Math.hypot(u, v);
  switch (cls) {
    case "ball":
      return r <= 0.9;
    case "box":
      return Math.abs(u) <= 0.75 && Math.abs(v) <= 0.75;
    case "tent":
      return v >= -0.85 && v <= 0.85 && Math.abs(u) <= ((v + 0.85) / 1.7) * 0.95;
    case "kite":
      return Math.abs(u) / 0.6 + Math.abs(v) / 0.95 <= 1;
    case "ring":
      return r <= 0.9 && r >= 0.5;
    case "cross":
      return (Math.abs(u) <= 0.25 && Math.abs(v) <= 0.9) || (Math.abs(v) <= 0.25 && Math.abs(u) <= 0.9);
    case "flag":
      return (u >= -0.8 && u <= -0.6 && Math.abs(v) <= 0.95) || (u > -0.6 && u <= 0.85 && v >= -0.95 && v <= -0.1);
    case "tree":
      return (v >= 0.45 && v <= 0.95 && Math.abs(u) <= 0.15) || (v >= -0.95 && v < 0.45 && Math.abs(u) <= ((v + 0.95) / 1.4) * 0.8);
    case "cup":
      return (
        (v >= -0.6 && v <= 0.8 && Math.abs(u) <= 0.65 && !(v < 0.5 && Math.abs(u) < 0.4)) ||
        (u > 0.65 && u <= 0.95 && v >= -0.35 && v <= 0.35 && !(u < 0.8 && Math.abs(v) < 0.15))
      );
    case "moon":
      return r <= 0.9 && Math.hypot(u - 0.4, v + 0.2) > 0.7;
  }
}

/** Texture modulation: stripes darken alternate bands, dots lighten a grid of spots. */
function shade(tex: Texture, px: number, py: number, rgb: readonly number[]): number[] {
  if (tex === "stripes" && Math.floor((px + py) / 3) % 2 === 0) return rgb.map((c) => c * 0.55);
  if (tex === "dots" && px % 4 < 2 && py % 4 < 2) return rgb.map((c) => c + (255 - c) * 0.5);
  return [...rgb];
}

function put(img: RgbImage, x: number, y: number, rgb: readonly number[]): void {
  const i = (y * img.width + x) * 3;
  for (let c = 0; c < 3; c++) img.data[i + c] = Math.max(0, Math.min(255, Math.round(rgb[c])));
}

function drawBackground(img: RgbImage, scene: Scene, seed: number): void {
  const bg = BACKGROUNDS.find((b) => b.name === scene.background)!;
  const rng = stream(seed, "pixels", scene.id);
  for (let y = 0; y < img.height; y++) {
    const t = y / img.height;
    for (let x = 0; x < img.width; x++) {
      let f = 1;
      if (bg.pattern === "gradient") f = 0.8 + 0.35 * t;
      if (bg.pattern === "stripes" && Math.floor(y / (img.height / 8)) % 2 === 0) f = 0.8;
      const n = (rng.uniform() * 2 - 1) * bg.noise;
      put(
        img,
        x,
        y,
        bg.rgb.map((c) => c * f + n),
      );
    }
  }
}

function drawObject(img: RgbImage, o: SceneObject, scale: number): void {
  const rgb = COLOURS[o.colour];
  const half = (o.size * scale) / 2;
  const cx = o.x * scale;
  const cy = o.y * scale;
  for (let y = Math.max(0, Math.floor(cy - half)); y < Math.min(img.height, Math.ceil(cy + half)); y++) {
    for (let x = Math.max(0, Math.floor(cx - half)); x < Math.min(img.width, Math.ceil(cx + half)); x++) {
      const u = (x + 0.5 - cx) / half;
      const v = (y + 0.5 - cy) / half;
      if (inside(o.cls, u, v)) put(img, x, y, shade(o.texture, Math.floor(x / scale), Math.floor(y / scale), rgb));
    }
  }
}

/** The scene as an RGB image of `size`×`size` pixels (default 56, the lab model's input size). */
export function renderScene(scene: Scene, seed: number, size = CANVAS): RgbImage {
  const img = createImage(size, size);
  drawBackground(img, scene, seed);
  for (const o of scene.objects) drawObject(img, o, size / CANVAS);
  return img;
}
