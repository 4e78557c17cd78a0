/**
 * Shrinkage LDA (shared/learn/lda.ts) and the head it trains (shared/learn/train-lda.ts,
 * trainAndGuard's `classifier: 'lda'`): on Gaussian classes that share one stretched covariance
 * (a nuisance direction with a large spread) LDA is far above chance where the class means alone
 * are not enough; the dual and the primal solve agree with each other and with a direct solve;
 * the fit does not depend on the rows' order; the Ledoit-Wolf shrinkage is near 1 for isotropic
 * noise and small for a strongly stretched one; the saved head predicts what the fit scores.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { startNodeWasmBackend } from '../../scripts/node-backend.ts';
import type { Example } from '../../shared/learn/examples.ts';
import { fitShrinkageLda, ldaScores, ldaWork } from '../../shared/learn/lda.ts';
import { ldaFits, trainLdaHead } from '../../shared/learn/train-lda.ts';
import { trainAndGuard } from '../../shared/learn/train-app.ts';
import { argMax, loadPredictor } from '../../shared/predict/predictor.ts';
import { mulberry32, type Random } from '../../shared/util/random.ts';
import { toyBackbone } from '../helpers/toy-backbone.ts';

/** A standard normal draw (Box-Muller). */
const normal = (random: Random): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());

/**
 * `perClass` rows a class in `dim` dimensions: class c's mean is `gap` along axis c; the noise is
 * standard normal plus `stretch` times a normal draw along one fixed random direction (a nuisance
 * with a large spread, the same for every class, which blurs the class axes for a nearest mean).
 */
function gaussians(classes: number, perClass: number, dim: number, seed: number, gap = 3, stretch = 6): { rows: Float64Array; labels: number[] } {
  const fixed = mulberry32(99);
  const v = Array.from({ length: dim }, () => normal(fixed));
  const length = Math.hypot(...v);
  const random = mulberry32(seed);
  const rows = new Float64Array(classes * perClass * dim);
  const labels: number[] = [];
  for (let c = 0; c < classes; c++) {
    for (let p = 0; p < perClass; p++) {
      const i = labels.length;
      const shared = stretch * normal(random);
      for (let k = 0; k < dim; k++) rows[i * dim + k] = (k === c ? gap : 0) + normal(random) + (shared * (v[k] as number)) / length;
      labels.push(c);
    }
  }
  return { rows, labels };
}

/** Share of rows whose top class is their label. */
function accuracy(score: (x: Float64Array) => ArrayLike<number>, rows: Float64Array, labels: readonly number[], dim: number): number {
  let right = 0;
  labels.forEach((y, i) => {
    const s = Array.from(score(rows.subarray(i * dim, (i + 1) * dim)));
    if (s.indexOf(Math.max(...s)) === y) right++;
  });
  return right / labels.length;
}

/** The largest absolute difference of two arrays, relative to the largest absolute value of `a`. */
function relativeGap(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let gap = 0;
  let size = 0;
  for (let i = 0; i < a.length; i++) {
    gap = Math.max(gap, Math.abs((a[i] as number) - (b[i] as number)));
    size = Math.max(size, Math.abs(a[i] as number));
  }
  return gap / size;
}

/** Solves A x = b by Gaussian elimination with partial pivoting (A m x m, row-major, copied). */
function gaussSolve(matrix: Float64Array, m: number, rhs: Float64Array): Float64Array {
  const a = Float64Array.from(matrix);
  const x = Float64Array.from(rhs);
  for (let col = 0; col < m; col++) {
    let pivot = col;
    for (let r = col + 1; r < m; r++) if (Math.abs(a[r * m + col] as number) > Math.abs(a[pivot * m + col] as number)) pivot = r;
    for (let k = 0; k < m; k++) [a[col * m + k], a[pivot * m + k]] = [a[pivot * m + k] as number, a[col * m + k] as number];
    [x[col], x[pivot]] = [x[pivot] as number, x[col] as number];
    for (let r = col + 1; r < m; r++) {
      const f = (a[r * m + col] as number) / (a[col * m + col] as number);
      for (let k = col; k < m; k++) a[r * m + k] = (a[r * m + k] as number) - f * (a[col * m + k] as number);
      x[r] = (x[r] as number) - f * (x[col] as number);
    }
  }
  for (let r = m - 1; r >= 0; r--) {
    let s = x[r] as number;
    for (let k = r + 1; k < m; k++) s -= (a[r * m + k] as number) * (x[k] as number);
    x[r] = s / (a[r * m + r] as number);
  }
  return x;
}

