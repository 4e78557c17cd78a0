/**
 * The Train button's pure part (shared/learn/train-app.ts `trainAndGuard`) on tiny synthetic
 * embeddings: the guard's choice decides the outcome. Classes that are one cluster each are
 * separable by a softmax head, and the head is kept; classes that are two opposite clusters each
 * (+e_c and -e_c) are not (a linear score cannot be the largest at both x and -x), while cosine
 * kNN finds them perfectly, so the guard switches to kNN.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { startNodeWasmBackend } from '../../scripts/node-backend.ts';
import type { Example } from '../../shared/learn/examples.ts';
import { predictAsTrained, trainAndGuard } from '../../shared/learn/train-app.ts';
import { LDA_MIN_PHOTOS } from '../../shared/learn/train-lda.ts';
import { splitByPhoto } from '../../shared/learn/split.ts';
import { meanProbabilities } from '../../shared/head/tta.ts';
import { loadPredictor, rankPredictions } from '../../shared/predict/predictor.ts';
import { mulberry32 } from '../../shared/util/random.ts';
import { toyBackbone } from '../helpers/toy-backbone.ts';

const DIM = 8;
const CLASSES = ['a', 'b', 'c', 'd'];
const PHOTOS_PER_CLASS = 20;

/** A backbone whose embedding is one part of DIM floats. */
const backbone = toyBackbone([['x', DIM]]);

/**
 * Photos of class c at `sign * e_c` plus a little noise, each with one augmented view (as the app
 * stores views next to their photo). `antipodal`: every other photo of a class at -e_c.
 */
function dataset(antipodal: boolean): Example[] {
  const random = mulberry32(7);
  const examples: Example[] = [];
  CLASSES.forEach((label, c) => {
    for (let p = 0; p < PHOTOS_PER_CLASS; p++) {
      const sign = antipodal && p % 2 ? -1 : 1;
      for (const augmented of [false, true]) {
        const embedding = Float32Array.from({ length: DIM }, (_, i) => (i === c ? sign : 0) + 0.05 * (random() - 0.5));
        examples.push({ photoId: `${label}${p}`, label, embedding, augmented });
      }
    }
  });
  return examples;
}

beforeAll(async () => {
  await startNodeWasmBackend();
});

