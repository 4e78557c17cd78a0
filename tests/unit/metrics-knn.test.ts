/**
 * Metrics, the Wilson interval and the exact McNemar test against hand-computed values; fitting the
 * input transform; the kNN classifier and the negative-transfer guard on constructed cases.
 */
import { describe, expect, it } from 'vitest';
import type { Prediction } from '../../shared/api/types.ts';
import type { Example } from '../../shared/learn/examples.ts';
import { compareOnHeldOut, type Classifier } from '../../shared/learn/guard.ts';
import { transformInput } from '../../shared/predict/predictor.ts';
import { fitInputTransform } from '../../shared/head/input-transform.ts';
import { fitKnn } from '../../shared/learn/knn.ts';
import type { InputTransform } from '../../shared/model/manifest.ts';
import { computeMetrics, mcnemarExact, wilsonInterval } from '../../shared/learn/metrics.ts';
import { toyBackbone } from '../helpers/toy-backbone.ts';

/** A backbone whose embedding is two parts: `a` (3 floats) then `b` (2 floats). */
const backbone = toyBackbone([['a', 3], ['b', 2]]);

const RAW: InputTransform = { parts: ['a', 'b'], mean: null, normalize: 'none', scale: 1 };

function example(photoId: string, label: string, values: number[], augmented = false): Example {
  return { photoId, label, embedding: Float32Array.from(values), augmented };
}

describe('computeMetrics', () => {
  it('computes accuracy, per-class recall and the confusion matrix', () => {
    const m = computeMetrics(['a', 'b', 'c'], ['a', 'a', 'a', 'b', 'b', 'c'], ['a', 'a', 'b', 'b', 'c', 'c']);
    expect(m.n).toBe(6);
    expect(m.accuracy).toBeCloseTo(4 / 6, 12);
    expect(m.perClass).toEqual({ a: 2 / 3, b: 0.5, c: 1 });
    expect(m.confusion).toEqual([
      [2, 1, 0],
      [0, 1, 1],
      [0, 0, 1],
    ]);
  });

  it('leaves out classes with no items, copes with no items, and refuses unknown labels', () => {
    expect(computeMetrics(['a', 'b'], ['a'], ['b']).perClass).toEqual({ a: 0 });
    expect(computeMetrics(['a', 'b'], [], [])).toEqual({ accuracy: 0, perClass: {}, confusion: [[0, 0], [0, 0]], n: 0 });
    expect(() => computeMetrics(['a'], ['a'], ['z'])).toThrow(/"z"/);
    expect(() => computeMetrics(['a'], ['a'], [])).toThrow(RangeError);
  });
});

describe('wilsonInterval', () => {
  it('matches published values', () => {
    // 95% Wilson intervals: 8/10 -> [0.4902, 0.9433], 0/10 -> [0, 0.2775], 10/10 -> [0.7225, 1].
    const a = wilsonInterval(8, 10);
    expect(a.low).toBeCloseTo(0.4902, 4);
    expect(a.high).toBeCloseTo(0.9433, 4);
    expect(wilsonInterval(0, 10).low).toBe(0);
    expect(wilsonInterval(0, 10).high).toBeCloseTo(0.2775, 4);
    expect(wilsonInterval(10, 10).low).toBeCloseTo(0.7225, 4);
    expect(wilsonInterval(10, 10).high).toBe(1);
    expect(wilsonInterval(0, 0)).toEqual({ low: 0, high: 1 });
  });

  it('narrows as n grows and always contains the estimate', () => {
    let width = 1;
    for (const n of [10, 100, 1000]) {
      const { low, high } = wilsonInterval(0.7 * n, n);
      expect(low).toBeLessThan(0.7);
      expect(high).toBeGreaterThan(0.7);
      expect(high - low).toBeLessThan(width);
      width = high - low;
    }
    expect(() => wilsonInterval(11, 10)).toThrow(RangeError);
  });
});

describe('mcnemarExact', () => {
  const pairs = (onlyA: number, onlyB: number, both = 0, neither = 0): [boolean[], boolean[]] => [
    [...Array(onlyA).fill(true), ...Array(onlyB).fill(false), ...Array(both).fill(true), ...Array(neither).fill(false)],
    [...Array(onlyA).fill(false), ...Array(onlyB).fill(true), ...Array(both).fill(true), ...Array(neither).fill(false)],
  ];

  it('gives the two-sided binomial tail of the discordant pairs', () => {
    const six = mcnemarExact(...pairs(6, 0, 20, 3));
    expect([six.onlyA, six.onlyB]).toEqual([6, 0]);
    expect(six.p).toBeCloseTo(2 / 64, 12);
    expect(mcnemarExact(...pairs(0, 5)).p).toBeCloseTo(2 / 32, 12);
    // 10 vs 2: 2 * (C(12,0) + C(12,1) + C(12,2)) / 2^12 = 158 / 4096.
    expect(mcnemarExact(...pairs(10, 2)).p).toBeCloseTo(158 / 4096, 12);
    expect(mcnemarExact(...pairs(3, 3)).p).toBe(1);
    expect(mcnemarExact(...pairs(0, 0, 10, 10)).p).toBe(1);
  });

  it('stays finite for thousands of discordant pairs, and is symmetric', () => {
    const p = mcnemarExact(...pairs(1100, 900)).p;
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(1e-4);
    expect(mcnemarExact(...pairs(900, 1100)).p).toBe(p);
    expect(mcnemarExact(...pairs(1500, 1500)).p).toBe(1);
    expect(() => mcnemarExact([true], [])).toThrow(RangeError);
  });
});

