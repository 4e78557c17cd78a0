/**
 * chooseToAsk (shared/learn/ask.ts), the app's choice of photos to ask about: on small made-up
 * pools whose answer is known, it skips near-duplicates (of each other and of labelled photos),
 * prefers unsure photos to confident ones, spreads its choice across clusters and across classes
 * (the classes with the fewest labels first, by the model's guess), handles pools
 * smaller than the count and empty ones, is deterministic, and refuses inconsistent input clearly.
 */
import { describe, expect, it } from 'vitest';
import { chooseToAsk, DUPLICATE_COSINE, marginUncertainty, type AskCandidate } from '../../shared/learn/ask.ts';
import { mulberry32, shuffle } from '../../shared/util/random.ts';
import { cosine, DIM, direction, near } from './ask-fixtures.ts';

/** Probabilities over 3 classes with top-two margin `margin`, class `guess` first. */
function probs(margin: number, guess = 0): number[] {
  const top = (1 + margin) / 2;
  const p = [0, 0, 0];
  p[guess] = top;
  p[(guess + 1) % 3] = top - margin;
  return p;
}

const candidate = (id: string, embedding: Float32Array, margin: number, guess = 0): AskCandidate => ({ id, embedding, probabilities: probs(margin, guess) });

describe('chooseToAsk', () => {
  it('reports each choice\'s uncertainty (1 - top-two margin) and guess (argmax)', () => {
    const random = mulberry32(1);
    const [choice] = chooseToAsk([candidate('a', direction(random), 0.3, 2)], { count: 1 });
    expect(choice?.id).toBe('a');
    expect(choice?.guess).toBe(2);
    expect(choice?.uncertainty).toBeCloseTo(0.7, 6);
    expect(marginUncertainty([0.5, 0.5])).toEqual({ uncertainty: 1, guess: 0 });
    expect(marginUncertainty([1])).toEqual({ uncertainty: 0, guess: 0 });
  });

  it('prefers unsure photos to confident ones', () => {
    const random = mulberry32(2);
    // Every photo in a direction of its own (none near another), half unsure, half confident.
    const pool = Array.from({ length: 20 }, (_, i) => candidate(`p${String(i).padStart(2, '0')}`, direction(random), i % 2 === 0 ? 0.05 : 0.9));
    const chosen = chooseToAsk(pool, { count: 5 });
    expect(chosen).toHaveLength(5);
    for (const c of chosen) expect(c.uncertainty).toBeGreaterThan(0.9);
  });

  it('never picks two near-duplicates, nor a near-duplicate of a labelled photo', () => {
    const random = mulberry32(3);
    const base = direction(random);
    const twin = near(base, 0.01, random);
    const labelledTwin = near(base, 0.01, random);
    expect(cosine(base, twin)).toBeGreaterThan(DUPLICATE_COSINE);
    const others = Array.from({ length: 4 }, (_, i) => candidate(`other${i}`, direction(random), 0.5));
    // The two twins are the most uncertain photos: without the rule both would come first.
    const pool = [candidate('twin-a', base, 0), candidate('twin-b', twin, 0), ...others];
    const ids = chooseToAsk(pool, { count: 3 }).map((c) => c.id);
    expect(ids.filter((id) => id.startsWith('twin'))).toHaveLength(1);
    expect(ids).toHaveLength(3);
    // With a labelled photo next to them, neither twin is asked about.
    const asked = chooseToAsk(pool, { count: 3, labeled: [labelledTwin] }).map((c) => c.id);
    expect(asked.some((id) => id.startsWith('twin'))).toBe(false);
    // A threshold above 1 turns the rule off.
    expect(chooseToAsk(pool, { count: 2, duplicateCosine: 1.01, weights: { novelty: 0, density: 0 } }).map((c) => c.id)).toEqual(['twin-a', 'twin-b']);
  });

  it('spreads its choice across clusters instead of taking the most uncertain cluster whole', () => {
    const random = mulberry32(4);
    const centres = Array.from({ length: 4 }, () => direction(random));
    // Cluster 0 is slightly less sure than the others: uncertainty alone would take all of it.
    const pool = centres.flatMap((centre, c) =>
      Array.from({ length: 8 }, (_, i) => candidate(`c${c}-${i}`, near(centre, 0.4, random), c === 0 ? 0.1 : 0.15, c % 3)),
    );
    expect(chooseToAsk(pool, { count: 4, weights: { novelty: 0, density: 0 } }).every((c) => c.id.startsWith('c0-'))).toBe(true);
    const clusters = chooseToAsk(pool, { count: 4 }).map((c) => c.id.split('-')[0]);
    expect(new Set(clusters).size).toBe(4);
  });

  it('moves away from the labelled photos', () => {
    const random = mulberry32(5);
    const centres = Array.from({ length: 3 }, () => direction(random));
    const pool = centres.flatMap((centre, c) => Array.from({ length: 6 }, (_, i) => candidate(`c${c}-${i}`, near(centre, 0.4, random), 0.2)));
    // Clusters 0 and 1 already have labelled photos: the first choice comes from cluster 2.
    const labeled = [near(centres[0] as Float32Array, 0.4, random), near(centres[1] as Float32Array, 0.4, random)];
    expect(chooseToAsk(pool, { count: 1, labeled })[0]?.id.startsWith('c2-')).toBe(true);
  });

  it('prefers a photo that represents many others to an outlier', () => {
    const random = mulberry32(6);
    const centre = direction(random);
    const crowd = Array.from({ length: 10 }, (_, i) => candidate(`crowd${i}`, near(centre, 0.3, random), 0.5));
    const outlier = candidate('outlier', direction(random), 0.5);
    expect(chooseToAsk([outlier, ...crowd], { count: 1 })[0]?.id.startsWith('crowd')).toBe(true);
  });

  it('with balance, prefers photos the model expects in classes with fewer labels', () => {
    const random = mulberry32(12);
    // Equally unsure photos: half guessed class 0 (3 labels already), half class 1 (none).
    const pool = Array.from({ length: 8 }, (_, i) => candidate(`p${i}`, direction(random), 0.3, i % 2));
    const labeled = [direction(random), direction(random), direction(random)];
    // The hard class balance (classSlack) off, to see the factor alone.
    const options = { count: 2, labeled, labeledClasses: [0, 0, 0], weights: { balance: 2, density: 0, novelty: 0 }, classSlack: Infinity, targetUntil: 0 };
    expect(chooseToAsk(pool, options).map((c) => c.guess)).toEqual([1, 1]);
    // Off by default.
    expect(chooseToAsk(pool, { ...options, weights: { density: 0, novelty: 0 } }).map((c) => c.guess)).toEqual([0, 1]);
    expect(() => chooseToAsk(pool, { ...options, labeledClasses: [0, 0] })).toThrow(/2 labeledClasses for 3 labelled embeddings/);
    expect(() => chooseToAsk(pool, { ...options, labeledClasses: [0, 0, 3] })).toThrow(/labeledClasses holds 3/);
  });

  it('spends its labels on the classes with the fewest labels first (class balance), by the model\'s guess', () => {
    const random = mulberry32(13);
    // Class 0's photos are the least sure: uncertainty alone would ask about them only.
    const pool = Array.from({ length: 12 }, (_, i) => candidate(`p${String(i).padStart(2, '0')}`, direction(random), i % 2 === 0 ? 0 : 0.4, i % 2));
    const labeled = [direction(random), direction(random), direction(random), direction(random)];
    // targetUntil 0: the class balance by guess, not the class-targeted choice of the first labels.
    const only = { weights: { novelty: 0, density: 0 }, targetUntil: 0 };
    expect(chooseToAsk(pool, { ...only, count: 4, labeled, labeledClasses: [0, 1, 0, 1], classSlack: Infinity }).map((c) => c.guess)).toEqual([0, 0, 0, 0]);
    // One label each: the choices alternate between the guessed classes.
    expect(chooseToAsk(pool, { ...only, count: 4, labeled: labeled.slice(0, 2), labeledClasses: [0, 1] }).map((c) => c.guess)).toEqual([0, 1, 0, 1]);
    // Class 0 has 3 labels, class 1 one: class 1 first, until it has as many.
    expect(chooseToAsk(pool, { ...only, count: 3, labeled, labeledClasses: [0, 0, 0, 1] }).map((c) => c.guess)).toEqual([1, 1, 0]);
    // A slack of 1: a class may run one label ahead of the fewest.
    expect(chooseToAsk(pool, { ...only, count: 4, labeled, labeledClasses: [0, 1, 0, 1], classSlack: 1 }).map((c) => c.guess)).toEqual([0, 0, 1, 0]);
    // Without labeledClasses there is nothing to balance: as uncertainty alone.
    expect(chooseToAsk(pool, { ...only, count: 4, labeled }).map((c) => c.guess)).toEqual([0, 0, 0, 0]);
  });

  it('returns the whole pool when asked for more than it holds, and nothing from an empty pool', () => {
    const random = mulberry32(7);
    const pool = Array.from({ length: 3 }, (_, i) => candidate(`p${i}`, direction(random), 0.5));
    expect(chooseToAsk(pool, { count: 10 }).map((c) => c.id).sort()).toEqual(['p0', 'p1', 'p2']);
    expect(chooseToAsk([], { count: 5 })).toEqual([]);
    expect(chooseToAsk([], { count: 5, labeled: [direction(random)] })).toEqual([]);
    expect(chooseToAsk(pool, { count: 0 })).toEqual([]);
  });

  it('is deterministic: the same choice whatever the input order, ties to the smaller id', () => {
    const random = mulberry32(8);
    const pool = Array.from({ length: 30 }, (_, i) => candidate(`p${String(i).padStart(2, '0')}`, direction(random), (i % 5) / 10));
    const labeled = [direction(random)];
    const once = chooseToAsk(pool, { count: 5, labeled });
    expect(chooseToAsk(shuffle(pool, mulberry32(9)), { count: 5, labeled })).toEqual(once);
    // Identical photos and probabilities but for the id: the smaller id wins.
    const same = direction(random);
    expect(chooseToAsk([candidate('b', same, 0.5), candidate('a', same, 0.5)], { count: 1 })[0]?.id).toBe('a');
  });

  it('refuses inconsistent input with a clear error', () => {
    const random = mulberry32(10);
    const a = candidate('a', direction(random), 0.5);
    expect(() => chooseToAsk([a, candidate('b', direction(random, DIM + 1), 0.5)], { count: 1 })).toThrow(/candidate "b" has an embedding of 65 floats, candidate "a" of 64/);
    expect(() => chooseToAsk([a], { count: 1, labeled: [direction(random, 10)] })).toThrow(/labelled embedding 0 has 10 floats, the candidates' 64/);
    expect(() => chooseToAsk([a, { id: 'b', embedding: direction(random), probabilities: [0.5, 0.5] }], { count: 1 })).toThrow(/candidate "b" has 2 probabilities/);
    expect(() => chooseToAsk([a, { ...a }], { count: 1 })).toThrow(/"a" appears twice/);
    expect(() => chooseToAsk([{ ...a, probabilities: [NaN, 0.5, 0.5] }], { count: 1 })).toThrow(/not a finite number/);
    expect(() => chooseToAsk([a], { count: -1 })).toThrow(/count must be a non-negative integer/);
    expect(() => chooseToAsk([a], { count: 1.5 })).toThrow(RangeError);
    expect(() => chooseToAsk([a], { count: 1, weights: { density: -1 } })).toThrow(/weight density/);
    expect(() => chooseToAsk([a], { count: 1, classSlack: -1 })).toThrow(/classSlack must be >= 0/);
  });
});
