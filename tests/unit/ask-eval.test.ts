/**
 * The eval's fixed-budget protocol around chooseToAsk (scripts/eval/asked.ts): its pools
 * (scripts/eval/datasets.ts `activePool`) start from the seed's 1-shot photos and never share a
 * photo with the test set, and its table (scripts/eval/report.ts `askedTable`) pairs asked with
 * random by seed, goes into the README between its markers and keeps the keys out of the recipe
 * tables.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { emojiDataset, fashionDataset, FASHION_DIR, type Dataset } from '../../scripts/eval/datasets.ts';
import { allRecipesTable, askedLosses, askedTable, evalSection, README_ASKED_END, README_ASKED_START, replaceReadmeTable, type EvalEntry } from '../../scripts/eval/report.ts';

/** A figure over `seeds` with these accuracies. */
const entry = (perSeed: number[], seeds = [0, 1, 2, 3, 4]): EvalEntry => ({
  value: perSeed.reduce((a, b) => a + b, 0) / perSeed.length,
  ci: [0, 1],
  seeds,
  perSeed,
});

/** The pool's checks shared by both datasets. */
function checkPool(dataset: Dataset, seed: number, poolPerClass: (c: string) => number): void {
  const { start, pool, test } = dataset.activePool(seed);
  // The start is the split's 1-shot set, one photo per class in class order.
  expect(start.map((i) => i.id)).toEqual(dataset.split(seed, [1]).shots.get(1)?.map((i) => i.id));
  expect(start.map((i) => i.label)).toEqual(dataset.classes);
  expect(test.map((i) => i.id)).toEqual(dataset.split(seed, [1]).test.map((i) => i.id));
  const ids = [...start, ...pool, ...test].map((i) => i.id);
  expect(new Set(ids).size).toBe(ids.length);
  for (const c of dataset.classes) expect(pool.filter((i) => i.label === c)).toHaveLength(poolPerClass(c));
}

describe('the fixed-budget protocol\'s pools', () => {
  it('emoji: every emoji of the ten subcategories not in the seed\'s test set or its start', () => {
    const emoji = emojiDataset();
    for (const seed of [0, 5]) checkPool(emoji, seed, (c) => emojiTotal(emoji, c) - 10 - 1);
    // Another seed, another draw.
    expect(emoji.activePool(1).start.map((i) => i.id)).not.toEqual(emoji.activePool(0).start.map((i) => i.id));
  });

  it.skipIf(!existsSync(FASHION_DIR))('Fashion-MNIST: 100 train images a class, the test set of the split', () => {
    const fashion = fashionDataset({ testPerClass: 100, unlabeled: 500 }) as Dataset;
    checkPool(fashion, 0, () => 100);
    const confirm = fashionDataset({ testPerClass: 100, testOffset: 100, unlabeled: 500 }) as Dataset;
    checkPool(confirm, 5, () => 100);
  });
});

/** How many emoji a subcategory has (every seed draws all of them in some order). */
function emojiTotal(emoji: Dataset, label: string): number {
  const { start, pool, test } = emoji.activePool(0);
  return [...start, ...pool, ...test].filter((i) => i.label === label).length;
}

describe('the asked-vs-random table', () => {
  const evaluation: Record<string, EvalEntry> = {
    'eval.emoji.app.k10': entry([0.5, 0.5, 0.5, 0.5, 0.5]),
    'eval.emoji.asked.k5': entry([0.42, 0.41, 0.38, 0.41, 0.34]),
    'eval.emoji.random.k5': entry([0.38, 0.36, 0.36, 0.36, 0.38]),
    // Above app's k = 10: were the protocol's keys taken for recipes, "Where ours lost" would list them.
    'eval.fashion.app.k10': entry([0.7, 0.7, 0.7, 0.7, 0.7]),
    'eval.fashion.asked.k10': entry([0.8, 0.8, 0.8, 0.8, 0.8]),
    'eval.fashion.random.k10': entry([0.75, 0.75, 0.75, 0.75, 0.75]),
    'eval.fashion.asked.k10.confirm': entry([0.7, 0.7], [5, 6]),
    'eval.fashion.random.k10.confirm': entry([0.71, 0.71], [5, 6]),
  };

  it('pairs asked with random by seed, per dataset and k, with the confirmation columns', () => {
    const table = askedTable(evaluation);
    expect(table).toHaveLength(4);
    expect(table[2]).toMatch(/^\| emoji \| k = 5 \(50\) \| 39\.2 \[0\.0, 100\.0\] \| 36\.8 \[0\.0, 100\.0\] \| \+2\.4 \[/);
    expect(table[2]).toMatch(/\| - \| - \| - \|$/);
    expect(table[3]).toContain('| Fashion-MNIST | k = 10 (100) |');
    expect(table[3]).toContain('+5.0 [+5.0, +5.0]');
    expect(table[3]).toContain('-1.0 [-1.0, -1.0]');
    expect(askedTable({ 'eval.emoji.app.k10': entry([0.5, 0.5]) })).toEqual([]);
  });

  it('says where asking lost: each seed below random, and a mean below random in bold', () => {
    expect(askedLosses(evaluation)).toEqual([
      'Where asking lost (per seed, points):',
      '',
      '- emoji k = 5: asked lost to random on seed 4 (-4.0).',
      '- Fashion-MNIST k = 10: asked lost to random on no seed.',
      '- Fashion-MNIST k = 10, confirmation: asked lost to random on seed 5 (-1.0), seed 6 (-1.0); **below random on the mean**.',
    ]);
  });

  it('goes into the README between its markers and into BENCHMARKS.md, and stays out of the recipe tables', () => {
    const readme = `intro\n${README_ASKED_START}\nold\n${README_ASKED_END}\nend`;
    const updated = replaceReadmeTable(readme, evaluation);
    expect(updated).toContain(`${README_ASKED_START}\n\n| dataset | labels |`);
    expect(updated).not.toContain('old');
    expect(updated.endsWith(`${README_ASKED_END}\nend`)).toBe(true);
    const section = evalSection(evaluation).join('\n');
    expect(section).toContain('### The photos the app asks about against random ones');
    expect(allRecipesTable(evaluation).join('\n')).not.toMatch(/asked|random/);
    // "Where ours lost" compares recipes with app: the protocol's keys are not recipes.
    const lost = section.slice(section.indexOf('### Where ours lost'), section.indexOf('### Caveats'));
    expect(lost.match(/no other recipe beats `app`/g)).toHaveLength(2);
    expect(lost).not.toContain('asked');
  });
});
