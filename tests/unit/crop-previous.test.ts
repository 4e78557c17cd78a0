/**
 * A stored crop head against a Train that would replace it with a model that does not crop
 * (shared/learn/crop-previous.ts, through shared/learn/crop-choice.ts `tryCrops` and
 * `judgePreviousCropAlone`), on tiny synthetic embeddings whose crops carry the class clearly:
 * - the crop step keeps the whole frame and the head's twin saw one held-out photo: judged on the
 *   others, and it stays (it used to be replaced unjudged);
 * - kNN wins on whole frames (each class two opposite clusters: no linear head separates them), so
 *   no crop step runs: judged alone against kNN's held-out answers; a good crop head stays, one
 *   with its class names rotated is replaced;
 * - crops missing for some held-out photos: judged on the others; for all of them: kept, unjudged;
 * - cross-validation (3 photos a class): kept, unjudged, unless it lacks a class now taught;
 * - its detector turned off: replaced, the words say why.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { startNodeWasmBackend } from '../../scripts/node-backend.ts';
import { DEFAULT_FEATURE_MAP_CROP } from '../../shared/head/crop.ts';
import { withHeadCrop } from '../../shared/head/document.ts';
import { judgePreviousCropAlone, tryCrops, type PreviousCropHead } from '../../shared/learn/crop-choice.ts';
import type { Example } from '../../shared/learn/examples.ts';
import { trainAndGuard, type TrainAndGuardOptions } from '../../shared/learn/train-app.ts';
import { mulberry32 } from '../../shared/util/random.ts';
import { toyBackbone } from '../helpers/toy-backbone.ts';

const DIM = 16;
const CLASSES = ['a', 'b', 'c', 'd'];
const backbone = toyBackbone([['x', DIM]]);
const options: TrainAndGuardOptions = { backbone, classes: CLASSES, seed: 3 };

/**
 * `count` photos a class (3 augmented views each for the whole frame) and crops carrying the class
 * clearly. Whole frames: a weak signal, or (`opposite`) the class's axis with a random sign, which
 * kNN tells apart and a linear head cannot.
 */
function photos(seed: number, count: number, opposite = false): { whole: Example[]; crops: Example[] } {
  const random = mulberry32(seed);
  const vector = (c: number, signal: number, noise: number): Float32Array => Float32Array.from({ length: DIM }, (_, i) => (i === c ? signal : 0) + noise * (random() - 0.5));
  const whole: Example[] = [];
  const crops: Example[] = [];
  CLASSES.forEach((label, c) => {
    for (let p = 0; p < count; p++) {
      const photoId = `${label}${p}`;
      const sign = p % 2 ? -1 : 1;
      for (let v = 0; v < 4; v++) whole.push({ photoId, label, embedding: opposite ? vector(c, 3 * sign, 0.5) : vector(c, 0.3, 2), augmented: v > 0 });
      crops.push({ photoId, label, embedding: vector(c, 3, 2), augmented: false });
    }
  });
  return { whole, crops };
}

/** A crop head trained on `crops` (judged twin without the held-out photos), with its crops; `seen`: more photos its twin trained on. */
async function cropHead(crops: readonly Example[], seen: readonly string[] = [], rotate = false): Promise<PreviousCropHead> {
  const t = await trainAndGuard(crops, { ...options, testTimeAugmentation: false });
  const named = <T extends { classes: string[] }>(doc: T): T => (rotate ? { ...doc, classes: [...doc.classes.slice(1), doc.classes[0] as string] } : doc);
  const judged = t.training.heldOutDoc as NonNullable<typeof t.training.heldOutDoc>;
  return {
    doc: named(withHeadCrop(t.training.doc, DEFAULT_FEATURE_MAP_CROP)),
    trainedOn: null,
    judged: { doc: named(withHeadCrop(judged, DEFAULT_FEATURE_MAP_CROP)), trainedOn: [...(t.training.split.folds[0]?.train ?? []), ...seen] },
    crops: new Map(crops.map((e) => [e.photoId, e.embedding])),
  };
}

beforeAll(async () => {
  await startNodeWasmBackend();
});

