/**
 * The eval's clutter set (issue 17, scripts/eval/clutter.ts): the same seed gives the same scene,
 * the object is 20-40% of the side, the mask pastes only the object (an emoji's alpha,
 * Fashion-MNIST's dark background thresholded), and the resize keeps transparent colour out.
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { alphaMask, CLUTTER_SIDE, clutteredImage, clutterScene, darkBackgroundMask, distractors, pasteMasked, sceneSeed } from '../../scripts/eval/clutter.ts';
import { texture, TEXTURES } from '../../scripts/eval/clutter-textures.ts';
import { emojiDataset, FASHION_DIR, fashionDataset } from '../../scripts/eval/datasets.ts';
import type { RgbaPixels } from '../../shared/image/preprocess.ts';
import { resizeRgba } from '../../shared/image/resize.ts';
import { mulberry32 } from '../../shared/util/random.ts';

/** A plain opaque image. */
function plain(side: number, rgb: [number, number, number]): RgbaPixels {
  const data = new Uint8Array(side * side * 4);
  for (let i = 0; i < side * side; i++) data.set([...rgb, 255], i * 4);
  return { width: side, height: side, data };
}

describe('clutter scenes', () => {
  it('are the same bytes for the same seed and differ for another', async () => {
    const image = emojiDataset().split(0, [10]).test[3];
    if (!image) throw new Error('no emoji');
    const a = await clutteredImage(image, 'emoji').pixels();
    const b = await clutteredImage(image, 'emoji').pixels();
    expect([a.width, a.height]).toEqual([CLUTTER_SIDE, CLUTTER_SIDE]);
    expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(true);
    const object = await image.pixels();
    const other = clutterScene({ object, mask: alphaMask(object), distractors: await distractors(), gray: false }, sceneSeed(image.id) + 1);
    expect(Buffer.from(other.pixels.data).equals(Buffer.from(a.data))).toBe(false);
  });

  it('place the object at 20-40% of the side, inside the scene, over 200 seeds', () => {
    const object = plain(16, [255, 0, 0]);
    const mask = new Uint8Array(256).fill(255);
    const sides: number[] = [];
    for (let seed = 0; seed < 200; seed++) {
      const { box } = clutterScene({ object, mask, distractors: [], gray: false }, seed, 100);
      expect(box.width).toBe(box.height);
      expect(box.width).toBeGreaterThanOrEqual(0.2);
      expect(box.width).toBeLessThanOrEqual(0.4);
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width).toBeLessThanOrEqual(1 + 1e-9);
      expect(box.y + box.height).toBeLessThanOrEqual(1 + 1e-9);
      sides.push(box.width);
    }
    // Spread over the range, not stuck at one size.
    expect(Math.max(...sides) - Math.min(...sides)).toBeGreaterThan(0.15);
  });

  it('paste the object where it is, the rest of the scene being the background', () => {
    // A square object, red in its masked left half, black (unmasked) in its right half.
    const object = plain(10, [255, 0, 0]);
    const mask = new Uint8Array(100);
    for (let y = 0; y < 10; y++) for (let x = 0; x < 5; x++) mask[y * 10 + x] = 255;
    for (let y = 0; y < 10; y++) for (let x = 5; x < 10; x++) object.data.set([0, 0, 0, 255], (y * 10 + x) * 4);
    const canvas = plain(40, [0, 0, 255]);
    pasteMasked(canvas, object, mask, 10, 10, 20);
    const at = (x: number, y: number): number[] => Array.from(canvas.data.subarray((y * 40 + x) * 4, (y * 40 + x) * 4 + 3));
    expect(at(12, 15)).toEqual([255, 0, 0]); // the masked half
    expect(at(26, 15)).toEqual([0, 0, 255]); // the unmasked half: background, never black
    expect(at(5, 5)).toEqual([0, 0, 255]); // outside the object
    for (let y = 0; y < 40; y++) for (let x = 0; x < 40; x++) expect(at(x, y)[1]).toBe(0);
    for (let y = 0; y < 40; y++) for (let x = 0; x < 40; x++) if (x < 10 || x >= 30 || y < 10 || y >= 30) expect(at(x, y)).toEqual([0, 0, 255]);
  });

  it('threshold Fashion-MNIST\'s dark background and keep an emoji\'s alpha', () => {
    const gray: RgbaPixels = { width: 3, height: 1, data: Uint8Array.from([0, 0, 0, 255, 12, 12, 12, 255, 200, 200, 200, 255]) };
    expect(Array.from(darkBackgroundMask(gray))).toEqual([0, 0, 255]);
    const rgba: RgbaPixels = { width: 2, height: 1, data: Uint8Array.from([9, 9, 9, 0, 9, 9, 9, 128]) };
    expect(Array.from(alphaMask(rgba))).toEqual([0, 128]);
  });

  it.skipIf(!existsSync(join(FASHION_DIR, 't10k-images-idx3-ubyte.gz')))('make Fashion-MNIST scenes grayscale, as Fashion-MNIST is', async () => {
    const image = fashionDataset({ testPerClass: 1, unlabeled: 0 })?.split(0, [1]).test[0];
    if (!image) throw new Error('no fashion image');
    const scene = await clutteredImage(image, 'fashion').pixels();
    for (let o = 0; o < scene.data.length; o += 4) expect(scene.data[o]).toBe(scene.data[o + 1]);
  });

  it('draw every texture deterministically, opaque and in range', () => {
    for (const kind of TEXTURES) {
      const a = texture(kind, 32, mulberry32(7));
      const b = texture(kind, 32, mulberry32(7));
      expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(true);
      for (let o = 3; o < a.data.length; o += 4) expect(a.data[o]).toBe(255);
    }
  });
});

describe('resizeRgba', () => {
  it('keeps a transparent pixel\'s colour out of its opaque neighbours', () => {
    const data = Uint8Array.from([255, 0, 0, 255, 0, 255, 0, 0]);
    const out = resizeRgba({ width: 2, height: 1, data }, 4, 1);
    for (let x = 0; x < 4; x++) if ((out.data[x * 4 + 3] as number) > 0) expect(Array.from(out.data.subarray(x * 4, x * 4 + 3))).toEqual([255, 0, 0]);
    expect(out.data[3]).toBe(255);
    expect(out.data[15]).toBe(0);
  });
});
