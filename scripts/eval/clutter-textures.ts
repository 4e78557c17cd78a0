/**
 * Procedural backgrounds of the clutter set (issue 17, scripts/eval/clutter.ts): noise, stripes,
 * checkers, gradients and blobs in random colours, made from a seeded random source only (nothing
 * downloaded), so the same seed gives the same bytes everywhere.
 */
import type { RgbaPixels } from '../../shared/image/preprocess.ts';
import type { Random } from '../../shared/util/random.ts';

/** The kinds of background, one drawn per scene. */
export const TEXTURES = ['noise', 'stripes', 'checker', 'gradient', 'blobs'] as const;
export type Texture = (typeof TEXTURES)[number];

type Rgb = [number, number, number];

const randomColour = (random: Random): Rgb => [Math.floor(random() * 256), Math.floor(random() * 256), Math.floor(random() * 256)];
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
  const [a, b] = [randomColour(random), randomColour(random)];
  const grain = 20 + random() * 50;
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
  const [a, b] = [randomColour(random), randomColour(random)];
  const [dx, dy] = [Math.cos(angle), Math.sin(angle)];
  return paint(side, (x, y) => ((x * dx + y * dy) / period) % 1 < 0.5 ? a : b);
}

/** A checkerboard of random cell size, rotated at random, in two colours. */
function checker(side: number, random: Random): RgbaPixels {
  const angle = random() * Math.PI;
  const cell = side * (0.03 + random() * 0.1);
  const [a, b] = [randomColour(random), randomColour(random)];
  const [c, s] = [Math.cos(angle), Math.sin(angle)];
  return paint(side, (x, y) => ((Math.floor((x * c + y * s) / cell) + Math.floor((y * c - x * s) / cell)) & 1 ? a : b));
}

/** A linear gradient between two colours at a random angle. */
function gradient(side: number, random: Random): RgbaPixels {
  const angle = random() * 2 * Math.PI;
  const [a, b] = [randomColour(random), randomColour(random)];
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
    colour: randomColour(random),
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
