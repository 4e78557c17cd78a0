/**
 * The clutter protocol's distinctiveness boxes (scripts/eval/clutter-distinct.ts): each cell's
 * distance from the scene's median cell, and the box the published arithmetic makes of that score
 * (scripts/eval/clutter-protocol.ts boxFrom, through shared/crop/crop-step.ts featureMapCropBox).
 */
import { describe, expect, it } from 'vitest';
import { DISTINCT_LAYERS, DISTINCT_METHODS, distinctiveness, medianCell } from '../../scripts/eval/clutter-distinct.ts';
import { boxFrom, CROP_DEFAULTS, CROP_METHODS, distinctCacheRef, methodsFor } from '../../scripts/eval/clutter-protocol.ts';

/** An H x W x C map of `background` everywhere but `cells`, which hold `value` in every channel. */
function mapWith(height: number, width: number, channels: number, background: number[], cells: Record<number, number[]>): Float32Array {
  const map = new Float32Array(height * width * channels);
  for (let cell = 0; cell < height * width; cell++) map.set(cells[cell] ?? background, cell * channels);
  return map;
}

describe('medianCell', () => {
  it('takes each channel’s median over the cells (the mean of the two middle values for an even count)', () => {
    // 1 x 3, 2 channels: channel 0 = 5, 1, 3 -> 3; channel 1 = 0, 10, 2 -> 2.
    expect(Array.from(medianCell(Float32Array.from([5, 0, 1, 10, 3, 2]), { height: 1, width: 3, channels: 2 }))).toEqual([3, 2]);
    // 2 x 2, 1 channel: 4, 1, 3, 2 -> (2 + 3) / 2.
    expect(Array.from(medianCell(Float32Array.from([4, 1, 3, 2]), { height: 2, width: 2, channels: 1 }))).toEqual([2.5]);
  });

  it('refuses a map whose length is not its shape’s', () => {
    expect(() => medianCell(new Float32Array(5), { height: 2, width: 2, channels: 1 })).toThrow(RangeError);
  });
});

describe('distinctiveness', () => {
  it('scores each cell by its Euclidean distance from the median cell: the surface scores 0', () => {
    const map = mapWith(3, 3, 2, [1, 1], { 4: [4, 5] });
    const score = distinctiveness(map, { height: 3, width: 3, channels: 2 });
    expect(score[4]).toBeCloseTo(5); // sqrt(3^2 + 4^2)
    expect(Array.from(score).filter((_, i) => i !== 4)).toEqual(new Array(8).fill(0));
  });

  it('is not the activation: a cell weaker than the surface but different from it scores high', () => {
    const score = distinctiveness(mapWith(3, 3, 2, [3, 3], { 0: [0, 3] }), { height: 3, width: 3, channels: 2 });
    expect(score[0]).toBeCloseTo(3);
    expect(score[1]).toBe(0);
  });
});

describe('boxFrom on a distinctiveness score', () => {
  it('boxes the largest distinct group, not a smaller distractor that differs more', () => {
    // 7 x 7: the object is the 2 x 2 block at rows 1-2, columns 1-2; a lone distractor cell at (5, 5) differs more.
    const object = [8, 9, 15, 16];
    const map = mapWith(7, 7, 3, [1, 2, 1], { ...Object.fromEntries(object.map((c) => [c, [4, 6, 1]])), 40: [1, 2, 7] });
    const score = distinctiveness(map, { height: 7, width: 7, channels: 3 });
    const box = boxFrom({ activation: Array.from(score), height: 7, width: 7, ms: 0 }, { ...CROP_DEFAULTS, pad: 0 }, { width: 448, height: 448 });
    expect(box.x).toBeCloseTo(1 / 7);
    expect(box.y).toBeCloseTo(1 / 7);
    expect(box.width).toBeCloseTo(2 / 7);
    expect(box.height).toBeCloseTo(2 / 7);
  });
});

describe('the distinct methods in the protocol', () => {
  it('are framings of --clutter-methods, each with its own layer and box cache, not in the default run', () => {
    for (const m of DISTINCT_METHODS) expect(CROP_METHODS).toContain(m);
    expect(methodsFor(undefined).some((m) => (DISTINCT_METHODS as string[]).includes(m))).toBe(false);
    expect(DISTINCT_LAYERS).toEqual({ distinct: 'out_relu', 'distinct-14': 'block_13_expand_relu', 'distinct-28': 'block_6_expand_relu' });
    expect(distinctCacheRef('distinct-28', 'mobilenet_v2@abc')).toBe('distinct-28@mobilenet_v2@abc');
  });
});
