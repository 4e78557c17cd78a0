/**
 * Class activation maps of a dense head (shared/crop/class-box.ts): the head's weights read from
 * its document, the maps summing exactly to the logits under the input transform, the grid
 * mapping, and a box that finds the taught class where channel sums find a distractor.
 */
import { describe, expect, it } from 'vitest';
import { cellWindows, centredMaps, classActivationMaps, classBox, denseHead, logitsFromMaps, maxOverClasses, maxSummary, pooledPart, windowBox, windowEmbedding, type PartActivation, type PartMap } from '../../shared/crop/class-box.ts';
import { activationMap, activeRegion } from '../../shared/crop/feature-map-box.ts';
import type { HeadDocument } from '../../shared/head/document.ts';
import type { BackboneManifest, InputTransform } from '../../shared/model/manifest.ts';
import { transformInput } from '../../shared/predict/predictor.ts';
import { bytesToBase64 } from '../../shared/util/base64.ts';
import { mulberry32 } from '../../shared/util/random.ts';

/** A backbone of two parts: `peak` (max of a 4x4x2 map) then `mean` (average of a 2x2x3 map). */
const BACKBONE = {
  id: 'toy',
  version: '0',
  inputSize: [8, 8],
  embedding: {
    size: 5,
    parts: [
      { name: 'peak', layer: 'peak', pooling: 'global-max', size: 2, offset: 0 },
      { name: 'mean', layer: 'mean', pooling: 'global-average', size: 3, offset: 2 },
    ],
  },
  files: [],
} as unknown as BackboneManifest;

/** A plain head document with this kernel (`inputSize` x `classes`, row-major) and bias. */
function headDoc(kernel: number[], bias: number[], input: InputTransform): HeadDocument {
  const weights = Float32Array.from([...kernel, ...bias]);
  return {
    format: 'tannerin-head',
    formatVersion: 1,
    id: 'h',
    name: 'h',
    classes: bias.map((_, c) => `c${c}`),
    backbone: 'toy@0',
    input,
    metrics: null,
    created: '2026-12-05T00:00:00.000Z',
    modelTopology: {},
    weightSpecs: [
      { name: 'classes/kernel', shape: [kernel.length / bias.length, bias.length], dtype: 'float32' },
      { name: 'classes/bias', shape: [bias.length], dtype: 'float32' },
    ],
    weightData: bytesToBase64(new Uint8Array(weights.buffer)),
  };
}

/** Random non-negative maps for the two parts. */
function randomParts(seed: number): { peak: Float32Array; mean: Float32Array } {
  const random = mulberry32(seed);
  return { peak: Float32Array.from({ length: 4 * 4 * 2 }, () => random()), mean: Float32Array.from({ length: 2 * 2 * 3 }, () => random()) };
}

