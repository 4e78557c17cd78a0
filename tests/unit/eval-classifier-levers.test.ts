/**
 * The eval's classifier-side levers (scripts/eval/recipes-classifier.ts) on synthetic embeddings
 * where the answer is known: three classes apart along one dimension, and a shared nuisance (a
 * large random shift along dimensions 0 and 1 together) that the class means cannot see past but
 * the within-class covariance of each photo's views reveals. Shrinkage LDA must whiten it away;
 * the nearest class mean must not (so the test would catch an LDA that degenerated into it).
 * Also the emoji unlabeled photos `app-self` reads at k = 10 (scripts/eval/datasets.ts).
 */
import { describe, expect, it } from 'vitest';
import { emojiDataset } from '../../scripts/eval/datasets.ts';
import { runClassifierLever } from '../../scripts/eval/recipes-classifier.ts';
import type { EvalExample, RecipeContext } from '../../scripts/eval/recipes.ts';
import type { FrozenOutput } from '../../shared/model/backbone-split.ts';
import { mulberry32 } from '../../shared/util/random.ts';

const DIM = 10;
const CLASSES = ['a', 'b', 'c'];

/** A standard normal draw (Box-Muller). */
function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** One vector of class `c`: class signal on dimension 0 (-1, 0, +1) and, weaker, dimension 2; a nuisance of std 3 on dimensions 0 and 1 alike; noise 0.2. */
function vector(c: number, random: () => number): Float32Array {
  const v = Float32Array.from({ length: DIM }, () => 0.2 * gaussian(random));
  const nuisance = 3 * gaussian(random);
  v[0] = (v[0] as number) + nuisance + (c - 1);
  v[1] = (v[1] as number) + nuisance;
  v[2] = (v[2] as number) + 0.3 * (c - 1);
  return v;
}

function dataset(seed: number): { train: EvalExample[]; test: EvalExample[]; testViews: Float32Array[][] } {
  const random = mulberry32(seed);
  const example = (photoId: string, label: string, embedding: Float32Array, augmented: boolean): EvalExample => ({ photoId, label, embedding, augmented, frozen: {} as FrozenOutput });
  const train: EvalExample[] = [];
  CLASSES.forEach((label, c) => {
    for (let p = 0; p < 10; p++) for (let v = 0; v < 4; v++) train.push(example(`${label}${p}`, label, vector(c, random), v > 0));
  });
  const test: EvalExample[] = [];
  const testViews: Float32Array[][] = [];
  CLASSES.forEach((label, c) => {
    for (let p = 0; p < 20; p++) {
      test.push(example(`t${label}${p}`, label, vector(c, random), false));
      testViews.push([vector(c, random), vector(c, random), vector(c, random)]);
    }
  });
  return { train, test, testViews };
}

describe('classifier-side levers', () => {
  it('shrinkage LDA sees past a shared nuisance that the nearest class mean cannot', async () => {
    const { train, test, testViews } = dataset(7);
    // The levers alone read only the classes and the test views.
    const ctx = { classes: CLASSES, seed: 0, split: null, testViews } as unknown as RecipeContext;
    const accuracy = (predicted: string[]): number => predicted.filter((p, i) => p === test[i]?.label).length / test.length;
    const lda = await runClassifierLever('app-lda', train, test, ctx);
    const ncm = await runClassifierLever('app-ncm', train, test, ctx);
    // Measured: LDA 0.92, the class means 0.72 (seed 7).
    expect(accuracy(lda.predicted)).toBeGreaterThanOrEqual(0.85);
    expect(accuracy(ncm.predicted)).toBeLessThanOrEqual(0.8);
    expect(accuracy(lda.predicted) - accuracy(ncm.predicted)).toBeGreaterThanOrEqual(0.1);
    // Ledoit-Wolf's shrinkage is a share in [0, 1].
    const shrinkage = Number(/shrinkage ([\d.]+)/.exec(lda.detail)?.[1]);
    expect(shrinkage).toBeGreaterThanOrEqual(0);
    expect(shrinkage).toBeLessThanOrEqual(1);
  });

  it('refuses to run without the test photos\' views', async () => {
    const { train, test } = dataset(1);
    await expect(runClassifierLever('app-lda', train, test, { classes: CLASSES } as unknown as RecipeContext)).rejects.toThrow(/augmented views/);
  });
});

describe('the emoji unlabeled photos of app-self at k = 10', () => {
  it('are every emoji of the ten subcategories neither tested nor a shot', () => {
    const emoji = emojiDataset();
    const split = emoji.split(3, [5, 10]);
    const ids = (images: readonly { id: string }[] | undefined): string[] => (images ?? []).map((i) => i.id);
    const pool = ids(split.unlabeled.get(10));
    const taken = new Set([...ids(split.test), ...ids(split.shots.get(10))]);
    expect(pool.filter((id) => taken.has(id))).toEqual([]);
    // The asked protocol's pool of the same seed less its other 9 shots a class: the same emoji.
    const active = emoji.activePool(3);
    expect(new Set(pool)).toEqual(new Set(ids(active.pool).filter((id) => !taken.has(id))));
    expect(pool.length).toBeGreaterThan(100);
    // At k = 5 the pool's other 5 emoji a class, as before.
    expect(split.unlabeled.get(5)).toHaveLength(50);
  });
});
