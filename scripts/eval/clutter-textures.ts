/**
 * Procedural backgrounds of the clutter set (issue 17, scripts/eval/clutter.ts): noise, stripes,
 * checkers, gradients and blobs, made from a seeded random source only (nothing downloaded), so the
 * same seed gives the same bytes everywhere. One random base colour a scene, and every other colour
 * within {@link SPREAD} of it per channel: busy like a tablecloth, a shelf or a wall, not a poster.
 * (Fully random colour pairs were tried first: even a crop to the object's true box then recovered
 * under a third of the gap to the clean protocol, so the background, not the object's size, was
 * what the set measured.)
 */
import type { RgbaPixels } from '../../shared/image/preprocess.ts';
import type { Random } from '../../shared/util/random.ts';

/** The kinds of background, one drawn per scene. */
export const TEXTURES = ['noise', 'stripes', 'checker', 'gradient', 'blobs'] as const;
export type Texture = (typeof TEXTURES)[number];

type Rgb = [number, number, number];

/** How far (per channel, 0..255) a background's colours stray from its base colour. */
export const SPREAD = 70;
const randomColour = (random: Random): Rgb => [Math.floor(random() * 256), Math.floor(random() * 256), Math.floor(random() * 256)];
/** A colour within {@link SPREAD} of `base` per channel, clamped to 0..255. */
const near = (base: Rgb, random: Random): Rgb => base.map((v) => Math.min(255, Math.max(0, v + Math.round((random() * 2 - 1) * SPREAD)))) as Rgb;
/** Two colours of one scene: a random base and one near it. */
const pair = (random: Random): [Rgb, Rgb] => {
  const base = randomColour(random);
  return [base, near(base, random)];
};
const mix = (a: Rgb, b: Rgb, t: number): Rgb => [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];

/** A channel value rounded and clamped to 0..255 (a Uint8Array would wrap it). */
const byte = (v: number): number => Math.min(255, Math.max(0, Math.round(v)));

/** An opaque `side` x `side` image whose pixel (x, y) is `colour(x, y)`. */
function paint(side: number, colour: (x: number, y: number) => Rgb): RgbaPixels {
  const data = new Uint8Array(side * side * 4);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const [r, g, b] = colour(x, y);
      const o = (y * side + x) * 4;
      data[o] = byte(r);
      data[o + 1] = byte(g);
      data[o + 2] = byte(b);
      data[o + 3] = 255;
    }
  }
  return { width: side, height: side, data };
}

/** Smooth value noise: a random lattice of `cells` x `cells` values, bilinearly interpolated, plus fine grain. */
function noise(side: number, random: Random): RgbaPixels {
  const cells = 3 + Math.floor(random() * 12);
  const lattice = Array.from({ length: (cells + 1) * (cells + 1) }, () => random());
  const [a, b] = pair(random);
  const grain = 8 + random() * 20;
  return paint(side, (x, y) => {
    const u = (x / side) * cells;
    const v = (y / side) * cells;
    const i = Math.floor(u);
    const j = Math.floor(v);
    const fu = u - i;
    const fv = v - j;
    const at = (di: number, dj: number): number => lattice[(j + dj) * (cells + 1) + i + di] as number;
    const t = (at(0, 0) * (1 - fu) + at(1, 0) * fu) * (1 - fv) + (at(0, 1) * (1 - fu) + at(1, 1) * fu) * fv;
    const c = mix(a, b, t);
    const g = (random() - 0.5) * grain;
    return [c[0] + g, c[1] + g, c[2] + g];
  });
}

/** Parallel stripes at a random angle and period, in two colours. */
function stripes(side: number, random: Random): RgbaPixels {
  const angle = random() * Math.PI;
  const period = side * (0.03 + random() * 0.12);
  const [a, b] = pair(random);
  const [dx, dy] = [Math.cos(angle), Math.sin(angle)];
  return paint(side, (x, y) => ((x * dx + y * dy) / period) % 1 < 0.5 ? a : b);
}

/** A checkerboard of random cell size, rotated at random, in two colours. */
function checker(side: number, random: Random): RgbaPixels {
  const angle = random() * Math.PI;
  const cell = side * (0.03 + random() * 0.1);
  const [a, b] = pair(random);
  const [c, s] = [Math.cos(angle), Math.sin(angle)];
  return paint(side, (x, y) => ((Math.floor((x * c + y * s) / cell) + Math.floor((y * c - x * s) / cell)) & 1 ? a : b));
}

/** A linear gradient between two colours at a random angle. */
function gradient(side: number, random: Random): RgbaPixels {
  const angle = random() * 2 * Math.PI;
  const [a, b] = pair(random);
  const [dx, dy] = [Math.cos(angle), Math.sin(angle)];
  const span = side * (Math.abs(dx) + Math.abs(dy));
  const origin = Math.min(0, dx * side) + Math.min(0, dy * side);
  return paint(side, (x, y) => mix(a, b, (x * dx + y * dy - origin) / span));
}

/** Random filled ellipses in random colours over a random plain colour. */
function blobs(side: number, random: Random): RgbaPixels {
  const ground = randomColour(random);
  const shapes = Array.from({ length: 6 + Math.floor(random() * 14) }, () => ({
    cx: random() * side,
    cy: random() * side,
    rx: side * (0.04 + random() * 0.2),
    ry: side * (0.04 + random() * 0.2),
    colour: near(ground, random),
  }));
  return paint(side, (x, y) => {
    let colour = ground;
    for (const s of shapes) if (((x - s.cx) / s.rx) ** 2 + ((y - s.cy) / s.ry) ** 2 <= 1) colour = s.colour;
    return colour;
  });
}

const MAKERS: Record<Texture, (side: number, random: Random) => RgbaPixels> = { noise, stripes, checker, gradient, blobs };

/** A `side` x `side` opaque background of the given kind, drawn from `random`. */
export function texture(kind: Texture, side: number, random: Random): RgbaPixels {
  return MAKERS[kind](side, random);
}

/**
 * `pixels` (opaque) with its contrast scaled by `contrast`, in place: each channel blended toward
 * the image's mean of that channel (1: unchanged, 0: flat at the mean colour). Lowers a texture's
 * contrast without changing its colour, as a table or a wall is busy but not loud.
 */
export function withContrast(pixels: RgbaPixels, contrast: number): void {
  if (contrast === 1) return;
  const { data } = pixels;
  const mean = [0, 0, 0];
  for (let o = 0; o < data.length; o += 4) for (let c = 0; c < 3; c++) mean[c] = (mean[c] as number) + (data[o + c] as number);
  const n = data.length / 4;
  for (let c = 0; c < 3; c++) mean[c] = (mean[c] as number) / n;
  for (let o = 0; o < data.length; o += 4) for (let c = 0; c < 3; c++) data[o + c] = byte((mean[c] as number) + contrast * ((data[o + c] as number) - (mean[c] as number)));
}
