/**
 * Crop boxes (issue 17): where in a photo the object is, in [0, 1] coordinates of the photo's
 * width and height, so one box serves the photo at any resolution. Pure functions, no TF.js: they
 * run in Node, the browser and the Worker alike.
 */
import { cropPixels } from '../image/augment.ts';
import type { RgbaPixels } from '../image/preprocess.ts';

/** A rectangle in [0, 1] coordinates: `x`, `width` as fractions of the photo's width, `y`, `height` of its height. */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The whole photo. */
export const WHOLE_FRAME: Readonly<Box> = Object.freeze({ x: 0, y: 0, width: 1, height: 1 });

/**
 * `box` grown by `pad` of its larger side on every side, then made square in pixels of a
 * `aspect` = width / height photo (the shorter side grown about the centre), then moved (and if
 * needed shrunk) to lie inside the photo. Square, because the backbone's input is square: a
 * square crop is resized without distortion.
 */
export function padToSquare(box: Box, pad: number, aspect = 1): Box {
  if (!(pad >= 0 && aspect > 0)) throw new RangeError(`pad must be >= 0 and aspect > 0, got ${pad}, ${aspect}`);
  // In units of the photo's height: x and width scale by the aspect.
  const w = box.width * aspect;
  const h = box.height;
  const side = Math.min(Math.max(w, h) * (1 + 2 * pad), Math.min(aspect, 1));
  const cx = (box.x + box.width / 2) * aspect;
  const cy = box.y + box.height / 2;
  const x = Math.min(Math.max(cx - side / 2, 0), aspect - side);
  const y = Math.min(Math.max(cy - side / 2, 0), 1 - side);
  return { x: x / aspect, y, width: side / aspect, height: side };
}

/** The box in whole pixels of a `width` x `height` photo (rounded outwards, at least 1x1, inside the photo). */
export function boxPixels(box: Box, width: number, height: number): { x: number; y: number; width: number; height: number } {
  const x0 = Math.min(Math.max(Math.floor(box.x * width + 1e-9), 0), width - 1);
  const y0 = Math.min(Math.max(Math.floor(box.y * height + 1e-9), 0), height - 1);
  const x1 = Math.min(Math.max(Math.ceil((box.x + box.width) * width - 1e-9), x0 + 1), width);
  const y1 = Math.min(Math.max(Math.ceil((box.y + box.height) * height - 1e-9), y0 + 1), height);
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** The box's pixels, cut from the photo at its own resolution (the shared preprocessing resizes them to the backbone's input). */
export function cropToBox(pixels: RgbaPixels, box: Box): RgbaPixels {
  const r = boxPixels(box, pixels.width, pixels.height);
  return cropPixels(pixels, r.x, r.y, r.width, r.height);
}
