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
import { trainAndGuard } from '../../shared/learn/train-app.ts';
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

  it('switches to kNN when the guard finds kNN significantly better', async () => {
    const r = await trainAndGuard(dataset(true), { backbone, classes: CLASSES, seed: 1 });
    const knn = r.guard.candidates.find((c) => c.name === 'knn');
    const head = r.guard.candidates.find((c) => c.name === 'head');
    expect(knn?.accuracy).toBe(1);
    expect(head?.accuracy).toBeLessThan(0.75);
    expect(r.guard.choice).toBe('knn');
    expect(r.outcome).toBe('knn');
  });

  it('rejects with an AbortError when aborted, before deciding anything', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(trainAndGuard(dataset(false), { backbone, classes: CLASSES, signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });
});