describe('classActivationMaps', () => {
  for (const input of [
    { parts: ['peak', 'mean'], mean: [0.5, 0.4, 0.3, 0.2, 0.1], normalize: 'none', scale: 1 },
    { parts: ['peak', 'mean'], mean: [0.5, 0.4, 0.3, 0.2, 0.1], normalize: 'l2', scale: 10 },
    { parts: ['mean', 'peak'], mean: null, normalize: 'l2', scale: 3 },
  ] as InputTransform[]) {
    it(`sums over the cells to the head's logit minus its bias (${input.parts.join(',')}, ${input.normalize}, mean ${input.mean ? 'removed' : 'none'})`, () => {
      const random = mulberry32(7);
      const kernel = Array.from({ length: 5 * 3 }, () => random() - 0.5);
      const bias = [0.1, -0.2, 0.3];
      const doc = headDoc(kernel, bias, input);
      const head = denseHead(doc);
      expect([head.inputSize, head.classes]).toEqual([5, 3]);
      const { peak, mean } = randomParts(3);
      const activations: Record<string, PartActivation> = {
        peak: maxSummary(peak, 4, 4, 2),
        mean: { pooling: 'global-average', height: 2, width: 2, channels: 3, map: mean },
      };
      const parts = input.parts.map((name) => activations[name] as PartActivation);
      const maps = classActivationMaps(head, input, BACKBONE, parts, 4);
      // The embedding as the backbone gives it (manifest order), through the shared transform.
      const embedding = Float32Array.from([...pooledPart(activations.peak as PartActivation), ...pooledPart(activations.mean as PartActivation)]);
      const x = transformInput(embedding, BACKBONE, input);
      const logits = logitsFromMaps(maps, head);
      for (let c = 0; c < 3; c++) {
        let expected = bias[c] as number;
        for (let d = 0; d < 5; d++) expected += (x[d] as number) * (kernel[d * 3 + c] as number);
        expect(logits[c]).toBeCloseTo(expected, 5);
      }
    });
  }

  it('sums a finer part into the grid cell it lies in and spreads a coarser one evenly', () => {
    const doc = headDoc([1, 0, 0, 0, 0], [0], { parts: ['peak', 'mean'], mean: null, normalize: 'none', scale: 1 });
    const peak = new Float32Array(4 * 4 * 2);
    peak[(3 * 4 + 3) * 2] = 2; // channel 0's max in cell (3, 3) of 4x4: grid cell (1, 1) of 2x2
    const parts: PartActivation[] = [maxSummary(peak, 4, 4, 2), { pooling: 'global-average', height: 2, width: 2, channels: 3, map: new Float32Array(12) }];
    expect(Array.from((classActivationMaps(denseHead(doc), doc.input, BACKBONE, parts, 2)[0] as Float32Array))).toEqual([0, 0, 0, 2]);
    const mean = new Float32Array(12);
    mean[0] = 4; // cell (0, 0) of the 2x2 average part, channel 0: 4 / 4 cells = 1, over 4 grid cells of 4x4
    const doc2 = headDoc([0, 0, 1, 0, 0], [0], doc.input);
    const map = classActivationMaps(denseHead(doc2), doc2.input, BACKBONE, [maxSummary(new Float32Array(32), 4, 4, 2), { pooling: 'global-average', height: 2, width: 2, channels: 3, map: mean }], 4)[0] as Float32Array;
    expect(Array.from(map.slice(0, 2))).toEqual([0.25, 0.25]);
    expect(Array.from(map.slice(4, 6))).toEqual([0.25, 0.25]);
    expect(map.reduce((a, v) => a + v, 0)).toBeCloseTo(1);
  });

  it('finds the taught class where the channel sums find a louder distractor', () => {
    // Average part only (3 channels on a 4x4 map): channel 0 is the taught class's, channel 2 a distractor's, louder.
    const backbone = { ...BACKBONE, embedding: { size: 3, parts: [{ name: 'mean', layer: 'mean', pooling: 'global-average', size: 3, offset: 0 }] } } as unknown as BackboneManifest;
    const map = new Float32Array(4 * 4 * 3);
    map[(0 * 4 + 0) * 3 + 0] = 1; // the object, cell (0, 0)
    map[(3 * 4 + 3) * 3 + 2] = 5; // the distractor, cell (3, 3)
    const doc = headDoc([1, -1, -1, 1, 0, 0], [0, 0], { parts: ['mean'], mean: null, normalize: 'none', scale: 1 });
    const maps = centredMaps(classActivationMaps(denseHead(doc), doc.input, backbone, [{ pooling: 'global-average', height: 4, width: 4, channels: 3, map }], 4));
    expect(activeRegion(activationMap(map, { height: 4, width: 4, channels: 3 }), 4, 4)).toEqual({ x: 0.75, y: 0.75, width: 0.25, height: 0.25 });
    expect(classBox(maps[0] as Float32Array, 4)).toEqual({ x: 0, y: 0, width: 0.25, height: 0.25 });
    expect(classBox(maxOverClasses(maps), 4)).toEqual({ x: 0, y: 0, width: 0.25, height: 0.25 });
    expect(classBox(maps[0] as Float32Array, 4, { pad: 0.5 })).toEqual({ x: 0, y: 0, width: 0.5, height: 0.5 });
  });
});

describe('denseHead', () => {
  it('refuses a head with a hidden layer or a backbone tail', () => {
    const doc = headDoc([1, 2], [0, 0], { parts: ['mean'], mean: null, normalize: 'none', scale: 1 });
    expect(() => denseHead({ ...doc, weightSpecs: [...doc.weightSpecs, ...doc.weightSpecs] })).toThrow(/hidden/);
    expect(() => denseHead({ ...doc, backboneTail: {} as HeadDocument['backboneTail'] } as HeadDocument)).toThrow(/fine-tuned/);
  });
});

describe('maxSummary', () => {
  it('keeps each channel max and the first cell holding it', () => {
    const s = maxSummary(Float32Array.from([1, 5, 3, 5, 3, 0]), 1, 3, 2);
    expect(s.pooling === 'global-max' && [Array.from(s.max), Array.from(s.cell)]).toEqual([[3, 5], [1, 0]]);
  });
});

describe('windows', () => {
  it('lists every window of each size, smaller first, and gives its box', () => {
    const windows = cellWindows(7, [2, 3]);
    expect(windows.length).toBe(36 + 25);
    expect(windows[0]).toEqual({ top: 0, left: 0, size: 2 });
    expect(windows[36]).toEqual({ top: 0, left: 0, size: 3 });
    expect(windowBox({ top: 1, left: 4, size: 3 }, 7)).toEqual({ x: 4 / 7, y: 1 / 7, width: 3 / 7, height: 3 / 7 });
  });
  it('pools each part over the cells under the window, as the embedding pools the whole map', () => {
    const parts: PartMap[] = [
      { pooling: 'global-average', height: 7, width: 7, channels: 1, map: Float32Array.from({ length: 49 }, (_, k) => k) },
      { pooling: 'global-max', height: 14, width: 14, channels: 1, map: Float32Array.from({ length: 196 }, (_, k) => k) },
    ];
    expect(Array.from(windowEmbedding(parts, { top: 0, left: 0, size: 7 }, 7))).toEqual([24, 195]);
    // Cells (5..6, 5..6) of 7x7: mean 44; of 14x14 rows and columns 10..13: max 13 * 14 + 13.
    expect(Array.from(windowEmbedding(parts, { top: 5, left: 5, size: 2 }, 7))).toEqual([44, 195]);
    expect(Array.from(windowEmbedding(parts, { top: 0, left: 0, size: 2 }, 7))).toEqual([4, 45]);
  });
});
