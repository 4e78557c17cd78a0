/**
 * The clutter set of issue 17: each image of the clean protocol (scripts/eval/datasets.ts) made into
 * a photo where the object is small and the rest is busy, built at eval time from the same data.
 *
 * A scene is {@link CLUTTER_SIDE} px square: a procedural background (scripts/eval/clutter-textures.ts:
 * noise, stripes, checker, gradient or blobs) at {@link SCENE_CONTRAST} of its drawn contrast, 2-4 distractors (emoji of subcategories outside the
 * ten taught, {@link DISTRACTOR_SUBCATEGORIES}, 10-18% of the side), then the object on top, 20-40%
 * of the side at a random position, pasted through its mask: an emoji's alpha, or for
 * Fashion-MNIST the pixels brighter than its black background ({@link darkBackgroundMask}). Fashion
 * scenes are made grayscale, as Fashion-MNIST is. Every draw comes from a seed of the image's id
 * (scripts/eval/id-seed.ts), so an image's scene is the same in every run and every split it is
 * in: the clutter protocol uses the clean protocol's splits (same seeds, shots and test images), and
 * the two pair by seed.
 *
 * Why this design (session 10; written down before the crop methods were measured on it, so the set
 * is not chosen by which design makes cropping win). The set stands for a phone photo of a thing on
 * a table, on a shelf or in a hand. Such a background is a surface (wood grain, a tablecloth, a
 * painted wall, a shelf's edge, skin): busy, but of moderate contrast, its pattern spanning a
 * fraction of the range, while the thing photographed, which the person frames and the camera
 * exposes for, is what stands out. A few other things lie around, smaller or farther away. Hence:
 * - the texture at 30% of its drawn contrast ({@link SCENE_CONTRAST}: each pixel's distance from the
 *   texture's mean colour scaled by 0.3, so the +-70 a channel of clutter-textures.ts SPREAD becomes
 *   about +-21), its colour kept (surfaces come in every colour);
 * - 2-4 distractors at full contrast (they are objects, not surface), smaller than the object
 *   (10-18% of the side against 20-40%), from outside the ten classes: the issue fixes these, and
 *   the object's size and random position;
 * - the side 448 px, the backbone's input twice: a crop keeps detail the whole frame loses (a 20%
 *   object is 90 px, more than Fashion-MNIST's 28); 672 was not tried, as the crop is resized to
 *   224 either way and the object's pixels are already finer than the backbone sees.
 * Session 9's textures at full contrast (contrast 1: stripes and checkers as loud as the object)
 * stand for a poster or a chessboard behind the thing: possible, not typical. On them even the
 * object's true box recovered 28% of the gap to the clean protocol (seeds 0-4), so they measured
 * the background more than the finding. `--clutter-contrast 1` still draws them.
 *
 * Where the true box loses (session 10, seeds 0-1, both datasets, the softmax head before b67f26c;
 * share of the gap to the clean protocol it recovers, emoji / Fashion-MNIST): contrast 1, box padded
 * by 15% as the crops are, 25% / 25%; the same box cut tight (pad 0), 49% / 40%; contrast 0.3,
 * padded, 38% / 37%. What is lost is the background inside the box: how much of the crop it is
 * (the pad) more than how loud it is. The rest of the gap, even for a tight true box, is the object
 * on a background it was not on in the clean protocol (white for emoji, black for Fashion-MNIST),
 * different in every shot.
 */
import { decodeImage } from '../../shared/image/decode.ts';
import type { RgbaPixels } from '../../shared/image/preprocess.ts';
import { resizeRgba } from '../../shared/image/resize.ts';
import { WHOLE_FRAME, type Box } from '../../shared/crop/box.ts';
import { mulberry32, type Random } from '../../shared/util/random.ts';
import { emojiFiles, emojiPng } from '../emoji.ts';
import { texture, TEXTURES, withContrast } from './clutter-textures.ts';
import type { EvalImage } from './datasets.ts';
import { idSeed } from './id-seed.ts';

