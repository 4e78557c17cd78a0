/**
 * Crop boxes (issue 17): shared/crop/box.ts (pad, square, inside the photo, whole pixels, the cut)
 * and shared/crop/feature-map-box.ts (channel sums, the largest active group, its box in [0, 1]).
 */
import { describe, expect, it } from 'vitest';
import { boxPixels, cropToBox, padToSquare, WHOLE_FRAME } from '../../shared/crop/box.ts';
import { activationMap, activeRegion, featureMapBox } from '../../shared/crop/feature-map-box.ts';

/** A 7x7 activation map with the given cells set to the given values. */
function map7(cells: [number, number, number][]): Float32Array {
  const a = new Float32Array(49);
  for (const [i, j, v] of cells) a[i * 7 + j] = v;
  return a;
}

describe('padToSquare', () => {
  it('grows a box by pad of its larger side on every side and makes it square about its centre', () => {
    const box = padToSquare({ x: 0.4, y: 0.4, width: 0.2, height: 0.1 }, 0.25);
    expect(box.width).toBeCloseTo(0.3);
    expect(box.height).toBeCloseTo(0.3);
    expect(box.x + box.width / 2).toBeCloseTo(0.5);
    expect(box.y + box.height / 2).toBeCloseTo(0.45);
  });
  it('moves a box at the edge inside the photo and shrinks one larger than it', () => {
    const edge = padToSquare({ x: 0.9, y: 0, width: 0.1, height: 0.1 }, 0.5);
    expect(edge.x + edge.width).toBeCloseTo(1);
    expect(edge.y).toBe(0);
    expect(edge.width).toBeCloseTo(0.2);
    expect(padToSquare({ x: 0, y: 0, width: 1, height: 1 }, 0.2)).toEqual({ x: 0, y: 0, width: 1, height: 1 });
  });
  it('is square in pixels of a wide photo', () => {
    const box = padToSquare({ x: 0.25, y: 0.25, width: 0.1, height: 0.5 }, 0, 2);
    // 0.5 of the height is 0.25 of the width when the photo is twice as wide as high.
    expect(box.width).toBeCloseTo(0.25);
    expect(box.height).toBeCloseTo(0.5);
  });
});

describe('boxPixels and cropToBox', () => {
  it('rounds outwards to whole pixels inside the photo', () => {
    expect(boxPixels({ x: 0.1, y: 0.1, width: 0.5, height: 0.5 }, 10, 10)).toEqual({ x: 1, y: 1, width: 5, height: 5 });
    expect(boxPixels({ x: 0.15, y: 0, width: 0.1, height: 1 }, 10, 4)).toEqual({ x: 1, y: 0, width: 2, height: 4 });
    expect(boxPixels(WHOLE_FRAME, 7, 3)).toEqual({ x: 0, y: 0, width: 7, height: 3 });
  });
  it('cuts exactly the box from the photo', () => {
    const data = new Uint8Array(4 * 4 * 4).map((_, i) => i);
    const crop = cropToBox({ width: 4, height: 4, data }, { x: 0.5, y: 0.25, width: 0.5, height: 0.5 });
    expect([crop.width, crop.height]).toEqual([2, 2]);
    // Pixel (2, 1) of the photo is the crop's first.
    expect(Array.from(crop.data.subarray(0, 4))).toEqual([24, 25, 26, 27]);
  });
});

describe('feature-map box', () => {
  it('sums channels per cell of an HWC map', () => {
    const map = Float32Array.from([1, 2, 3, 4, 5, 6]);
    expect(Array.from(activationMap(map, { height: 1, width: 2, channels: 3 }))).toEqual([6, 15]);
    expect(() => activationMap(map, { height: 2, width: 2, channels: 3 })).toThrow(RangeError);
  });
  it('boxes the largest group of cells above the threshold, not a stronger lone cell', () => {
    const a = map7([
      [1, 1, 8], [1, 2, 7], [2, 1, 6], [2, 2, 9],
      [5, 5, 10],
    ]);
    expect(activeRegion(a, 7, 7, 0.5)).toEqual({ x: 1 / 7, y: 1 / 7, width: 2 / 7, height: 2 / 7 });
    // At a threshold only the lone cell passes, it is the box.
    expect(activeRegion(a, 7, 7, 0.95)).toEqual({ x: 5 / 7, y: 5 / 7, width: 1 / 7, height: 1 / 7 });
  });
  it('breaks a tie in size by the summed activation', () => {
    const a = map7([[0, 0, 5], [6, 6, 6]]);
    expect(activeRegion(a, 7, 7, 0.5)).toEqual({ x: 6 / 7, y: 6 / 7, width: 1 / 7, height: 1 / 7 });
  });
  it('is the whole frame for an all-zero map, and a padded square inside [0, 1] otherwise', () => {
    expect(activeRegion(new Float32Array(49), 7, 7)).toEqual(WHOLE_FRAME);
    const map = new Float32Array(7 * 7 * 2);
    map[(3 * 7 + 6) * 2] = 4;
    map[(4 * 7 + 6) * 2 + 1] = 4;
    const box = featureMapBox(map, { height: 7, width: 7, channels: 2 }, { pad: 0.25 });
    expect(box.width).toBeCloseTo(box.height);
    expect(box.width).toBeCloseTo((2 / 7) * 1.5);
    expect(box.x + box.width).toBeCloseTo(1);
    expect(box.y + box.height / 2).toBeCloseTo(4 / 7);
  });
});
