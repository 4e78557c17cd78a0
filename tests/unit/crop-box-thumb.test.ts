/**
 * Where the Teach screen draws a photo's crop box over its square, `object-fit: cover` thumbnail
 * (client/app/crop-box-place.ts `boxInThumb`): a square photo maps as is; a wide photo shows its central
 * square, so a box in its left third is clipped at the thumbnail's edge; a tall photo likewise.
 */
import { describe, expect, it } from 'vitest';
import { boxInThumb } from '../../client/app/crop-box-place.ts';

const round = (r: { left: number; top: number; width: number; height: number }) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.round(v * 10) / 10]));

describe('boxInThumb', () => {
  it('square photo: percent of the box', () => {
    expect(round(boxInThumb({ x: 0.1, y: 0.2, width: 0.3, height: 0.3 }, 400, 400))).toEqual({ left: 10, top: 20, width: 30, height: 30 });
  });
  it('wide photo (4:3): the central square is shown, the box scaled by the aspect and clipped', () => {
    // Visible x: 1/8 .. 7/8 of the photo. A box at x 0.5-0.75 sits at (0.5-0.125)/0.75 = 50% .. 83.3%.
    expect(round(boxInThumb({ x: 0.5, y: 0.25, width: 0.25, height: 0.5 }, 400, 300))).toEqual({ left: 50, top: 25, width: 33.3, height: 50 });
    // A box in the left eighth is outside the thumbnail: clipped to nothing at the left edge.
    expect(round(boxInThumb({ x: 0, y: 0, width: 0.1, height: 0.2 }, 400, 300))).toEqual({ left: 0, top: 0, width: 0, height: 20 });
  });
  it('tall photo (3:4): the central square vertically', () => {
    expect(round(boxInThumb({ x: 0.25, y: 0.5, width: 0.5, height: 0.25 }, 300, 400))).toEqual({ left: 25, top: 50, width: 50, height: 33.3 });
  });
});
