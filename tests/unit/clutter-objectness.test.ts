/**
 * The clutter protocol's learned objectness boxes (scripts/eval/clutter-objectness.ts): the cells'
 * soft labels, a cell's features across layers of different grids, the logistic model and its
 * probability map, and the box the published arithmetic makes of that map with the method's pad.
 */
import { describe, expect, it } from 'vitest';
import { cellFeatures, cellLabels, featureLength, OBJECTNESS_LAYERS, OBJECTNESS_METHODS, OBJECTNESS_PAD, OBJECTNESS_SUBCATEGORIES, probabilityMap, trainLogistic } from '../../scripts/eval/clutter-objectness.ts';
import { boxFrom, CROP_DEFAULTS, CROP_METHODS, methodsFor } from '../../scripts/eval/clutter-protocol.ts';
import { DISTRACTOR_SUBCATEGORIES } from '../../scripts/eval/clutter.ts';
import { EMOJI_CLASSES } from '../../scripts/eval/datasets.ts';
import { mulberry32 } from '../../shared/util/random.ts';

describe('cellLabels', () => {
  it('gives each cell the fraction of its area inside the box', () => {
    // 4 x 4 grid; box from 0.25 to 0.625 in x and 0 to 0.5 in y: columns 1 (whole) and 2 (half), rows 0-1.
    const labels = Array.from(cellLabels({ x: 0.25, y: 0, width: 0.375, height: 0.5 }, 4));
    expect(labels.map((v) => Number(v.toFixed(6)))).toEqual([0, 1, 0.5, 0, 0, 1, 0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe('cellFeatures', () => {
  it('concatenates each map’s channels at the cell covering the fine cell', () => {
    // Fine 4 x 4 x 1 (value = cell index); coarse 2 x 2 x 2 (value = 100 x cell + channel).
    const fine = Float32Array.from({ length: 16 }, (_, i) => i);
    const coarse = Float32Array.from({ length: 8 }, (_, i) => 100 * Math.floor(i / 2) + (i % 2));
    const shapes = [{ height: 4, width: 4, channels: 1 }, { height: 2, width: 2, channels: 2 }];
    const out = new Float32Array(featureLength(shapes));
    cellFeatures([fine, coarse], shapes, 3, 2, out);
    // Fine cell (3, 2) = 14; its coarse cell (1, 1) = 3: channels 300, 301.
    expect(Array.from(out)).toEqual([14, 300, 301]);
  });
});

describe('trainLogistic and probabilityMap', () => {
  it('learns a separable cell rule and maps it over a grid', () => {
    // Cells whose channel 0 is high are the object; channel 1 is noise.
    const random = mulberry32(3);
    const n = 2000;
    const x = new Float32Array(n * 2);
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = i % 2;
      x[2 * i] = (i % 2) * 2 + random() - 0.5;
      x[2 * i + 1] = random();
    }
    const model = trainLogistic(x, y, 2, { epochs: 5, batch: 64, learningRate: 0.05, l2: 1e-4, seed: 1 });
    expect(model.weights[0]).toBeGreaterThan(Math.abs(model.weights[1] as number) * 5);
    // A 2 x 2 map: only cell 3 is high on channel 0.
    const map = Float32Array.from([0, 0.5, 0, 0.5, 0, 0.5, 2, 0.5]);
    const p = probabilityMap(model, [map], [{ height: 2, width: 2, channels: 2 }]);
    expect(p[3]).toBeGreaterThan(0.9);
    expect(Math.max(p[0] as number, p[1] as number, p[2] as number)).toBeLessThan(0.1);
  });

  it('refuses features and models of the wrong length', () => {
    expect(() => trainLogistic(new Float32Array(5), new Float32Array(2), 2, { epochs: 1, batch: 1, learningRate: 0.1, l2: 0, seed: 1 })).toThrow(RangeError);
    const model = { mean: [0], std: [1], weights: [1], bias: 0 };
    expect(() => probabilityMap(model, [new Float32Array(8)], [{ height: 2, width: 2, channels: 2 }])).toThrow(RangeError);
  });
});

describe('objectness methods', () => {
  it('train on subcategories neither taught nor distractors, and run only when named', () => {
    for (const s of OBJECTNESS_SUBCATEGORIES) {
      expect(EMOJI_CLASSES).not.toContain(s);
      expect(DISTRACTOR_SUBCATEGORIES).not.toContain(s);
    }
    for (const m of OBJECTNESS_METHODS) {
      expect(CROP_METHODS).toContain(m);
      expect(methodsFor(undefined)).not.toContain(m);
      expect(OBJECTNESS_LAYERS[m][0]).toBe('block_6_expand_relu');
    }
  });

  it('box the largest group of likely cells with the small pad', () => {
    // 4 x 4 map: the 2 x 2 block at rows 1-2, columns 1-2 likely, one lone likely cell at (0, 3).
    const activation = [0, 0, 0, 0.8, 0, 0.9, 0.9, 0, 0, 0.9, 0.9, 0, 0, 0, 0, 0];
    const box = boxFrom({ activation, height: 4, width: 4, ms: 0 }, { ...CROP_DEFAULTS, pad: OBJECTNESS_PAD }, { width: 448, height: 448 });
    // The group spans 0.25..0.75; padded by 0.05 x 0.5 on each side.
    expect(box.x).toBeCloseTo(0.225, 6);
    expect(box.width).toBeCloseTo(0.55, 6);
    expect(box.y).toBeCloseTo(0.225, 6);
  });
});
