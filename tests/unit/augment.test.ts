/**
 * Capture-time augmentation (shared/image/augment.ts): exact flips and crops, jitter that keeps alpha and
 * stays in range, seeded determinism (same seed, same bytes; view i independent of the count), and
 * the views of a real emoji PNG staying close to it in embedding space is left to the browser
 * tests (they train on them).
 */
import { describe, expect, it } from 'vitest';
import {
  augmentedView,
  augmentedViews,
  cropPixels,
  flipHorizontal,
  jitterBrightnessContrast,
  randomCrop,
} from '../../shared/image/augment.ts';
import { decodeImage } from '../../shared/image/decode.ts';
import type { RgbaPixels } from '../../shared/image/preprocess.ts';
import { mulberry32 } from '../../shared/util/random.ts';
import { emojiPng } from '../helpers/fixtures.ts';

/** A w x h image whose pixel (x, y) is (x, y, x + y, 200 + (x % 50)). */
function gradient(width: number, height: number): RgbaPixels {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      data.set([x & 255, y & 255, (x + y) & 255, 200 + (x % 50)], (y * width + x) * 4);
    }
  }
  return { width, height, data };
}

const px = (img: RgbaPixels, x: number, y: number): number[] => Array.from(img.data.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 4));

describe('flipHorizontal', () => {
  it('mirrors every row exactly and twice is the identity', () => {
    const img = gradient(7, 3);
    const f = flipHorizontal(img);
    expect([f.width, f.height]).toEqual([7, 3]);
    for (let y = 0; y < 3; y++) for (let x = 0; x < 7; x++) expect(px(f, x, y)).toEqual(px(img, 6 - x, y));
    expect(flipHorizontal(f).data).toEqual(img.data);
  });

  it('works on a view that is not 4-byte aligned', () => {
    const img = gradient(5, 2);
    const buf = new Uint8Array(img.data.length + 1);
    buf.set(img.data, 1);
    const unaligned = { width: 5, height: 2, data: buf.subarray(1) };
    expect(flipHorizontal(unaligned).data).toEqual(flipHorizontal(img).data);
  });
});

describe('crops', () => {
  it('cropPixels copies the rectangle and refuses one outside the image', () => {
    const img = gradient(10, 8);
    const c = cropPixels(img, 2, 3, 4, 5);
    expect([c.width, c.height, c.data.length]).toEqual([4, 5, 80]);
    expect(px(c, 0, 0)).toEqual(px(img, 2, 3));
    expect(px(c, 3, 4)).toEqual(px(img, 5, 7));
    expect(() => cropPixels(img, 7, 0, 4, 1)).toThrow(RangeError);
  });

  it('randomCrop keeps 80-95% of the area (within rounding and the 10% aspect change) and stays inside', () => {
    const img = gradient(200, 150);
    const random = mulberry32(7);
    for (let i = 0; i < 200; i++) {
      const c = randomCrop(img, random);
      const share = (c.width * c.height) / (200 * 150);
      expect(share).toBeGreaterThan(0.78);
      expect(share).toBeLessThanOrEqual(0.97);
      expect(c.width).toBeLessThanOrEqual(200);
      expect(c.height).toBeLessThanOrEqual(150);
      // Its top-left pixel tells where it was taken from (x, y are encoded in R, G).
      const [x, y] = px(c, 0, 0) as [number, number];
      expect(x + c.width).toBeLessThanOrEqual(200);
      expect(y + c.height).toBeLessThanOrEqual(150);
    }
    expect(() => randomCrop(img, random, [0.9, 0.8])).toThrow(RangeError);
  });
});

describe('jitterBrightnessContrast', () => {
  it('keeps alpha, stays in 0..255 and changes levels monotonically', () => {
    const img = gradient(64, 64);
    const random = mulberry32(3);
    for (let i = 0; i < 20; i++) {
      const j = jitterBrightnessContrast(img, random, 0.5, 0.5);
      const alpha = (d: Uint8Array | Uint8ClampedArray) => d.filter((_, k) => k % 4 === 3);
      expect(alpha(j.data)).toEqual(alpha(img.data));
      // Monotonic: a brighter input channel never comes out darker.
      const order = (d: Uint8Array | Uint8ClampedArray) => [d[0], d[4 * 10], d[4 * 40]] as number[];
      const [a, b, c] = order(j.data);
      expect(a).toBeLessThanOrEqual(b as number);
      expect(b).toBeLessThanOrEqual(c as number);
    }
  });

  it('with zero ranges it is the identity', () => {
    const img = gradient(16, 16);
    expect(jitterBrightnessContrast(img, mulberry32(1), 0, 0).data).toEqual(new Uint8Array(img.data));
  });
});

describe('augmentedViews', () => {
  it('gives count views with the documented recipe, deterministically', async () => {
    const dog = await decodeImage(emojiPng('1f436'));
    const views = augmentedViews(dog, { seed: 42 });
    expect(views.map((v) => v.ops)).toEqual([['flip'], ['crop', 'jitter'], ['flip', 'crop', 'jitter']]);
    expect(views[0]?.data).toEqual(flipHorizontal(dog).data);
    for (const v of views) expect(v.data.length).toBe(v.width * v.height * 4);

    // Same seed: same bytes. Another seed: other crops.
    const again = augmentedViews(dog, { seed: 42 });
    expect(again.map((v) => [v.width, v.height, Buffer.from(v.data).toString('base64')])).toEqual(
      views.map((v) => [v.width, v.height, Buffer.from(v.data).toString('base64')]),
    );
    const other = augmentedViews(dog, { seed: 43 });
    expect(other.slice(1).map((v) => Buffer.from(v.data).toString('base64'))).not.toEqual(
      views.slice(1).map((v) => Buffer.from(v.data).toString('base64')),
    );

    // View i does not depend on how many views were asked for.
    const five = augmentedViews(dog, { seed: 42, count: 5 });
    expect(five).toHaveLength(5);
    expect(five.slice(0, 3).map((v) => Buffer.from(v.data).toString('base64'))).toEqual(
      views.map((v) => Buffer.from(v.data).toString('base64')),
    );
    expect(five[3]?.ops).toEqual(['crop', 'jitter']);
    expect(augmentedViews(dog, { seed: 1, count: 0 })).toEqual([]);
    expect(() => augmentedViews(dog, { seed: 1, count: -1 })).toThrow(RangeError);
  });

  it('augmentedView(i) alone is view i of augmentedViews, byte for byte', async () => {
    const dog = await decodeImage(emojiPng('1f436'));
    const all = augmentedViews(dog, { seed: 9, count: 5 });
    all.forEach((view, i) => {
      const alone = augmentedView(dog, i, { seed: 9 });
      expect([alone.width, alone.height, alone.ops]).toEqual([view.width, view.height, view.ops]);
      expect(Buffer.from(alone.data).equals(Buffer.from(view.data))).toBe(true);
    });
    expect(() => augmentedView(dog, -1, { seed: 9 })).toThrow(RangeError);
  });

  it('leaves the input untouched', async () => {
    const dog = await decodeImage(emojiPng('1f436'));
    const copy = new Uint8Array(dog.data);
    augmentedViews(dog, { seed: 5, count: 4 });
    expect(new Uint8Array(dog.data)).toEqual(copy);
  });
});
