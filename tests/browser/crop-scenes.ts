/**
 * Photos whose object sits small in a corner of a noisy frame (issue 17's problem), built in Node
 * from the emoji test images: the emoji scaled to `side` px, alpha-blended at a corner (16 px in)
 * of a 448x336 frame of seeded noise, sent as lossless PNGs. Each scene says where its object is.
 */
import type { Box } from '../../shared/crop/box.ts';
import { decodeImage } from '../../shared/image/decode.ts';
import { resizeRgba } from '../../shared/image/resize.ts';
import { makePng } from '../helpers/images.ts';
import { imageArg } from './util.ts';

/** A scene: the photo as the harness takes it, and its object's box in [0, 1] fractions. */
export interface CropScene {
  image: { base64: string; type: string };
  object: Box;
}

export const SCENE = { width: 448, height: 336 } as const;

/** The scene of `emoji` (a harness image: base64 PNG) at `corner` (0 top left, then clockwise), over noise seeded by `seed`. */
export async function cornerScene(emoji: { base64: string }, corner: 0 | 1 | 2 | 3, seed: number, side = 112): Promise<CropScene> {
  const { width, height } = SCENE;
  const decoded = await decodeImage(new Uint8Array(Buffer.from(emoji.base64, 'base64')));
  const object = resizeRgba({ width: decoded.width, height: decoded.height, data: decoded.data }, side, side);
  const data = new Uint8Array(width * height * 4);
  let state = (seed * 2654435761) >>> 0 || 1;
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  for (let i = 0; i < data.length; i += 4) {
    const base = 90 + next() * 80;
    data.set([base + next() * 30, base + next() * 30, base + next() * 30, 255], i);
  }
  const x0 = corner === 0 || corner === 3 ? 16 : width - 16 - side;
  const y0 = corner === 0 || corner === 1 ? 16 : height - 16 - side;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const s = (y * side + x) * 4;
      const d = ((y0 + y) * width + x0 + x) * 4;
      const a = (object.data[s + 3] ?? 0) / 255;
      for (let c = 0; c < 3; c++) data[d + c] = Math.round((object.data[s + c] ?? 0) * a + (data[d + c] ?? 0) * (1 - a));
    }
  }
  return { image: imageArg(makePng(width, height, data), 'image/png'), object: { x: x0 / width, y: y0 / height, width: side / width, height: side / height } };
}

/**
 * Classes to teach (`teach`'s argument) whose photos are the corner scenes of each class's emoji in
 * `train` (`side` px): the corner goes round with the photo and the class, the noise is seeded per
 * photo (10 x class + photo + 1), so the same split gives the same scenes.
 */
export async function cornerClasses(names: readonly string[], train: Readonly<Record<string, readonly { image: { base64: string } }[]>>, side = 80): Promise<{ name: string; images: CropScene['image'][] }[]> {
  return Promise.all(
    names.map(async (name, c) => ({
      name,
      images: await Promise.all((train[name] ?? []).map(async (e, i) => (await cornerScene(e.image, ((i + c) % 4) as 0 | 1 | 2 | 3, 10 * c + i + 1, side)).image)),
    })),
  );
}
