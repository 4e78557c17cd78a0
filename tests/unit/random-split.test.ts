/**
 * Seeded randomness, the example helpers and the split by photo (holdout and cross-validation),
 * on synthetic examples: the split only looks at photo ids, labels and the augmented flag.
 */
import { describe, expect, it } from 'vitest';
import { classCounts, classList, photoLabels, type Example } from '../../shared/learn/examples.ts';
import { mulberry32, randomSeed, shuffle } from '../../shared/util/random.ts';
import { foldExamples, splitByPhoto, type Split } from '../../shared/learn/split.ts';

/** `photos[label]` photos per class, each with `views - 1` augmented views besides the original. */
function makeExamples(photos: Record<string, number>, views = 3): Example[] {
  const out: Example[] = [];
  for (const [label, count] of Object.entries(photos)) {
    for (let p = 0; p < count; p++) {
      for (let v = 0; v < views; v++) {
        out.push({ photoId: `${label}-${p}`, label, embedding: new Float32Array(1), augmented: v > 0 });
      }
    }
  }
  return out;
}

const labelOf = (photoId: string): string => photoId.split('-')[0] as string;

function countBy(ids: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of ids) out[labelOf(id)] = (out[labelOf(id)] ?? 0) + 1;
  return out;
}

describe('mulberry32', () => {
  it('is reproducible, seed-dependent and in [0, 1)', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const seqA = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(seqA);
    const c = mulberry32(43);
    expect(Array.from({ length: 1000 }, () => c())).not.toEqual(seqA);
    expect(Math.min(...seqA)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...seqA)).toBeLessThan(1);
    const mean = seqA.reduce((x, y) => x + y, 0) / seqA.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
  });

  it('matches the reference mulberry32 sequence (so stored seeds mean the same forever)', () => {
    // First outputs of the published mulberry32 (bryc) for seed 1, times 2^32.
    const r = mulberry32(1);
    expect([r(), r(), r()].map((x) => Math.round(x * 4294967296))).toEqual([2693262067, 11749833, 2265367787]);
  });

  it('randomSeed gives integers in [0, 2^31)', () => {
    const r = mulberry32(7);
    for (let i = 0; i < 100; i++) {
      const s = randomSeed(r);
      expect(Number.isInteger(s) && s >= 0 && s < 2 ** 31).toBe(true);
    }
  });
});

describe('shuffle', () => {
  it('returns a permutation, leaves the input alone, and is reproducible', () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    const copy = items.slice();
    const shuffled = shuffle(items, mulberry32(3));
    expect(items).toEqual(copy);
    expect(shuffled).not.toEqual(items);
    expect([...shuffled].sort((a, b) => a - b)).toEqual(items);
    expect(shuffle(items, mulberry32(3))).toEqual(shuffled);
  });

  it('puts each item in each position about equally often', () => {
    const random = mulberry32(11);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 8000; i++) counts[shuffle([0, 1, 2, 3], random).indexOf(0)]! += 1;
    // Expected 2000 each; the standard deviation is ~39.
    for (const c of counts) expect(Math.abs(c - 2000)).toBeLessThan(200);
  });
});

describe('example helpers', () => {
  const examples = makeExamples({ cat: 2, dog: 3 }, 2);

  it('lists classes sorted and counts photos or examples', () => {
    expect(classList([...examples].reverse())).toEqual(['cat', 'dog']);
    expect(Object.fromEntries(classCounts(examples))).toEqual({ cat: 2, dog: 3 });
    expect(Object.fromEntries(classCounts(examples, 'example'))).toEqual({ cat: 4, dog: 6 });
  });

  it('refuses a photo whose views carry different labels', () => {
    const bad = [...examples, { photoId: 'cat-0', label: 'dog', embedding: new Float32Array(1), augmented: true }];
    expect(() => photoLabels(bad)).toThrow(/cat-0/);
  });
});