describe('fitInputTransform', () => {
  // Photo p1 has three views, p2 one: a per-photo mean would give a different answer.
  const embeddings = [
    [1, 2, 3, 4, 5],
    [1, 2, 3, 4, 5],
    [1, 2, 3, 4, 5],
    [5, 6, 7, 8, 9],
  ].map((v) => Float32Array.from(v));

  it('defaults to every part, the mean over all examples, per-part L2 and x10', () => {
    const t = fitInputTransform(embeddings, backbone);
    expect(t).toEqual({ parts: ['a', 'b'], mean: [2, 3, 4, 5, 6], normalize: 'l2', scale: 10 });
    const x = transformInput(Float32Array.from([3, 3, 4, 8, 6]), backbone, t);
    // After the mean: [1, 0, 0] and [3, 0]; each part then has length 10.
    expect(Array.from(x)).toEqual([10, 0, 0, 10, 0]);
  });

  it('follows the requested parts order and options', () => {
    const t = fitInputTransform(embeddings, backbone, { parts: ['b'], subtractMean: false, scale: 2 });
    expect(t).toEqual({ parts: ['b'], mean: null, normalize: 'l2', scale: 2 });
    const u = fitInputTransform(embeddings, backbone, { parts: ['b', 'a'], normalize: 'none' });
    expect(u.mean).toEqual([5, 6, 2, 3, 4]);
    expect(() => fitInputTransform(embeddings, backbone, { parts: ['nope'] })).toThrow(/nope/);
    expect(() => fitInputTransform([], backbone)).toThrow(RangeError);
    expect(() => fitInputTransform([new Float32Array(4)], backbone)).toThrow(RangeError);
  });
});

describe('fitKnn', () => {
  const examples = [
    example('x1', 'x', [1, 0, 0, 0, 0]),
    example('x2', 'x', [0.9, 0.1, 0, 0, 0]),
    example('x3', 'x', [0.8, 0.3, 0, 0, 0]),
    example('y1', 'y', [0, 1, 0, 0, 0]),
    example('y2', 'y', [0, 0.9, 0.2, 0, 0]),
    example('z1', 'z', [0, 0, 0, 1, 0]),
  ];

  it('votes among the k most cosine-similar examples; scores are vote shares', () => {
    const knn = fitKnn(examples, backbone, { transform: RAW });
    expect(knn.k).toBe(3);
    expect(knn.classes).toEqual(['x', 'y', 'z']);
    // Cosine ignores length: a long vector along x is all x.
    expect(knn.predict(Float32Array.from([50, 1, 0, 0, 0]))).toEqual([
      { label: 'x', score: 1 },
      { label: 'y', score: 0 },
      { label: 'z', score: 0 },
    ]);
    const between = knn.predict(Float32Array.from([0.3, 1, 0, 0, 0]));
    expect(between.map((p) => p.label)).toEqual(['y', 'x', 'z']);
    expect(between.map((p) => p.score)).toEqual([2 / 3, 1 / 3, 0]);
    expect(knn.predict(Float32Array.from([0, 0, 0, 1, 0]), 1)).toEqual([{ label: 'x', score: 2 / 3 }]);
  });

  it('breaks vote ties by summed similarity, and caps k at the number of examples', () => {
    const two = [example('p', 'p', [1, 0, 0, 0, 0]), example('q', 'q', [0, 1, 0, 0, 0])];
    const knn = fitKnn(two, backbone, { transform: RAW, k: 5 });
    expect(knn.predict(Float32Array.from([0.4, 0.6, 0, 0, 0]))).toEqual([
      { label: 'q', score: 0.5 },
      { label: 'p', score: 0.5 },
    ]);
    expect(knn.predict(Float32Array.from([0.6, 0.4, 0, 0, 0])).map((p) => p.label)).toEqual(['p', 'q']);
  });

  it('fits the default transform on its examples, and checks its input', () => {
    const knn = fitKnn(examples, backbone);
    expect(knn.transform.normalize).toBe('l2');
    expect(knn.transform.mean).toHaveLength(5);
    expect(knn.predict(examples[0]!.embedding)[0]!.label).toBe('x');
    expect(() => fitKnn(examples, backbone, { k: 0 })).toThrow(RangeError);
    expect(() => fitKnn([], backbone)).toThrow(RangeError);
    expect(() => fitKnn(examples, backbone, { classes: ['x', 'y'] })).toThrow(/"z"/);
    expect(() => knn.predict(new Float32Array(3))).toThrow(RangeError);
  });
});

