/**
 * The stored crop head a Train would replace (shared/learn/crop-choice.ts `tryCrops` with
 * `previous`), on tiny synthetic embeddings: judged on its own crops, paired with the model Train
 * would store on the same held-out photos, as the guard's incumbent. A crop head as good on its
 * crops as the new model stays (whatever whole frames would say of it); one with its class names
 * rotated is significantly worse and is replaced; one whose judged twin saw a held-out photo is
 * not compared when the crop step keeps a new crop head (replaced, as the guard does; against a
 * model that does not crop: tests/unit/crop-previous.test.ts). The tensor count stays flat.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { startNodeWasmBackend } from '../../scripts/node-backend.ts';
import { DEFAULT_FEATURE_MAP_CROP } from '../../shared/head/crop.ts';
import { withHeadCrop } from '../../shared/head/document.ts';
import { tryCrops } from '../../shared/learn/crop-choice.ts';
import type { Example } from '../../shared/learn/examples.ts';
import { trainAndGuard, type PreviousHead, type TrainAndGuardOptions } from '../../shared/learn/train-app.ts';
import { mulberry32 } from '../../shared/util/random.ts';
import { toyBackbone } from '../helpers/toy-backbone.ts';

const DIM = 16;
const CLASSES = ['a', 'b', 'c', 'd'];
const PHOTOS = 15;
const backbone = toyBackbone([['x', DIM]]);
const options: TrainAndGuardOptions = { backbone, classes: CLASSES, seed: 3 };

/** Whole frames whose class signal is weak under clutter (with 3 augmented views each) and crops that carry it clearly. */
function photos(seed: number): { whole: Example[]; crops: Example[] } {
  const random = mulberry32(seed);
  const vector = (c: number, signal: number): Float32Array => Float32Array.from({ length: DIM }, (_, i) => (i === c ? signal : 0) + 2 * (random() - 0.5));
  const whole: Example[] = [];
  const crops: Example[] = [];
  CLASSES.forEach((label, c) => {
    for (let p = 0; p < PHOTOS; p++) {
      const photoId = `${label}${p}`;
      for (let v = 0; v < 4; v++) whole.push({ photoId, label, embedding: vector(c, 0.3), augmented: v > 0 });
      crops.push({ photoId, label, embedding: vector(c, 3), augmented: false });
    }
  });
  return { whole, crops };
}

/** A crop head trained on `crops` (its judged twin without the held-out photos of the same seed's split). */
async function cropHead(crops: readonly Example[], trainedOnExtra: readonly string[] = []): Promise<PreviousHead> {
  const t = await trainAndGuard(crops, { ...options, testTimeAugmentation: false });
  const judged = t.training.heldOutDoc as NonNullable<typeof t.training.heldOutDoc>;
  return {
    doc: withHeadCrop(t.training.doc, DEFAULT_FEATURE_MAP_CROP),
    trainedOn: null,
    judged: { doc: withHeadCrop(judged, DEFAULT_FEATURE_MAP_CROP), trainedOn: [...(t.training.split.folds[0]?.train ?? []), ...trainedOnExtra] },
  };
}

beforeAll(async () => {
  await startNodeWasmBackend();
});

describe('tryCrops with a previous crop head', () => {
  it('a crop head as good on its crops stays; one with its class names rotated is replaced', async () => {
    const before = tf.memory().numTensors;
    const { whole, crops } = photos(1);
    const judged = await trainAndGuard(whole, options);
    const candidates = [{ setting: DEFAULT_FEATURE_MAP_CROP, cropExamples: crops }];
    const good = await tryCrops({ whole: judged, wholeExamples: whole, candidates, options, previous: await cropHead(crops) });
    const j = good?.judgement;
    expect(j?.kept).toBe(true);
    expect(j?.previous?.correctNew).toBe(j?.correctCrop);
    expect(j?.previous?.correct).toBeGreaterThanOrEqual((j?.n ?? 0) - 1);
    expect(j?.previous?.kept).toBe(true);
    expect(j?.words).toMatch(/Your previous model \(it finds the object first\) stays: \d+% on its crops vs \d+% for the new one\.$/);

    // The same head with its class names rotated: every crop it gets right is named wrong.
    const good2 = await cropHead(crops);
    const rotate = <T extends { classes: string[] }>(doc: T): T => ({ ...doc, classes: [...doc.classes.slice(1), doc.classes[0] as string] });
    const swapped: PreviousHead = { ...good2, doc: rotate(good2.doc), ...(good2.judged ? { judged: { ...good2.judged, doc: rotate(good2.judged.doc) } } : {}) };
    const bad = await tryCrops({ whole: judged, wholeExamples: whole, candidates, options, previous: swapped });
    expect(bad?.judgement.previous?.correct).toBe(0);
    expect(bad?.judgement.previous?.kept).toBe(false);
    expect(bad?.judgement.previous?.p).toBeLessThan(0.05);
    expect(bad?.judgement.previous?.words).toMatch(/^The new model replaces your previous one/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a previous crop head whose judged twin trained on a held-out photo is not compared when the crop step keeps a new crop head', async () => {
    const { whole, crops } = photos(1);
    const judged = await trainAndGuard(whole, options);
    const heldOut = judged.training.split.folds[0]?.validation ?? [];
    const tried = await tryCrops({ whole: judged, wholeExamples: whole, candidates: [{ setting: DEFAULT_FEATURE_MAP_CROP, cropExamples: crops }], options, previous: await cropHead(crops, heldOut.slice(0, 1)) });
    expect(tried?.judgement.kept).toBe(true);
    expect(tried?.judgement.previous).toMatchObject({ kept: false, correct: null, p: 1 });
    expect(tried?.judgement.previous?.words).toMatch(/trained on 1 of the \d+ practice photos: not compared, replaced\.$/);
  });
});
