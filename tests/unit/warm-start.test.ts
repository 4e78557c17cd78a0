/**
 * The warm start of a correction's retraining (shared/learn/warm-start.ts, trainHead `initial`):
 * the stored head's weights rewritten for a new training's inputs give the stored head's logits
 * exactly (the app's standardised transform is affine); a retraining that starts from them
 * converges in fewer L-BFGS iterations than a fresh one and ends where the fresh one does (a convex
 * objective); a new class starts fresh; heads that cannot be a start are refused with a reason.
 * Synthetic embeddings: three classes apart on a few dimensions, noise elsewhere.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { startNodeWasmBackend } from '../../scripts/node-backend.ts';
import type { Example } from '../../shared/learn/examples.ts';
import { fitInputTransform } from '../../shared/head/input-transform.ts';
import { mulberry32 } from '../../shared/util/random.ts';
import { predictProbabilities } from '../../shared/learn/self-train.ts';
import { columnScales, scaleColumns } from '../../shared/learn/standardize.ts';
import { trainHead } from '../../shared/learn/train-head.ts';
import { warmStartWeights } from '../../shared/learn/warm-start.ts';
import { transformInputRows } from '../../shared/predict/predictor.ts';
import { toyBackbone } from '../helpers/toy-backbone.ts';

const DIM = 12;
const backbone = toyBackbone([['a', 8], ['b', 4]]);

/** `perClass` photos of each class; class k lifts dimension k by 2 (+ noise 0.7 everywhere). */
function examples(classes: readonly string[], perClass: number, seed: number, prefix = 'p'): Example[] {
  const random = mulberry32(seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const out: Example[] = [];
  classes.forEach((label, k) => {
    for (let i = 0; i < perClass; i++) {
      const embedding = Float32Array.from({ length: DIM }, (_, j) => 1 + (j === k ? 2 : 0) + 0.7 * normal());
      out.push({ photoId: `${prefix}-${label}-${i}`, label, embedding, augmented: false });
    }
  });
  return out;
}

/** Logits of weights `{kernel, bias}` (row-major [DIM, C]) on inputs transformed as a standardised trainer does. */
function trainerLogits(embeddings: Float32Array[], fitOn: Float32Array[], weights: { kernel: Float32Array; bias: Float32Array }): number[][] {
  const transform = fitInputTransform(fitOn, backbone, { normalize: 'none', scale: 1, subtractMean: true });
  const train = transformInputRows(fitOn, backbone, transform);
  const scale = columnScales(train, DIM);
  const rows = transformInputRows(embeddings, backbone, transform);
  scaleColumns(rows, scale);
  const classes = weights.bias.length;
  return embeddings.map((_, n) =>
    Array.from({ length: classes }, (_, j) => {
      let z = weights.bias[j] as number;
      for (let i = 0; i < DIM; i++) z += (rows[n * DIM + i] as number) * (weights.kernel[i * classes + j] as number);
      return z;
    }),
  );
}

const softmax = (z: number[]): number[] => {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

beforeAll(async () => {
  await startNodeWasmBackend();
});

describe('warmStartWeights', () => {
  it('rewrites a stored standardised head for another training\'s inputs exactly, and starts a new class fresh', async () => {
    const first = examples(['x', 'y', 'z'], 8, 1);
    const { doc } = await trainHead(first, { backbone, classes: ['x', 'y', 'z'], standardize: true, seed: 2 });
    // The next training: more photos (another mean and other column scales) and a fourth class.
    const next = [...first, ...examples(['x', 'y', 'z', 'w'], 3, 5, 'q')];
    const fitOn = next.map((e) => e.embedding);
    const transform = fitInputTransform(fitOn, backbone, { normalize: 'none', scale: 1, subtractMean: true });
    const rows = transformInputRows(fitOn, backbone, transform);
    const columnScale = columnScales(rows, DIM);
    const fresh = { kernel: Float32Array.from({ length: DIM * 4 }, (_, i) => i / 100), bias: new Float32Array(4).fill(0.5) };
    const start = warmStartWeights(doc, { backbone: 'toy@0', classes: ['w', 'x', 'y', 'z'], transform, columnScale, ...fresh });
    if ('refused' in start) throw new Error(start.refused);
    expect(start.classesKept).toBe(3);

    const probe = examples(['x', 'y', 'z'], 4, 9, 'probe').map((e) => e.embedding);
    const stored = await predictProbabilities(doc, backbone, probe);
    const logits = trainerLogits(probe, fitOn, start);
    probe.forEach((_, n) => {
      // Columns 1-3 are x, y, z: the stored head's probabilities over them, to float precision.
      const mine = softmax((logits[n] as number[]).slice(1));
      mine.forEach((p, j) => expect(p).toBeCloseTo((stored[n] as Float32Array)[j] as number, 4));
    });
    // The new class `w` (column 0) kept the fresh weights.
    for (let i = 0; i < DIM; i++) expect(start.kernel[i * 4]).toBe(fresh.kernel[i * 4]);
    expect(start.bias[0]).toBe(0.5);
  });

  it('refuses a head on another backbone, with a hidden layer, or without a class in common', async () => {
    const train = examples(['x', 'y'], 6, 3);
    const plain = (await trainHead(train, { backbone, classes: ['x', 'y'], standardize: true })).doc;
    const hidden = (await trainHead(train, { backbone, classes: ['x', 'y'], hidden: 4, epochs: 3 })).doc;
    const transform = fitInputTransform(train.map((e) => e.embedding), backbone, { normalize: 'none', scale: 1, subtractMean: true });
    const target = { backbone: 'toy@0', classes: ['x', 'y'], transform, columnScale: null, kernel: new Float32Array(DIM * 2), bias: new Float32Array(2) };
    expect(warmStartWeights(plain, { ...target, backbone: 'other@1' })).toEqual({ refused: expect.stringContaining('other@1') });
    expect(warmStartWeights(hidden, target)).toEqual({ refused: 'the head is not a plain softmax layer' });
    expect(warmStartWeights(plain, { ...target, classes: ['u', 'v'] })).toEqual({ refused: 'the head has none of these classes' });
    expect('refused' in warmStartWeights(plain, target)).toBe(false);
  });
});

describe('trainHead from a stored head', () => {
  it('converges in fewer iterations than a fresh start and predicts as the fresh head does', async () => {
    const classes = ['x', 'y', 'z'];
    const before = examples(classes, 10, 11);
    const { doc } = await trainHead(before, { backbone, classes, standardize: true, refitAll: true, seed: 0 });
    // One corrected photo more, as after `correct()`.
    const after = [...before, ...examples(['y'], 1, 12, 'corrected')];
    const cold = await trainHead(after, { backbone, classes, standardize: true, refitAll: true, seed: 0 });
    const warm = await trainHead(after, { backbone, classes, standardize: true, refitAll: true, seed: 0, initial: doc });
    expect(warm.warmStart).toEqual({ classesKept: 3 });
    expect(cold.warmStart).toBeUndefined();
    const iterations = (r: typeof cold): number => r.history.filter((h) => h.phase === 'holdout').length;
    expect(iterations(warm)).toBeLessThan(iterations(cold));
    // The same optimum: the same answers on unseen photos.
    const probe = examples(classes, 10, 13, 'probe').map((e) => e.embedding);
    const best = (rows: Float32Array[]): number[] => rows.map((p) => p.indexOf(Math.max(...p)));
    const [w, c] = await Promise.all([predictProbabilities(warm.doc, backbone, probe), predictProbabilities(cold.doc, backbone, probe)]);
    expect(best(w)).toEqual(best(c));
    // A head with a hidden layer trains with Adam: no warm start, and it says so.
    const adam = await trainHead(after, { backbone, classes, hidden: 4, epochs: 3, initial: doc });
    expect(adam.warmStart).toEqual({ refused: expect.stringContaining('Adam') });
  });
});