describe('trainAndGuard', () => {
  it('keeps the new head when kNN is not significantly better, and trains it again on every photo', async () => {
    const before = tf.memory().numTensors;
    const r = await trainAndGuard(dataset(false), { backbone, classes: CLASSES, seed: 1 });
    expect(r.training.split.method).toBe('holdout');
    expect(r.guard.choice).toBe('head');
    expect(r.outcome).toBe('new-head');
    expect(r.guard.candidates.map((c) => c.name)).toEqual(['head', 'knn']);
    // refitAll by default: the guard judged the twin trained without the held-out photos.
    expect(r.training.heldOutDoc).toBeDefined();
    expect(r.training.doc.classes).toEqual(CLASSES);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('fits LDA only when every class has LDA_MIN_PHOTOS photos; with fewer in one class the softmax solver trains', async () => {
    const full = dataset(false);
    expect((await trainAndGuard(full, { backbone, classes: CLASSES, seed: 1 })).classifier).toBe('lda');
    // Class "d" keeps LDA_MIN_PHOTOS - 1 photos (with their views): the gate turns LDA off.
    const keep = new Set(Array.from({ length: LDA_MIN_PHOTOS - 1 }, (_, p) => `d${p}`));
    const few = full.filter((e) => e.label !== 'd' || keep.has(e.photoId));
    expect((await trainAndGuard(few, { backbone, classes: CLASSES, seed: 1 })).classifier).toBe('softmax');
    // Exactly LDA_MIN_PHOTOS is enough.
    keep.add(`d${LDA_MIN_PHOTOS - 1}`);
    const enough = full.filter((e) => e.label !== 'd' || keep.has(e.photoId));
    expect((await trainAndGuard(enough, { backbone, classes: CLASSES, seed: 1 })).classifier).toBe('lda');
  });

  it('switches to kNN when the guard finds kNN significantly better', async () => {
    const r = await trainAndGuard(dataset(true), { backbone, classes: CLASSES, seed: 1 });
    const knn = r.guard.candidates.find((c) => c.name === 'knn');
    const head = r.guard.candidates.find((c) => c.name === 'head');
    expect(knn?.accuracy).toBe(1);
    expect(head?.accuracy).toBeLessThan(0.75);
    expect(r.guard.choice).toBe('knn');
    expect(r.outcome).toBe('knn');
  });

  it('records test-time augmentation when it does no worse on the held-out photos, in the head and its judged twin', async () => {
    const before = tf.memory().numTensors;
    const r = await trainAndGuard(dataset(false), { backbone, classes: CLASSES, seed: 1 });
    expect(r.testTimeAugmentation).toMatchObject({ kept: true, setting: { views: 1, seed: 1 }, n: 16, withViews: 16 });
    expect(r.testTimeAugmentation?.correct).toBeGreaterThanOrEqual(r.testTimeAugmentation?.correctWithout ?? Infinity);
    expect(r.testTimeAugmentation?.p).toBe(1);
    expect(r.training.doc.testTimeAugmentation).toEqual({ views: 1, seed: 1 });
    expect(r.training.heldOutDoc?.testTimeAugmentation).toEqual({ views: 1, seed: 1 });
    expect(r.guard.reasons.some((line) => /^Test-time augmentation .*: kept \(not significantly worse\)/.test(line))).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('does not record it when the held-out photos\' views make it significantly worse', async () => {
    const examples = dataset(false);
    // The views of the held-out photos (the split trainHead makes with this seed) point firmly at the next class.
    const held = new Set(splitByPhoto(examples, { seed: 1 }).folds[0]?.validation);
    const misleading = examples.map((e) => {
      if (!e.augmented || !held.has(e.photoId)) return e;
      const next = (CLASSES.indexOf(e.label) + 1) % CLASSES.length;
      return { ...e, embedding: Float32Array.from({ length: DIM }, (_, i) => (i === next ? 5 : 0)) };
    });
    // The softmax head: on these separable toy classes LDA's temperature saturates (every held-out
    // photo right), so photo and misleading view tie at probability 1 and the counts below hang on ties.
    const r = await trainAndGuard(misleading, { backbone, classes: CLASSES, seed: 1, classifier: 'softmax' });
    expect(r.testTimeAugmentation?.kept).toBe(false);
    expect(r.testTimeAugmentation?.correct).toBeLessThan(r.testTimeAugmentation?.correctWithout ?? -Infinity);
    expect(r.testTimeAugmentation?.p).toBeLessThan(0.05);
    expect(r.training.doc.testTimeAugmentation).toBeUndefined();
    expect(r.training.heldOutDoc?.testTimeAugmentation).toBeUndefined();
    expect(r.guard.reasons.some((line) => /not kept \(significantly worse\)/.test(line))).toBe(true);
  });

  it('keeps it when it is worse on the held-out photos by less than significance', async () => {
    const examples = dataset(false);
    // Two held-out photos' views point firmly at the next class: 2 discordant photos, p = 0.5.
    const held = [...(splitByPhoto(examples, { seed: 1 }).folds[0]?.validation ?? [])].sort().slice(0, 2);
    const misleading = examples.map((e) => {
      if (!e.augmented || !held.includes(e.photoId)) return e;
      const next = (CLASSES.indexOf(e.label) + 1) % CLASSES.length;
      return { ...e, embedding: Float32Array.from({ length: DIM }, (_, i) => (i === next ? 5 : 0)) };
    });
    // The softmax head: on these separable toy classes LDA's temperature saturates (every held-out
    // photo right), so photo and misleading view tie at probability 1 and the counts below hang on ties.
    const r = await trainAndGuard(misleading, { backbone, classes: CLASSES, seed: 1, classifier: 'softmax' });
    expect(r.testTimeAugmentation).toMatchObject({ kept: true, p: 0.5 });
    expect((r.testTimeAugmentation?.correctWithout ?? 0) - (r.testTimeAugmentation?.correct ?? 0)).toBe(2);
    expect(r.training.doc.testTimeAugmentation).toEqual({ views: 1, seed: 1 });
  });

  it('never records it with testTimeAugmentation: false', async () => {
    const r = await trainAndGuard(dataset(false), { backbone, classes: CLASSES, seed: 1, testTimeAugmentation: false });
    expect(r.testTimeAugmentation).toBeNull();
    expect(r.training.doc.testTimeAugmentation).toBeUndefined();
  });

  it('predictAsTrained: a TTA head\'s scores are the mean of its per-view probabilities, ranked, the same on every run', async () => {
    const examples = dataset(false);
    const r = await trainAndGuard(examples, { backbone, classes: CLASSES, seed: 1 });
    expect(r.training.doc.testTimeAugmentation?.views).toBe(1);
    const random = mulberry32(3);
    const photos = Array.from({ length: 6 }, () => Float32Array.from({ length: DIM }, () => random() - 0.5));
    const views = photos.map((p) => [Float32Array.from(p, (x, i) => x + (i % 2 ? 0.4 : -0.4)), Float32Array.from(p, (x) => -x)]);
    const before = tf.memory().numTensors;
    const scores = await predictAsTrained(r, examples, backbone, photos, views);
    const again = await predictAsTrained(r, examples, backbone, photos, views);
    const head = await loadPredictor(r.training.doc, { manifest: backbone });
    try {
      // views: 1 recorded, so the first view only is averaged with the photo.
      for (const [i, photo] of photos.entries()) {
        const rows = await head.probabilities([{ embedding: photo }, { embedding: views[i]?.[0] as Float32Array }]);
        expect(scores[i]).toEqual(rankPredictions(CLASSES, meanProbabilities(rows)));
        expect(scores[i]).not.toEqual(rankPredictions(CLASSES, rows[0] as Float32Array));
      }
    } finally {
      head.dispose();
    }
    expect(again).toEqual(scores);
    expect(tf.memory().numTensors).toBe(before);
    await expect(predictAsTrained(r, examples, backbone, photos)).rejects.toThrow(/records test-time augmentation/);
  });

  it('rejects with an AbortError when aborted, before deciding anything', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(trainAndGuard(dataset(false), { backbone, classes: CLASSES, signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });
});