describe('fitShrinkageLda', () => {
  const DIM = 12;
  const CLASSES = 4;

  it('separates Gaussian classes with a shared stretched covariance far above chance, and above the nearest class mean', async () => {
    const train = gaussians(CLASSES, 10, DIM, 1);
    const test = gaussians(CLASSES, 200, DIM, 2);
    const fit = await fitShrinkageLda(train.rows, DIM, train.labels, CLASSES);
    const lda = accuracy((x) => ldaScores(fit, x), test.rows, test.labels, DIM);
    // The nearest class mean (Euclidean), what LDA becomes with an identity covariance.
    const means = Array.from({ length: CLASSES }, (_, c) => Float64Array.from({ length: DIM }, (_, k) => train.labels.reduce((s, y, i) => s + (y === c ? (train.rows[i * DIM + k] as number) / 10 : 0), 0)));
    const ncm = accuracy((x) => means.map((m) => -m.reduce((s, v, k) => s + (v - (x[k] as number)) ** 2, 0)), test.rows, test.labels, DIM);
    expect(lda).toBeGreaterThan(0.8);
    expect(lda).toBeGreaterThan(ncm + 0.1);
  });

  it('gives the same fit through the dual and the primal system, and through a direct solve of Sigma w = mu', async () => {
    for (const perClass of [2, 10]) {
      // 8 rows < 12 dimensions, and 40 > 12.
      const { rows, labels } = gaussians(CLASSES, perClass, DIM, 3);
      const dual = await fitShrinkageLda(rows, DIM, labels, CLASSES, { solve: 'dual' });
      const primal = await fitShrinkageLda(rows, DIM, labels, CLASSES, { solve: 'primal' });
      expect(dual.shrinkage).toBeCloseTo(primal.shrinkage, 10);
      expect(relativeGap(dual.weights, primal.weights)).toBeLessThan(1e-8);
      expect(relativeGap(dual.bias, primal.bias)).toBeLessThan(1e-8);
      // Directly: Sigma = alpha nu I + (1 - alpha) R'R / n, w_c = Sigma^-1 mu_c.
      const n = labels.length;
      const mu = Array.from({ length: CLASSES }, (_, c) => Float64Array.from({ length: DIM }, (_, k) => labels.reduce((s, y, i) => s + (y === c ? (rows[i * DIM + k] as number) / perClass : 0), 0)));
      const sigma = new Float64Array(DIM * DIM);
      labels.forEach((y, i) => {
        for (let p = 0; p < DIM; p++) for (let q = 0; q < DIM; q++) sigma[p * DIM + q] = (sigma[p * DIM + q] as number) + (((rows[i * DIM + p] as number) - (mu[y] as Float64Array)[p]!) * ((rows[i * DIM + q] as number) - (mu[y] as Float64Array)[q]!)) / n;
      });
      let trace = 0;
      for (let p = 0; p < DIM; p++) trace += sigma[p * DIM + p] as number;
      const alpha = dual.shrinkage;
      for (let p = 0; p < DIM * DIM; p++) sigma[p] = (1 - alpha) * (sigma[p] as number);
      for (let p = 0; p < DIM; p++) sigma[p * DIM + p] = (sigma[p * DIM + p] as number) + (alpha * trace) / DIM;
      for (let c = 0; c < CLASSES; c++) {
        const w = gaussSolve(sigma, DIM, mu[c] as Float64Array);
        const column = Float64Array.from({ length: DIM }, (_, k) => dual.weights[k * CLASSES + c] as number);
        expect(relativeGap(w, column)).toBeLessThan(1e-8);
        expect(dual.bias[c]).toBeCloseTo(-0.5 * w.reduce((s, v, k) => s + v * (mu[c] as Float64Array)[k]!, 0), 8);
      }
    }
  });

  it('does not depend on the order of the rows', async () => {
    const { rows, labels } = gaussians(CLASSES, 6, DIM, 4);
    const order = Array.from(labels.keys()).reverse();
    order.push(order.shift() as number);
    const shuffled = new Float64Array(rows.length);
    order.forEach((from, to) => shuffled.set(rows.subarray(from * DIM, (from + 1) * DIM), to * DIM));
    const a = await fitShrinkageLda(rows, DIM, labels, CLASSES);
    const b = await fitShrinkageLda(shuffled, DIM, order.map((i) => labels[i] as number), CLASSES);
    expect(relativeGap(a.weights, b.weights)).toBeLessThan(1e-9);
    expect(relativeGap(a.bias, b.bias)).toBeLessThan(1e-9);
  });

  it('shrinks isotropic noise almost all the way to the identity and a strongly stretched one little', async () => {
    const isotropic = gaussians(CLASSES, 200, DIM, 5, 1.5, 0);
    const stretched = gaussians(CLASSES, 200, DIM, 5, 1.5, 30);
    expect((await fitShrinkageLda(isotropic.rows, DIM, isotropic.labels, CLASSES)).shrinkage).toBeGreaterThan(0.8);
    expect((await fitShrinkageLda(stretched.rows, DIM, stretched.labels, CLASSES)).shrinkage).toBeLessThan(0.2);
  });

  it('refuses rows that do not match their labels and classes without rows', async () => {
    await expect(fitShrinkageLda(new Float64Array(5), 2, [0, 1], 2)).rejects.toThrow(RangeError);
    await expect(fitShrinkageLda(new Float64Array(0), 2, [], 2)).rejects.toThrow(/no rows/);
  });

  it('never predicts a class without rows, and falls back to the identity without spread within classes', async () => {
    const absent = await fitShrinkageLda(Float64Array.from([1, 0, 1.2, 0.1, 0, 1, 0.1, 1.1]), 2, [0, 0, 2, 2], 3);
    expect(absent.bias[1]).toBe(-Infinity);
    expect(Array.from(ldaScores(absent, [0.9, 0.1])).indexOf(Math.max(...ldaScores(absent, [0.9, 0.1])))).toBe(0);
    // One row a class: nearest class mean.
    const single = await fitShrinkageLda(Float64Array.from([1, 0, 0, 1]), 2, [0, 1], 2);
    expect(single.shrinkage).toBe(1);
    const s = ldaScores(single, [0.2, 0.9]);
    expect(Number.isFinite(s[0]) && Number.isFinite(s[1]) && (s[1] as number) > (s[0] as number)).toBe(true);
  });

  it('states the sizes the Train button fits LDA for (LDA_MAX_WORK)', () => {
    expect(ldaWork(400, 2816)).toBeLessThan(ldaWork(2816, 400) + 1);
    // MobileNetV2: 100 photos with 3 views fit, 200 do not; InceptionV3 fits 250 photos, not 1,000.
    expect(ldaFits(400, 2816)).toBe(true);
    expect(ldaFits(800, 2816)).toBe(false);
    expect(ldaFits(1000, 768)).toBe(true);
    expect(ldaFits(4000, 768)).toBe(false);
  });
});