describe('splitByPhoto: holdout', () => {
  const examples = makeExamples({ a: 10, b: 10, c: 6, d: 5 });

  it('holds out ~20% of each class, by photo, with augmented views on one side only', () => {
    const split = splitByPhoto(examples, { seed: 1 });
    expect(split.method).toBe('holdout');
    expect(split.folds).toHaveLength(1);
    const fold = split.folds[0]!;
    expect(countBy(fold.validation)).toEqual({ a: 2, b: 2, c: 1, d: 1 });
    expect(countBy(fold.train)).toEqual({ a: 8, b: 8, c: 5, d: 4 });
    expect(new Set([...fold.train, ...fold.validation]).size).toBe(31);

    const { train, validation } = foldExamples(examples, fold);
    const trainPhotos = new Set(train.map((e) => e.photoId));
    expect(validation.some((e) => trainPhotos.has(e.photoId))).toBe(false);
    expect(validation.every((e) => !e.augmented)).toBe(true);
    expect(validation).toHaveLength(6); // one original per held-out photo
    expect(train).toHaveLength(25 * 3); // every view of every training photo
  });

  it('is reproducible, seed-dependent and independent of example order', () => {
    const split = splitByPhoto(examples, { seed: 5 });
    expect(splitByPhoto(examples, { seed: 5 })).toEqual(split);
    expect(splitByPhoto([...examples].reverse(), { seed: 5 })).toEqual(split);
    expect(splitByPhoto(examples, { seed: 6 }).folds[0]!.validation).not.toEqual(split.folds[0]!.validation);
  });

  it('honours validationFraction, always keeping at least one photo on each side', () => {
    expect(countBy(splitByPhoto(examples, { validationFraction: 0.5 }).folds[0]!.validation)).toEqual({ a: 5, b: 5, c: 3, d: 3 });
    expect(countBy(splitByPhoto(examples, { validationFraction: 0.01 }).folds[0]!.validation)).toEqual({ a: 1, b: 1, c: 1, d: 1 });
    expect(countBy(splitByPhoto(examples, { validationFraction: 0.99 }).folds[0]!.train)).toEqual({ a: 1, b: 1, c: 1, d: 1 });
    expect(() => splitByPhoto(examples, { validationFraction: 0 })).toThrow(RangeError);
    expect(() => splitByPhoto(examples, { validationFraction: 1 })).toThrow(RangeError);
  });
});

describe('splitByPhoto: cross-validation for very few photos', () => {
  function checkFolds(split: Split, examples: Example[]): void {
    const all = [...photoLabels(examples).keys()].sort();
    // Every photo is validated exactly once, and trained on in every other fold.
    expect(split.folds.flatMap((f) => f.validation).sort()).toEqual(all);
    for (const fold of split.folds) {
      expect([...fold.train, ...fold.validation].sort()).toEqual(all);
      expect(fold.validation.length).toBeGreaterThan(0);
      const { train, validation } = foldExamples(examples, fold);
      const trainPhotos = new Set(train.map((e) => e.photoId));
      expect(validation.some((e) => trainPhotos.has(e.photoId) || e.augmented)).toBe(false);
    }
    const sizes = split.folds.map((f) => f.validation.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  }

  it('switches to k-fold when a class has fewer than 5 photos (k = largest class, at most 5)', () => {
    const examples = makeExamples({ a: 4, b: 3, c: 2, d: 1 });
    const split = splitByPhoto(examples, { seed: 2 });
    expect(split.method).toBe('cross-validation');
    expect(split.folds).toHaveLength(4);
    checkFolds(split, examples);
    // Stratified: a class's photos are spread over different folds.
    for (const fold of split.folds) for (const n of Object.values(countBy(fold.validation))) expect(n).toBe(1);
  });

  it('caps k at 5 and keeps classes spread evenly over the folds', () => {
    const examples = makeExamples({ a: 12, b: 9, c: 4 });
    const split = splitByPhoto(examples, { seed: 3 });
    expect(split.method).toBe('cross-validation');
    expect(split.folds).toHaveLength(5);
    checkFolds(split, examples);
    for (const label of ['a', 'b', 'c']) {
      const perFold = split.folds.map((f) => countBy(f.validation)[label] ?? 0);
      expect(Math.max(...perFold) - Math.min(...perFold)).toBeLessThanOrEqual(1);
    }
  });

  it('handles one photo per class (2 folds) and refuses a single photo', () => {
    const examples = makeExamples({ a: 1, b: 1 });
    const split = splitByPhoto(examples);
    expect(split.folds).toHaveLength(2);
    checkFolds(split, examples);
    expect(() => splitByPhoto(makeExamples({ a: 1 }))).toThrow(RangeError);
  });

  it('respects minPhotosForHoldout', () => {
    const examples = makeExamples({ a: 3, b: 3 });
    expect(splitByPhoto(examples).method).toBe('cross-validation');
    expect(splitByPhoto(examples, { minPhotosForHoldout: 3 }).method).toBe('holdout');
  });
});
