/**
 * A photo for crop tests (issue 17): a small patterned object on a flat background, off centre, so
 * a feature-map crop (shared/crop/crop-step.ts) finds a box smaller than the frame. Pure JavaScript,
 * so Node, workerd and the browser tests build the same pixels; sent as a lossless PNG.
 */
import { makePng, makeQuadrantRgba } from './images.ts';

/** The scene's size: wider than tall, so the box's aspect handling is exercised. */
export const CROP_SCENE = { width: 192, height: 144 } as const;

/** The scene's RGBA pixels: grey, with a 48x48 four-colour patch whose top-left corner is at (128, 16). */
export function cropScenePixels(): { width: number; height: number; data: Uint8Array } {
  const { width, height } = CROP_SCENE;
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < data.length; i += 4) data.set([150, 150, 150, 255], i);
  const side = 48;
  const patch = makeQuadrantRgba(side, side);
  for (let y = 0; y < side; y++) data.set(patch.subarray(y * side * 4, (y + 1) * side * 4), ((16 + y) * width + 128) * 4);
  return { width, height, data };
}

/** The scene as a PNG file. */
export function cropScenePng(): Uint8Array {
  const { width, height, data } = cropScenePixels();
  return makePng(width, height, data);
}
