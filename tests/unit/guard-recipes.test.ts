/**
 * The guard over recipes (shared/learn/guard.ts `compareRecipes`): keeps the most accurate recipe on the
 * shared held-out photos, ties to the simpler one, reports each recipe's interval and its paired
 * test against the kept one, and says in words whether the lead could be chance.
 */
import { describe, expect, it } from 'vitest';
import { compareRecipes, type RecipeOutcome } from '../../shared/learn/guard.ts';

const labels = ['a', 'a', 'a', 'a', 'a', 'b', 'b', 'b', 'b', 'b', 'c', 'c', 'c', 'c', 'c', 'c', 'c', 'c', 'c', 'c'];
/** Predictions right on the first `right` photos and wrong ('x') after. */
const rightOn = (right: number): string[] => labels.map((l, i) => (i < right ? l : 'x'));

describe('compareRecipes', () => {
  it('keeps the most accurate recipe, with intervals, paired tests and a clear verdict', () => {
    const outcomes: RecipeOutcome[] = [
      { recipe: 'knn', predicted: rightOn(8) },
      { recipe: 'finetune', predicted: rightOn(19), sizeBytes: 4_800_000 },
      { recipe: 'head', predicted: rightOn(10), sizeBytes: 60_000 },
    ];
    const r = compareRecipes({ labels, outcomes });
    expect(r.kept).toBe('finetune');
    // Simplest first, whatever order they came in.
    expect(r.candidates.map((c) => c.recipe)).toEqual(['head', 'knn', 'finetune']);
    const ft = r.candidates.find((c) => c.recipe === 'finetune');
    expect(ft).toMatchObject({ correct: 19, n: 20, accuracy: 0.95, sizeBytes: 4_800_000 });
    expect(ft?.versusKept).toBeUndefined();
    expect(ft?.low).toBeGreaterThan(0.7);
    expect(ft?.high).toBeLessThanOrEqual(1);
    const head = r.candidates.find((c) => c.recipe === 'head');
    expect(head?.versusKept).toMatchObject({ onlyThis: 0, onlyKept: 9 });
    // 9 discordant photos all one way: p = 2 * 0.5^9.
    expect(head?.versusKept?.p).toBeCloseTo(2 / 512, 10);
    expect(r.verdict).toContain('fine-tuned model');
    expect(r.verdict).toContain('a clear difference');
    expect(head?.text).toBe('Retrained head: 10 of 20 held-out photos right (50.0%, likely 29.9% to 70.1%).');
  });

  it('says when the lead could be chance, and breaks ties towards the simpler recipe', () => {
    const close = compareRecipes({ labels, outcomes: [{ recipe: 'finetune', predicted: rightOn(12) }, { recipe: 'head', predicted: rightOn(11) }] });
    expect(close.kept).toBe('finetune');
    expect(close.verdict).toContain('could be chance');

    const tie = compareRecipes({ labels, outcomes: [{ recipe: 'finetune', predicted: rightOn(12) }, { recipe: 'selftrain', predicted: rightOn(12) }, { recipe: 'head', predicted: rightOn(12) }] });
    expect(tie.kept).toBe('head');
    expect(tie.verdict).toContain('no recipe did better');
  });

  it('keeps the head unless another recipe is significantly better, when asked to', () => {
    const close = compareRecipes({ labels, requireSignificance: true, outcomes: [{ recipe: 'finetune', predicted: rightOn(13) }, { recipe: 'head', predicted: rightOn(11) }] });
    expect(close.kept).toBe('head');
    expect(close.verdict).toContain('not clearly better');
    const clear = compareRecipes({ labels, requireSignificance: true, outcomes: [{ recipe: 'finetune', predicted: rightOn(19) }, { recipe: 'head', predicted: rightOn(10) }] });
    expect(clear.kept).toBe('finetune');
  });

  it('puts a perfect score inside its interval', () => {
    const six = ['a', 'a', 'b', 'b', 'c', 'c'];
    const r = compareRecipes({ labels: six, outcomes: [{ recipe: 'head', predicted: six }, { recipe: 'knn', predicted: ['x', 'x', 'x', 'x', 'x', 'x'] }] });
    expect(r.candidates[0]).toMatchObject({ accuracy: 1, high: 1 });
    expect(r.candidates[1]).toMatchObject({ accuracy: 0, low: 0 });
  });

  it('refuses mismatched inputs', () => {
    expect(() => compareRecipes({ labels, outcomes: [] })).toThrow(RangeError);
    expect(() => compareRecipes({ labels, outcomes: [{ recipe: 'head', predicted: ['a'] }] })).toThrow(/predicted 1 photos, 20 held out/);
    expect(() => compareRecipes({ labels, outcomes: [{ recipe: 'head', predicted: rightOn(1) }, { recipe: 'head', predicted: rightOn(2) }] })).toThrow(/twice/);
  });
});
