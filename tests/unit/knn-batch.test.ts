/**
 * The kNN classifier's batched path (`predictMany`: one float32 matrix product, near-ties settled
 * exactly) and the row-batched input transform give the same answers as the plain JS scan they
 * replaced: the previous implementation is kept here as the reference and compared on seeded
 * random data with exact duplicates and near-duplicates (ties a float32 product cannot order), on
 * the WASM backend (the browser's) and the cpu backend (its fallback).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { startNodeWasmBackend } from '../../scripts/node-backend.ts';
import type { Prediction } from '../../shared/api/types.ts';
import type { Example } from '../../shared/learn/examples.ts';
import { fitInputTransform } from '../../shared/head/input-transform.ts';
import { fitKnn } from '../../shared/learn/knn.ts';
import { embeddingPart, type InputTransform } from '../../shared/model/manifest.ts';
import { rankPredictions, transformInput, transformInputRows } from '../../shared/predict/predictor.ts';
import { mulberry32, type Random } from '../../shared/util/random.ts';
import { toyBackbone } from '../helpers/toy-backbone.ts';

/** Two parts of different sizes, as the real backbone's (whose parts are 1,280 and more floats). */
const backbone = toyBackbone([['a', 640], ['b', 260]]);
const CLASSES = ['c0', 'c1', 'c2', 'c3', 'c4'];

/** The input transform before it was batched (transformInput up to issue 15 pt 3), verbatim. */
function referenceTransform(embedding: Float32Array, transform: InputTransform): Float32Array {
  const parts = transform.parts.map((name) => embeddingPart(backbone, name));
  const out = new Float32Array(parts.reduce((a, p) => a + p.size, 0));
  let o = 0;
  for (const part of parts) {
    const start = o;
    for (let i = 0; i < part.size; i++, o++) {
      out[o] = (embedding[part.offset + i] as number) - (transform.mean ? (transform.mean[o] as number) : 0);
    }
    let factor = transform.scale;
    if (transform.normalize === 'l2') {
      let sum = 0;
      for (let i = start; i < o; i++) sum += (out[i] as number) ** 2;
      factor = sum > 0 ? transform.scale / Math.sqrt(sum) : 0;
    }
    if (factor !== 1) for (let i = start; i < o; i++) out[i] = (out[i] as number) * factor;
  }
  return out;
}

/** The kNN scan before `predictMany` (fitKnn's predict up to issue 15 pt 3), verbatim but for names. */
function referenceKnn(examples: readonly Example[], transform: InputTransform, k: number): (embedding: Float32Array) => Prediction[] {
  const unit = (v: Float32Array): Float32Array => {
    let sum = 0;
    for (let i = 0; i < v.length; i++) sum += (v[i] as number) ** 2;
    const f = sum > 0 ? 1 / Math.sqrt(sum) : 0;
    return v.map((x) => x * f);
  };
  const vectors = examples.map((e) => unit(referenceTransform(e.embedding, transform)));
  const labels = examples.map((e) => CLASSES.indexOf(e.label));
  const kk = Math.min(k, examples.length);
  return (embedding) => {
    const q = unit(referenceTransform(embedding, transform));
    const best: { sim: number; label: number }[] = [];
    vectors.forEach((v, j) => {
      let sim = 0;
      for (let i = 0; i < v.length; i++) sim += (v[i] as number) * (q[i] as number);
      if (best.length === kk && sim <= (best[kk - 1] as { sim: number }).sim) return;
      let at = best.length;
      while (at > 0 && sim > (best[at - 1] as { sim: number }).sim) at--;
      best.splice(at, 0, { sim, label: labels[j] as number });
      if (best.length > kk) best.pop();
    });
    const votes = new Float64Array(CLASSES.length);
    const simSum = new Float64Array(CLASSES.length);
    for (const { sim, label } of best) {
      votes[label] = (votes[label] as number) + 1;
      simSum[label] = (simSum[label] as number) + sim;
    }
    const order = CLASSES.map((_, i) => i).sort((a, b) => (simSum[b] as number) - (simSum[a] as number));
    return rankPredictions(
      order.map((i) => CLASSES[i] as string),
      order.map((i) => (votes[i] as number) / kk),
    );
  };
}

/** A relu-like embedding: a class centre plus noise, about a third of the floats zero. */
function embedding(random: Random, centre: Float32Array, noise: number): Float32Array {
  return Float32Array.from(centre, (c) => Math.max(0, c + noise * (2 * random() - 1)));
}

