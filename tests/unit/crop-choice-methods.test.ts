/**
 * Train trying several crop methods at once (shared/learn/crop-choice.ts `tryCrops`: the feature
 * map's and the object detector's), on tiny synthetic embeddings, paired on the same held-out
 * photos: the method whose crops carry the class is kept (at p < 0.05 / 2), the other reported, the
 * words naming which; when neither helps, the whole frame is kept and the words give each method's
 * accuracy. The tensor count stays flat.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { startNodeWasmBackend } from '../../scripts/node-backend.ts';
import { DEFAULT_DETECTOR_CROP } from '../../shared/crop/detector-box.ts';
import { DEFAULT_FEATURE_MAP_CROP } from '../../shared/head/crop.ts';
import { cropWords, tryCrops } from '../../shared/learn/crop-choice.ts';
import type { Example } from '../../shared/learn/examples.ts';
import { trainAndGuard, type TrainAndGuardOptions, type TrainAndGuardResult } from '../../shared/learn/train-app.ts';
import { mulberry32 } from '../../shared/util/random.ts';
import { toyBackbone } from '../helpers/toy-backbone.ts';

const DIM = 16;
const CLASSES = ['a', 'b', 'c', 'd'];
const PHOTOS = 15;
const backbone = toyBackbone([['x', DIM]]);
const options: TrainAndGuardOptions = { backbone, classes: CLASSES, seed: 3 };

/** `signal` x e_c plus uniform clutter on every dimension. */
function vector(random: () => number, c: number, signal: number): Float32Array {
  return Float32Array.from({ length: DIM }, (_, i) => (i === c ? signal : 0) + 2 * (random() - 0.5));
}

/** Photos (each with 3 augmented views), and one crop per photo for each of `cropSignals`. */
function photos(wholeSignal: number, cropSignals: number[], seed: number): { whole: Example[]; crops: Example[][] } {
  const random = mulberry32(seed);
  const whole: Example[] = [];
  const crops: Example[][] = cropSignals.map(() => []);
  CLASSES.forEach((label, c) => {
    for (let p = 0; p < PHOTOS; p++) {
      const photoId = `${label}${p}`;
      for (let v = 0; v < 4; v++) whole.push({ photoId, label, embedding: vector(random, c, wholeSignal), augmented: v > 0 });
      cropSignals.forEach((s, m) => crops[m]?.push({ photoId, label, embedding: vector(random, c, s), augmented: false }));
    }
  });
  return { whole, crops };
}

/** tryCrops with both methods: the feature map's crops `crops[0]`, the detector's `crops[1]`. */
function tryBoth(judged: TrainAndGuardResult, whole: readonly Example[], crops: readonly (readonly Example[])[]): ReturnType<typeof tryCrops> {
  return tryCrops({
    whole: judged,
    wholeExamples: whole,
    candidates: [
      { setting: DEFAULT_FEATURE_MAP_CROP, cropExamples: crops[0] ?? [] },
      { setting: DEFAULT_DETECTOR_CROP, cropExamples: crops[1] ?? [] },
    ],
    options,
  });
}

beforeAll(async () => {
  await startNodeWasmBackend();
});

describe('tryCrops', () => {
  it('keeps the detector crop when its crops carry the class and the feature map\'s do not; records it; reports both', async () => {
    const before = tf.memory().numTensors;
    const { whole, crops } = photos(0.3, [0, 3], 1);
    const judged = await trainAndGuard(whole, options);
    const tried = await tryBoth(judged, whole, crops);
    const j = tried?.judgement;
    expect(j?.kept).toBe(true);
    expect(j?.setting).toEqual(DEFAULT_DETECTOR_CROP);
    expect(j?.p).toBeLessThan(0.025);
    expect(j?.tried?.map((t) => [t.setting.method, t.passed])).toEqual([
      ['featuremap', false],
      ['detector', true],
    ]);
    expect(j?.words).toMatch(/^Finding the object first helped: \d+% -> \d+% with the object detector \(the image model's own map \d+%\)\.$/);
    expect(tried?.crop.training.doc).toMatchObject({ formatVersion: 2, crop: DEFAULT_DETECTOR_CROP });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('keeps the whole frame when neither helps, giving each method\'s accuracy', async () => {
    const { whole, crops } = photos(3, [0, 0], 2);
    const judged = await trainAndGuard(whole, options);
    const tried = await tryBoth(judged, whole, crops);
    expect(tried?.judgement.kept).toBe(false);
    expect(tried?.crop.training.doc.crop).toBeUndefined();
    expect(tried?.judgement.words).toMatch(/^Finding the object first did not help \(the image model's own map \d+%, the object detector \d+% vs \d+% for the whole photo\), kept the whole photo\.$/);
  });

  it('words: the Bonferroni rule\'s "could be chance"', () => {
    const tried = [
      { setting: DEFAULT_FEATURE_MAP_CROP, correct: 12, p: 0.5, passed: false },
      { setting: DEFAULT_DETECTOR_CROP, correct: 13, p: 0.04, passed: false },
    ];
    expect(cropWords({ kept: false, setting: DEFAULT_DETECTOR_CROP, n: 18, correctCrop: 13, correctWhole: 11, p: 0.04, tried })).toBe(
      "Finding the object first did not clearly help (the image model's own map 67%, the object detector 72% vs 61% for the whole photo on 18 practice photos: could be chance), kept the whole photo.",
    );
  });
});