/** A scene's side in pixels: twice the backbone's input, so a crop keeps detail the whole frame loses. */
export const CLUTTER_SIDE = 448;
/** The object's side as a fraction of the scene's. */
export const OBJECT_SIZE: readonly [number, number] = [0.2, 0.4];
/** A distractor's side as a fraction of the scene's (smaller than the object). */
export const DISTRACTOR_SIZE: readonly [number, number] = [0.1, 0.18];
/** Emoji subcategories none of the ten taught emoji subcategories, nor a garment, belongs to. */
export const DISTRACTOR_SUBCATEGORIES = ['tool', 'household', 'office', 'book-paper', 'game', 'light & video', 'heart', 'geometric', 'time', 'face-concerned'];
/** Fashion-MNIST's mask: a pixel brighter than this (0..255) is the garment. */
export const FASHION_MASK_THRESHOLD = 12;

/**
 * How scenes are made beyond their seed: the knobs of the set's design (`--clutter-contrast`,
 * `--clutter-no-distractors`). Every knob draws the same random numbers, so a scene of another
 * design has the same texture kind, distractor draws and object box as the default one: designs
 * pair scene by scene.
 */
export interface SceneDesign {
  /** The background texture's contrast (scripts/eval/clutter-textures.ts withContrast): 1 as drawn, 0 flat at its mean colour. */
  contrast: number;
  /** Whether the 2-4 distractors are pasted (drawn either way). */
  distractors: boolean;
  /**
   * No scene: the clean protocol's image itself, its box the whole frame (`--clutter-clean`), so the
   * crops' cost on the clean protocol is measured the same way (issue 17: "no loss on the clean protocol").
   */
  clean: boolean;
}
/** The background's contrast in the published set (module comment: a surface is busy, not loud). */
export const SCENE_CONTRAST = 0.3;
/** The design of the published set. */
export const DEFAULT_DESIGN: Readonly<SceneDesign> = Object.freeze({ contrast: SCENE_CONTRAST, distractors: true, clean: false });

/** A scene and where its object is. */
export interface Scene {
  pixels: RgbaPixels;
  /** The object's pasted square, in [0, 1] coordinates of the scene. */
  box: Box;
}

/** An image's mask from its alpha channel (an emoji's transparent background), 0..255 a pixel. */
export function alphaMask(pixels: RgbaPixels): Uint8Array {
  const mask = new Uint8Array(pixels.width * pixels.height);
  for (let i = 0; i < mask.length; i++) mask[i] = pixels.data[i * 4 + 3] as number;
  return mask;
}

/** A mask thresholded from a dark background (Fashion-MNIST: a light garment on black): 255 where the red channel is above `threshold`, else 0. */
export function darkBackgroundMask(pixels: RgbaPixels, threshold = FASHION_MASK_THRESHOLD): Uint8Array {
  const mask = new Uint8Array(pixels.width * pixels.height);
  for (let i = 0; i < mask.length; i++) mask[i] = (pixels.data[i * 4] as number) > threshold ? 255 : 0;
  return mask;
}

/**
 * `object` (its alpha replaced by `mask`) resized to `size` px on its longer side and blended onto
 * `canvas` (changed in place) with its top-left corner at (`x`, `y`): only masked pixels change.
 */
export function pasteMasked(canvas: RgbaPixels, object: RgbaPixels, mask: Uint8Array, x: number, y: number, size: number): void {
  const withMask = new Uint8Array(object.data);
  for (let i = 0; i < mask.length; i++) withMask[i * 4 + 3] = mask[i] as number;
  const scale = size / Math.max(object.width, object.height);
  const scaled = resizeRgba({ width: object.width, height: object.height, data: withMask }, Math.max(1, Math.round(object.width * scale)), Math.max(1, Math.round(object.height * scale)));
  const { data } = canvas;
  for (let row = 0; row < scaled.height; row++) {
    const cy = y + row;
    if (cy < 0 || cy >= canvas.height) continue;
    for (let col = 0; col < scaled.width; col++) {
      const cx = x + col;
      if (cx < 0 || cx >= canvas.width) continue;
      const s = (row * scaled.width + col) * 4;
      const a = (scaled.data[s + 3] as number) / 255;
      if (a === 0) continue;
      const o = (cy * canvas.width + cx) * 4;
      for (let c = 0; c < 3; c++) data[o + c] = Math.round((scaled.data[s + c] as number) * a + (data[o + c] as number) * (1 - a));
    }
  }
}