describe('trainLdaHead', () => {
  const DIM = 12;
  const CLASSES = ['a', 'b', 'c', 'd'];
  const backbone = toyBackbone([
    ['x', 8],
    ['y', DIM - 8],
  ]);
  /** 10 photos a class from `gaussians`, each with one augmented view (the photo plus a little noise). */
  function examples(seed: number): Example[] {
    const { rows, labels } = gaussians(CLASSES.length, 10, DIM, seed);
    const random = mulberry32(seed + 100);
    return labels.flatMap((y, i) => {
      const photo = Float32Array.from(rows.subarray(i * DIM, (i + 1) * DIM));
      const view = photo.map((v) => v + 0.1 * normal(random));
      return [false, true].map((augmented) => ({ photoId: `p${i}`, label: CLASSES[y] as string, embedding: augmented ? view : photo, augmented }));
    });
  }

  beforeAll(async () => {
    await startNodeWasmBackend();
  });

  it('saves a plain dense head that predicts what the LDA fitted on every photo scores, without leaking tensors', async () => {
    const train = examples(11);
    const before = tf.memory().numTensors;
    const result = await trainLdaHead(train, { backbone, classes: CLASSES, seed: 1, refitAll: true });
    expect(tf.memory().numTensors).toBe(before);
    expect(result.split.method).toBe('holdout');
    expect(result.heldOutDoc).toBeDefined();
    expect(result.doc.input).toMatchObject({ normalize: 'none', scale: 1 });
    expect(result.doc.weightSpecs.map((s) => s.shape)).toEqual([
      [DIM, 4],
      [4],
    ]);
    expect(result.history.map((h) => h.phase)).toEqual(['holdout', 'final']);
    // The saved head's top class on fresh photos is the top class of a fit on the same space.
    const test = gaussians(CLASSES.length, 50, DIM, 12);
    const head = await loadPredictor(result.doc, { manifest: backbone });
    try {
      const probabilities = await head.probabilities(test.labels.map((_, i) => ({ embedding: Float32Array.from(test.rows.subarray(i * DIM, (i + 1) * DIM)) })));
      const right = probabilities.filter((p, i) => argMax(p) === test.labels[i]).length / test.labels.length;
      expect(right).toBeGreaterThan(0.8);
      const mean = result.doc.input.mean as number[];
      const rows = Float64Array.from(train.flatMap((e) => Array.from(e.embedding, (v, k) => v - (mean[k] as number))));
      const sq = new Float64Array(DIM);
      for (let i = 0; i < train.length; i++) for (let k = 0; k < DIM; k++) sq[k] = (sq[k] as number) + (rows[i * DIM + k] as number) ** 2 / train.length;
      const std = Array.from(sq, Math.sqrt);
      const eps = (0.1 * std.reduce((s, v) => s + v, 0)) / DIM;
      for (let i = 0; i < rows.length; i++) rows[i] = (rows[i] as number) / ((std[i % DIM] as number) + eps);
      const fit = await fitShrinkageLda(rows, DIM, train.map((e) => CLASSES.indexOf(e.label)), CLASSES.length);
      const agree = test.labels.filter((_, i) => {
        const x = Float64Array.from({ length: DIM }, (_, k) => ((test.rows[i * DIM + k] as number) - (mean[k] as number)) / ((std[k] as number) + eps));
        return argMax(ldaScores(fit, x)) === argMax(probabilities[i] as Float32Array);
      }).length;
      expect(agree).toBeGreaterThanOrEqual(test.labels.length - 1);
    } finally {
      head.dispose();
    }
  });

  it('is what trainAndGuard trains by default, judged by the guard; a hidden layer, a warm start or classifier softmax keep the softmax solver', async () => {
    const train = examples(13);
    const lda = await trainAndGuard(train, { backbone, classes: CLASSES, seed: 2 });
    expect(lda.classifier).toBe('lda');
    expect(lda.guard.candidates.map((c) => c.name)).toEqual(['head', 'knn']);
    expect(lda.training.bestEpoch).toBe(1);
    const hidden = await trainAndGuard(train, { backbone, classes: CLASSES, seed: 2, hidden: 4, epochs: 3 });
    expect(hidden.classifier).toBe('softmax');
    const warm = await trainAndGuard(train, { backbone, classes: CLASSES, seed: 2, initial: lda.training.doc, epochs: 5 });
    expect(warm.classifier).toBe('softmax');
    expect(warm.training.warmStart).toEqual({ classesKept: 4 });
    const softmax = await trainAndGuard(train, { backbone, classes: CLASSES, seed: 2, classifier: 'softmax' });
    expect(softmax.classifier).toBe('softmax');
    // Both hold out the same photos.
    expect(lda.training.split).toEqual(softmax.training.split);
  });

  it('with cross-validation (under 5 photos in a class) pools the folds and fits the head on every photo', async () => {
    const few = examples(14).filter((e) => Number(e.photoId.slice(1)) % 10 < 3);
    const result = await trainLdaHead(few, { backbone, classes: CLASSES, seed: 0 });
    expect(result.split.method).toBe('cross-validation');
    expect(result.metrics.n).toBe(12);
    expect(result.heldOutDoc).toBeUndefined();
    expect(result.history.at(-1)?.phase).toBe('final');
  });

  it('trains on one photo a class without views (every cross-validation fold lacks a class)', async () => {
    const one = examples(16).filter((e) => !e.augmented && Number(e.photoId.slice(1)) % 10 === 0);
    expect(one).toHaveLength(4);
    const result = await trainLdaHead(one, { backbone, classes: CLASSES });
    expect(result.split.method).toBe('cross-validation');
    expect(result.metrics.n).toBe(4);
    expect(result.metrics.accuracy).toBe(0);
    const head = await loadPredictor(result.doc, { manifest: backbone });
    try {
      // Fitted on every photo: each photo is its own class's mean.
      const p = await head.probabilities(one.map((e) => ({ embedding: e.embedding })));
      expect(p.map((row) => CLASSES[argMax(row)])).toEqual(one.map((e) => e.label));
    } finally {
      head.dispose();
    }
  });

  it('does not claim certainty when every held-out photo is right (its temperature stays finite)', async () => {
    const train = examples(17);
    const result = await trainLdaHead(train, { backbone, classes: CLASSES, seed: 1 });
    expect(result.metrics.accuracy).toBe(1);
    const head = await loadPredictor(result.doc, { manifest: backbone });
    try {
      const p = await head.probabilities(train.filter((e) => !e.augmented).map((e) => ({ embedding: e.embedding })));
      // Below 1 in float32 for every photo, and not far from the smoothed target on average.
      expect(Math.max(...p.map((row) => Math.max(...row)))).toBeLessThan(1);
      const mean = p.reduce((s, row) => s + Math.max(...row), 0) / p.length;
      expect(mean).toBeLessThan(0.999);
    } finally {
      head.dispose();
    }
  });

  it('rejects with an AbortError when aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(trainLdaHead(examples(15), { backbone, signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });
});