describe('compareOnHeldOut (the guard)', () => {
  /** n held-out items of two classes; the embedding's first value is the item's index. */
  const items = (n: number): Example[] =>
    Array.from({ length: n }, (_, i) => example(`h${i}`, i % 2 ? 'b' : 'a', [i, 0, 0, 0, 0]));
  const wrong = (label: string): string => (label === 'a' ? 'b' : 'a');
  /** A classifier that gets exactly the items with index in `right` right. */
  const scripted = (heldOut: Example[], right: (i: number) => boolean, classes = ['a', 'b']): Classifier => ({
    predict(embedding: Float32Array): Prediction[] {
      const i = embedding[0] as number;
      const truth = (heldOut[i] as Example).label;
      const top = right(i) ? truth : classes.includes(wrong(truth)) ? wrong(truth) : (classes[0] as string);
      return [{ label: top, score: 0.9 }, ...classes.filter((c) => c !== top).map((label) => ({ label, score: 0.1 / (classes.length - 1) }))];
    },
  });

  it('does not switch between identical classifiers', async () => {
    const heldOut = items(40);
    const same = scripted(heldOut, (i) => i % 4 !== 0);
    const r = await compareOnHeldOut({ heldOut, head: same, knn: same });
    expect(r.choice).toBe('head');
    expect(r.comparisons).toEqual([{ a: 'head', b: 'knn', onlyA: 0, onlyB: 0, p: 1 }]);
    expect(r.candidates.map((c) => c.accuracy)).toEqual([0.75, 0.75]);
    expect(r.reasons.at(-1)).toBe('Keeping head.');
  });

  it('switches to kNN when it is clearly better on enough items', async () => {
    const heldOut = items(30);
    const head = scripted(heldOut, (i) => i < 15);
    const knn = scripted(heldOut, (i) => i < 28);
    const r = await compareOnHeldOut({ heldOut, head, knn });
    const c = r.comparisons[0]!;
    expect([c.onlyA, c.onlyB]).toEqual([0, 13]);
    expect(c.p).toBeLessThan(0.001);
    expect(r.choice).toBe('knn');
    const knnResult = r.candidates.find((x) => x.name === 'knn')!;
    expect(knnResult.correct).toBe(28);
    expect(knnResult.interval.low).toBeLessThan(28 / 30);
    expect(knnResult.interval.high).toBeGreaterThan(28 / 30);
    expect(r.reasons.join('\n')).toMatch(/Switching from head to knn/);
  });

  it('does not switch on a difference too small to be significant', async () => {
    const heldOut = items(12);
    // kNN gets 5 more right: p = 2/32 = 0.0625.
    const r = await compareOnHeldOut({ heldOut, head: scripted(heldOut, (i) => i < 6), knn: scripted(heldOut, (i) => i < 11) });
    expect(r.comparisons[0]!.p).toBeCloseTo(0.0625, 12);
    expect(r.choice).toBe('head');
  });

  it('keeps the previous head unless the new one is significantly better', async () => {
    const heldOut = items(40);
    const previous = scripted(heldOut, (i) => i < 30);
    const slightlyBetter = scripted(heldOut, (i) => i < 33);
    const muchBetter = scripted(heldOut, (i) => i < 39);
    const knn = scripted(heldOut, (i) => i < 20);
    const kept = await compareOnHeldOut({ heldOut, head: slightlyBetter, knn, previousHead: previous });
    expect(kept.choice).toBe('previous');
    expect(kept.comparisons.map((c) => `${c.a}-${c.b}`)).toEqual(['head-previous', 'head-knn', 'previous-knn']);
    const replaced = await compareOnHeldOut({ heldOut, head: muchBetter, knn, previousHead: previous });
    expect(replaced.choice).toBe('head');
  });

  it('never keeps a previous head that lacks a class the held-out photos have', async () => {
    const heldOut = items(20);
    // Right on every 'a' item, but has no class 'b' at all.
    const previous = scripted(heldOut, (i) => i % 2 === 0, ['a']);
    const r = await compareOnHeldOut({ heldOut, head: scripted(heldOut, () => false), knn: scripted(heldOut, () => false), previousHead: previous });
    expect(r.candidates.find((c) => c.name === 'previous')!.unknownLabels).toEqual(['b']);
    expect(r.choice).toBe('head');
  });

  it('evaluates original views only', async () => {
    const heldOut = [...items(10), example('h0', 'a', [0, 0, 0, 0, 0], true)];
    const r = await compareOnHeldOut({ heldOut, head: scripted(heldOut, () => true), knn: scripted(heldOut, () => true) });
    expect(r.candidates.every((c) => c.n === 10)).toBe(true);
  });
});