/** Each pixel replaced by its luminance (BT.601), alpha kept. */
function toGray(pixels: RgbaPixels): void {
  const { data } = pixels;
  for (let o = 0; o < data.length; o += 4) {
    const v = Math.round(0.299 * (data[o] as number) + 0.587 * (data[o + 1] as number) + 0.114 * (data[o + 2] as number));
    data[o] = v;
    data[o + 1] = v;
    data[o + 2] = v;
  }
}

/** A size in px drawn from `range` (fractions of `side`). */
const drawSize = (random: Random, range: readonly [number, number], side: number): number => Math.round(side * (range[0] + random() * (range[1] - range[0])));

/** What a scene is made of: the object with its mask, the distractors to draw from, and whether it ends grayscale. */
export interface SceneParts {
  object: RgbaPixels;
  mask: Uint8Array;
  /** Images with their own alpha (emoji), from which 2-4 are drawn. */
  distractors: readonly RgbaPixels[];
  gray: boolean;
}

/** One scene (module comment), every draw from `seed`; `design` changes what is drawn, not the draws ({@link SceneDesign}). */
export function clutterScene(parts: SceneParts, seed: number, side = CLUTTER_SIDE, design: Readonly<Pick<SceneDesign, 'contrast' | 'distractors'>> = DEFAULT_DESIGN): Scene {
  const random = mulberry32(seed);
  const canvas = texture(TEXTURES[Math.floor(random() * TEXTURES.length)] as (typeof TEXTURES)[number], side, random);
  withContrast(canvas, design.contrast);
  const count = parts.distractors.length ? 2 + Math.floor(random() * 3) : 0;
  for (let n = 0; n < count; n++) {
    const d = parts.distractors[Math.floor(random() * parts.distractors.length)] as RgbaPixels;
    const size = drawSize(random, DISTRACTOR_SIZE, side);
    const [x, y] = [Math.floor(random() * (side - size + 1)), Math.floor(random() * (side - size + 1))];
    if (design.distractors) pasteMasked(canvas, d, alphaMask(d), x, y, size);
  }
  const size = drawSize(random, OBJECT_SIZE, side);
  const x = Math.floor(random() * (side - size + 1));
  const y = Math.floor(random() * (side - size + 1));
  pasteMasked(canvas, parts.object, parts.mask, x, y, size);
  if (parts.gray) toGray(canvas);
  return { pixels: canvas, box: { x: x / side, y: y / side, width: size / side, height: size / side } };
}

let distractorPixels: Promise<RgbaPixels[]> | undefined;

/** The distractor emoji, decoded once a run. */
export function distractors(): Promise<RgbaPixels[]> {
  distractorPixels ??= Promise.all(DISTRACTOR_SUBCATEGORIES.flatMap((s) => emojiFiles(s)).map((file) => decodeImage(emojiPng(file))));
  return distractorPixels;
}

/** The scene's seed for an image: its id's, so the scene is the same wherever the image appears. */
export const sceneSeed = (imageId: string): number => idSeed(`clutter:${imageId}`);

/**
 * An image of the clean protocol as its cluttered scene (module comment): id `clutter:<id>`, same
 * label; `mask` says how the dataset's object is cut out (emoji: alpha; Fashion-MNIST: dark background).
 */
export function clutteredImage(image: EvalImage, dataset: 'emoji' | 'fashion', design: Readonly<SceneDesign> = DEFAULT_DESIGN): EvalImage {
  return { id: `clutter:${image.id}`, label: image.label, pixels: async () => (await clutteredScene(image, dataset, design)).pixels };
}

/** An image's scene with its object's box (what {@link clutteredImage} shows). */
export async function clutteredScene(image: EvalImage, dataset: 'emoji' | 'fashion', design: Readonly<SceneDesign> = DEFAULT_DESIGN): Promise<Scene> {
  const object = await image.pixels();
  if (design.clean) return { pixels: object, box: { ...WHOLE_FRAME } };
  const mask = dataset === 'emoji' ? alphaMask(object) : darkBackgroundMask(object);
  return clutterScene({ object, mask, distractors: await distractors(), gray: dataset === 'fashion' }, sceneSeed(image.id), CLUTTER_SIDE, design);
}