describe('a stored crop head against a model that does not crop', () => {
  it('the crop step keeps the whole frame, its twin saw a held-out photo: judged on the others, stays', async () => {
    const { whole, crops } = photos(2, 15);
    const judged = await trainAndGuard(whole, options);
    const heldOut = judged.training.split.folds[0]?.validation ?? [];
    const tried = await tryCrops({ whole: judged, wholeExamples: whole, candidates: [{ setting: DEFAULT_FEATURE_MAP_CROP, cropExamples: crops }], options, previous: await cropHead(crops, heldOut.slice(0, 1)) });
    expect(tried?.judgement.kept).toBe(false);
    const previous = tried?.judgement.previous;
    expect(previous).toMatchObject({ kept: true, n: heldOut.length - 1 });
    expect(previous?.correct).toBeGreaterThan(previous?.correctNew ?? Infinity);
    expect(previous?.words).toMatch(/^Your previous model \(it finds the object first\) stays: \d+% on its crops vs \d+% for the new one \(on the \d+ of \d+ practice photos it had not trained on\)\.$/);
  });

  it('kNN wins on whole frames: no crop step; judged alone against kNN on its crops', async () => {
    const before = tf.memory().numTensors;
    const { whole, crops } = photos(4, 15, true);
    const judged = await trainAndGuard(whole, options);
    expect(judged.outcome).toBe('knn');
    const candidates = [{ setting: DEFAULT_FEATURE_MAP_CROP, cropExamples: crops }];
    expect(await tryCrops({ whole: judged, wholeExamples: whole, candidates, options, previous: await cropHead(crops) })).toBeNull();

    const good = await judgePreviousCropAlone({ whole: judged, wholeExamples: whole, previous: await cropHead(crops), options });
    const knn = judged.guard.candidates.find((c) => c.name === 'knn');
    expect(good).toMatchObject({ notTried: true, kept: true, n: knn?.n, correctWhole: knn?.correct, setting: DEFAULT_FEATURE_MAP_CROP });
    expect(good.previous?.correct).toBe(good.correctCrop);
    expect(good.words).toMatch(/^Your previous model \(it finds the object first\) stays: \d+% on its crops vs \d+% for the new one\.$/);

    const bad = await judgePreviousCropAlone({ whole: judged, wholeExamples: whole, previous: await cropHead(crops, [], true), options });
    expect(bad).toMatchObject({ kept: false, correctCrop: 0, notTried: true });
    expect(bad.p).toBeLessThan(0.05);
    expect(bad.words).toMatch(/^The new model replaces your previous one \(it found the object first\): \d+% vs 0% on its crops\.$/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('crops missing for some held-out photos: judged on the others; for all: kept unjudged', async () => {
    const { whole, crops } = photos(4, 15, true);
    const judged = await trainAndGuard(whole, options);
    const heldOut = judged.training.split.folds[0]?.validation ?? [];
    const head = await cropHead(crops, [], true);
    const without = (ids: readonly string[]): PreviousCropHead => ({ ...head, crops: new Map([...(head.crops ?? [])].filter(([id]) => !ids.includes(id))) });
    const some = await judgePreviousCropAlone({ whole: judged, wholeExamples: whole, previous: without(heldOut.slice(0, 2)), options });
    expect(some.n).toBe(heldOut.length - 2);
    expect(some.words).toMatch(/\(on the \d+ of \d+ practice photos that have its crop\)\.$/);
    const none = await judgePreviousCropAlone({ whole: judged, wholeExamples: whole, previous: without(heldOut), options });
    expect(none).toMatchObject({ kept: true, n: 0, previous: { correct: null } });
    expect(none.words).toBe('Your previous model (it finds the object first) stays: the practice photos it did not train on have no crops yet, so the new one could not be compared with it fairly.');
  });

  it('cross-validation: kept unjudged, unless it lacks a class now taught', async () => {
    const { whole, crops } = photos(5, 3);
    const judged = await trainAndGuard(whole, options);
    expect(judged.training.split.method).toBe('cross-validation');
    const head = await trainAndGuard(crops, { ...options, testTimeAugmentation: false });
    const previous: PreviousCropHead = { doc: withHeadCrop(head.training.doc, DEFAULT_FEATURE_MAP_CROP), trainedOn: crops.map((e) => e.photoId) };
    const kept = await judgePreviousCropAlone({ whole: judged, wholeExamples: whole, previous, options });
    expect(kept).toMatchObject({ kept: true, n: 0, previous: { correct: null } });
    expect(kept.words).toMatch(/stays: there are too few photos to set some aside for practice, so the new one could not be compared with it fairly\.$/);
    const fewer: PreviousCropHead = { ...previous, doc: { ...previous.doc, classes: CLASSES.slice(0, 3) } };
    const replaced = await judgePreviousCropAlone({ whole: judged, wholeExamples: whole, previous: fewer, options });
    expect(replaced).toMatchObject({ kept: false });
    expect(replaced.words).toBe('The previous model (it finds the object first) has no class for d: not compared, replaced.');
  });

  it('its object detector turned off: replaced, and the words say why', async () => {
    const { whole, crops } = photos(5, 3);
    const judged = await trainAndGuard(whole, options);
    const head = await trainAndGuard(crops, { ...options, testTimeAugmentation: false });
    const previous: PreviousCropHead = { doc: withHeadCrop(head.training.doc, { method: 'detector', detector: 'centernet-mobilenetv3', minScore: 0.2, pad: 0.1 }), unavailable: 'needs the object detector, which is turned off' };
    const off = await judgePreviousCropAlone({ whole: judged, wholeExamples: whole, previous, options });
    expect(off).toMatchObject({ kept: false });
    expect(off.words).toBe('The previous model (it finds the object first) needs the object detector, which is turned off: not compared, replaced.');
  });
});
