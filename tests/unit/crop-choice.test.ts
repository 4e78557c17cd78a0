/**
 * Train trying the crop (shared/learn/crop-choice.ts `tryCrop`) on tiny synthetic embeddings, paired
 * on the same held-out photos. Whole frames whose class signal is weak under loud clutter and
 * crops that carry it clearly: the crop head gets significantly more held-out photos right and is kept, its
 * documents recording the crop (formatVersion 2), the words saying "helped: a% -> b%". Crops that
 * are clutter alone (the box missed the object) while the whole frames carry the class: the whole
 * frame is kept and the words say it did not help. Crops equal to the whole frames: a tie keeps the
 * whole frame. The tensor count stays flat.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { startNodeWasmBackend } from '../../scripts/node-backend.ts';
import { DEFAULT_FEATURE_MAP_CROP } from '../../shared/head/crop.ts';
import { cropWords, tryCrop } from '../../shared/learn/crop-choice.ts';
import type { Example } from '../../shared/learn/examples.ts';
import { trainAndGuard, type TrainAndGuardOptions } from '../../shared/learn/train-app.ts';
import { mulberry32 } from '../../shared/util/random.ts';
import { toyBackbone } from '../helpers/toy-backbone.ts';

const DIM = 16;
const CLASSES = ['a', 'b', 'c', 'd'];
const PHOTOS = 15;
const backbone = toyBackbone([['x', DIM]]);
const options: TrainAndGuardOptions = { backbone, classes: CLASSES, seed: 3 };

/** One embedding: `signal` x e_c plus uniform clutter of `clutter` on every dimension. */
function vector(random: () => number, c: number, signal: number, clutter: number): Float32Array {
  return Float32Array.from({ length: DIM }, (_, i) => (i === c ? signal : 0) + clutter * (random() - 0.5));
}

/** Photos (each with 3 augmented views for the whole frame, as the app stores them) and their crops. */
function photos(wholeSignal: number, cropSignal: number, seed: number): { whole: Example[]; crops: Example[] } {
  const random = mulberry32(seed);
  const whole: Example[] = [];
  const crops: Example[] = [];
  CLASSES.forEach((label, c) => {
    for (let p = 0; p < PHOTOS; p++) {
      const photoId = `${label}${p}`;
      for (let v = 0; v < 4; v++) whole.push({ photoId, label, embedding: vector(random, c, wholeSignal, 2), augmented: v > 0 });
      crops.push({ photoId, label, embedding: vector(random, c, cropSignal, 2), augmented: false });
    }
  });
  return { whole, crops };
}

beforeAll(async () => {
  await startNodeWasmBackend();
});

describe('tryCrop', () => {
  it('keeps the crop head when the crops carry the class and the whole frames hardly do; records the crop', async () => {
    const before = tf.memory().numTensors;
    const { whole, crops } = photos(0.3, 3, 1);
    const judged = await trainAndGuard(whole, options);
    const tried = await tryCrop({ whole: judged, wholeExamples: whole, cropExamples: crops, setting: DEFAULT_FEATURE_MAP_CROP, options });
    expect(tried).not.toBeNull();
    const j = tried?.judgement;
    expect(j?.n).toBe(judged.training.split.folds[0]?.validation.length);
    expect(j?.correctCrop).toBeGreaterThan(j?.correctWhole ?? Infinity);
    expect(j?.p).toBeLessThan(0.05);
    expect(j?.kept).toBe(true);
    expect(j?.words).toMatch(/^Finding the object first helped: \d+% -> \d+%/);
    expect(tried?.crop.training.doc).toMatchObject({ formatVersion: 2, crop: DEFAULT_FEATURE_MAP_CROP });
    expect(tried?.crop.training.heldOutDoc).toMatchObject({ formatVersion: 2, crop: DEFAULT_FEATURE_MAP_CROP });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('keeps the whole frame when the crops missed the object (clutter alone) and says so', async () => {
    const { whole, crops } = photos(3, 0, 2);
    const judged = await trainAndGuard(whole, options);
    const tried = await tryCrop({ whole: judged, wholeExamples: whole, cropExamples: crops, setting: DEFAULT_FEATURE_MAP_CROP, options });
    const j = tried?.judgement;
    expect(j?.kept).toBe(false);
    expect(j?.correctWhole).toBeGreaterThan(j?.correctCrop ?? Infinity);
    expect(j?.words).toMatch(/^Finding the object first did not help \(\d+% vs \d+%\), kept the whole photo\.$/);
    expect(tried?.crop.training.doc.crop).toBeUndefined();
  });

  it('a tie keeps the whole frame (crops equal to the whole frames)', async () => {
    const { whole } = photos(3, 3, 4);
    const crops = whole.filter((e) => !e.augmented);
    const judged = await trainAndGuard(whole, { ...options, testTimeAugmentation: false });
    const tried = await tryCrop({ whole: judged, wholeExamples: whole, cropExamples: crops, setting: DEFAULT_FEATURE_MAP_CROP, options: { ...options, testTimeAugmentation: false } });
    expect(tried?.judgement.correctCrop).toBe(tried?.judgement.correctWhole);
    expect(tried?.judgement.kept).toBe(false);
  });

  it('words', () => {
    expect(cropWords({ kept: true, setting: DEFAULT_FEATURE_MAP_CROP, n: 18, correctCrop: 13, correctWhole: 11, p: 0.01 })).toBe('Finding the object first helped: 61% -> 72%.');
    expect(cropWords({ kept: false, setting: DEFAULT_FEATURE_MAP_CROP, n: 18, correctCrop: 13, correctWhole: 11, p: 0.5 })).toBe(
      'Finding the object first did not clearly help (72% vs 61% on 18 practice photos: could be chance), kept the whole photo.',
    );
    expect(cropWords({ kept: false, setting: DEFAULT_FEATURE_MAP_CROP, n: 18, correctCrop: 10, correctWhole: 11, p: 1 })).toBe(
      'Finding the object first did not help (56% vs 61%), kept the whole photo.',
    );
  });
});