/**
 * Stored examples and queries: noisy members of 5 classes, plus exact duplicates of stored vectors
 * (exact ties) and copies with every float moved by a float32 step or two (similarities that differ
 * by less than a float32 product's rounding), each also asked as a query.
 */
function data(seed: number): { stored: Example[]; queries: Float32Array[] } {
  const random = mulberry32(seed);
  const centres = CLASSES.map(() => Float32Array.from({ length: backbone.embedding.size }, () => Math.max(0, 2 * random() - 0.7)));
  const stored: Example[] = [];
  for (let i = 0; i < 240; i++) {
    const c = i % CLASSES.length;
    stored.push({ photoId: `p${i}`, label: CLASSES[c] as string, embedding: embedding(random, centres[c] as Float32Array, 1.2), augmented: false });
  }
  const queries: Float32Array[] = [];
  for (let i = 0; i < 40; i++) {
    const from = stored[Math.floor(random() * stored.length)] as Example;
    const twin = Float32Array.from(from.embedding);
    // Every float moved by up to 2 float32 steps: the similarities differ by less than the
    // product's rounding, which orders them at random.
    if (i % 2) for (let at = 0; at < twin.length; at++) twin[at] = (twin[at] as number) * (1 + (Math.floor(random() * 5) - 2) * 2 ** -23);
    // The twin goes under another class half the time, so which of the two wins decides a vote.
    const label = i % 4 < 2 ? from.label : (CLASSES[(CLASSES.indexOf(from.label) + 1) % CLASSES.length] as string);
    stored.push({ photoId: `t${i}`, label, embedding: twin, augmented: true });
    queries.push(from.embedding, twin);
  }
  for (let i = 0; i < 40; i++) queries.push(embedding(random, centres[i % CLASSES.length] as Float32Array, 1.5));
  return { stored, queries };
}

/** Index of the first float that differs bitwise (or in length: the shorter length), -1 when identical. */
function firstDifference(a: Float32Array, b: Float32Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (!Object.is(a[i], b[i])) return i;
  return a.length === b.length ? -1 : Math.min(a.length, b.length);
}

describe('transformInputRows', () => {
  it('gives each row bit for bit what transformInput and the previous implementation give', () => {
    const { stored } = data(7);
    const embeddings = stored.map((e) => e.embedding);
    const transforms: InputTransform[] = [
      fitInputTransform(embeddings, backbone),
      fitInputTransform(embeddings, backbone, { parts: ['b', 'a'], normalize: 'none', scale: 3 }),
      fitInputTransform(embeddings, backbone, { parts: ['b'], subtractMean: false }),
    ];
    for (const transform of transforms) {
      const rows = transformInputRows([...embeddings, new Float32Array(backbone.embedding.size)], backbone, transform);
      const dim = rows.length / (embeddings.length + 1);
      [...embeddings, new Float32Array(backbone.embedding.size)].forEach((e, i) => {
        const reference = referenceTransform(e, transform);
        expect(firstDifference(rows.subarray(i * dim, (i + 1) * dim), reference)).toBe(-1);
        expect(firstDifference(transformInput(e, backbone, transform), reference)).toBe(-1);
      });
    }
    expect(() => transformInputRows([new Float32Array(3)], backbone, transforms[0] as InputTransform)).toThrow(RangeError);
  });
});

describe.each(['wasm', 'cpu'])('fitKnn on the %s backend', (backend) => {
  beforeAll(async () => {
    if (backend === 'wasm') await startNodeWasmBackend();
    else await tf.setBackend('cpu');
    expect(tf.getBackend()).toBe(backend);
  });

  it.each([1, 3, 5])('predict and predictMany give what the previous scan gave, with k = %i', async (k) => {
    for (const seed of [1, 2]) {
      const { stored, queries } = data(seed);
      const transform = fitInputTransform(
        stored.map((e) => e.embedding),
        backbone,
      );
      const reference = referenceKnn(stored, transform, k);
      const knn = fitKnn(stored, backbone, { k, classes: CLASSES });
      const expected = queries.map((q) => reference(q));
      expect(queries.map((q) => knn.predict(q))).toEqual(expected);
      const before = tf.memory().numTensors;
      expect(await knn.predictMany(queries)).toEqual(expected);
      expect(tf.memory().numTensors).toBe(before);
      // `top` cuts each ranking as predict's does; no queries, no answers.
      expect(await knn.predictMany(queries.slice(0, 3), 1)).toEqual(expected.slice(0, 3).map((p) => p.slice(0, 1)));
      expect(await knn.predictMany([])).toEqual([]);
    }
  });
});
