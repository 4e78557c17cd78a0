/**
 * chooseToAsk's typicality-first choice while labels are few (shared/learn/ask-typical.ts, TypiClust):
 * on made-up pools of well-separated clusters it asks about one photo per cluster without labels,
 * the largest clusters first, each time the cluster's most typical photo; it never picks a
 * near-duplicate; it is deterministic and independent of the input order; and it hands over to the
 * score once the labels reach `typicalUntil` a class. Its class-targeted choice (`targetUntil`) asks, for
 * the class with the fewest labels, about the photo best by `targetBy`.
 */
import { describe, expect, it } from 'vitest';
import { chooseToAsk, DUPLICATE_COSINE, type AskCandidate, type TargetScore } from '../../shared/learn/ask.ts';
import { kMeans } from '../../shared/learn/ask-typical.ts';
import { mulberry32, shuffle } from '../../shared/util/random.ts';
import { cosine, direction, near } from './ask-fixtures.ts';

/** Equal probabilities over 3 classes (the model knows nothing yet). */
const FLAT = [1 / 3, 1 / 3, 1 / 3];
const typical = { typicalUntil: Infinity };

/** Clusters of the given sizes around random centres: ids `c<cluster>-<index>`. */
function clusters(sizes: readonly number[], seed: number, spread = 0.5): { pool: AskCandidate[]; centres: Float32Array[] } {
  const random = mulberry32(seed);
  const centres = sizes.map(() => direction(random));
  const pool = sizes.flatMap((size, c) =>
    Array.from({ length: size }, (_, i) => ({ id: `c${c}-${String(i).padStart(2, '0')}`, embedding: near(centres[c] as Float32Array, spread, random), probabilities: FLAT })),
  );
  return { pool, centres };
}

const clusterOf = (id: string): string => id.split('-')[0] as string;

describe('chooseToAsk, typicality first', () => {
  it('asks about one photo per cluster, the largest clusters without labels first', () => {
    const { pool, centres } = clusters([12, 6, 20, 9, 15], 1, 0.2);
    const random = mulberry32(2);
    // Cluster 2, the largest, already has a labelled photo.
    const labeled = [near(centres[2] as Float32Array, 0.2, random)];
    const ids = chooseToAsk(pool, { ...typical, count: 4, labeled, labeledClasses: [0] }).map((c) => c.id);
    expect(ids.map(clusterOf)).toEqual(['c4', 'c0', 'c3', 'c1']);
    // Asked for more than there are clusters, it comes back to the largest ones: still spread.
    const more = chooseToAsk(pool, { ...typical, count: 8, labeled, labeledClasses: [0] }).map((c) => clusterOf(c.id));
    expect(new Set(more.slice(0, 4)).size).toBe(4);
    expect(more.slice(0, 4)).not.toContain('c2');
  });

  it("picks a cluster's most typical photo, not an outlying one", () => {
    const random = mulberry32(3);
    const centre = direction(random);
    // A tight core (0.2 from the centre) and a loose fringe (0.9): one cluster, its core is typical.
    const core = Array.from({ length: 8 }, (_, i) => ({ id: `core${i}`, embedding: near(centre, 0.2, random), probabilities: FLAT }));
    const fringe = Array.from({ length: 8 }, (_, i) => ({ id: `fringe${i}`, embedding: near(centre, 0.9, random), probabilities: FLAT }));
    const [choice] = chooseToAsk([...fringe, ...core], { ...typical, count: 1 });
    expect(choice?.id.startsWith('core')).toBe(true);
  });

  it('never picks a near-duplicate of a labelled photo or of another choice', () => {
    const random = mulberry32(4);
    const base = direction(random);
    // The largest cluster: twins of a labelled photo; then twins of each other.
    const twinsOfLabelled = Array.from({ length: 12 }, (_, i) => ({ id: `t${String(i).padStart(2, '0')}`, embedding: near(base, 0.01, random), probabilities: FLAT }));
    const other = direction(random);
    const twins = Array.from({ length: 10 }, (_, i) => ({ id: `u${String(i).padStart(2, '0')}`, embedding: near(other, 0.01, random), probabilities: FLAT }));
    const { pool: rest } = clusters([6, 6], 5);
    const labeled = [near(base, 0.01, random)];
    expect(cosine(labeled[0] as Float32Array, twinsOfLabelled[0]?.embedding as Float32Array)).toBeGreaterThan(DUPLICATE_COSINE);
    const chosen = chooseToAsk([...twinsOfLabelled, ...twins, ...rest], { ...typical, count: 5, labeled });
    expect(chosen.some((c) => c.id.startsWith('t'))).toBe(false);
    expect(chosen.filter((c) => c.id.startsWith('u'))).toHaveLength(1);
    const all = [...twinsOfLabelled, ...twins, ...rest];
    const embedding = (id: string): Float32Array => all.find((c) => c.id === id)?.embedding as Float32Array;
    for (const a of chosen) for (const b of chosen) if (a !== b) expect(cosine(embedding(a.id), embedding(b.id))).toBeLessThan(DUPLICATE_COSINE);
  });

  it('is deterministic and independent of the input order', () => {
    const { pool, centres } = clusters([10, 14, 7, 11, 9, 13], 6, 0.8);
    const labeled = [near(centres[0] as Float32Array, 0.8, mulberry32(7))];
    const once = chooseToAsk(pool, { ...typical, count: 5, labeled });
    expect(once).toHaveLength(5);
    expect(chooseToAsk(pool, { ...typical, count: 5, labeled })).toEqual(once);
    for (const seed of [8, 9, 10]) expect(chooseToAsk(shuffle(pool, mulberry32(seed)), { ...typical, count: 5, labeled })).toEqual(once);
  });

  it('hands over to the score once the labels reach typicalUntil a class', () => {
    const { pool, centres } = clusters([10, 10, 10], 11);
    const random = mulberry32(12);
    const labeled = centres.map((c) => near(c, 0.5, random));
    const unsure = pool.map((c, i) => ({ ...c, probabilities: i % 10 === 3 ? [0.34, 0.33, 0.33] : [0.9, 0.05, 0.05] }));
    // 3 labels, 3 classes: 1 a class, below 2, so typicality first; at 1, the score (which wants the unsure photos).
    const first = chooseToAsk(unsure, { count: 3, labeled, labeledClasses: [0, 1, 2], targetUntil: 0, typicalUntil: 2 });
    const after = chooseToAsk(unsure, { count: 3, labeled, labeledClasses: [0, 1, 2], targetUntil: 0, typicalUntil: 1 });
    expect(after).toEqual(chooseToAsk(unsure, { count: 3, labeled, labeledClasses: [0, 1, 2], targetUntil: 0 }));
    expect(after.every((c) => c.id.endsWith('-03'))).toBe(true);
    expect(first).toEqual(chooseToAsk(unsure, { count: 3, labeled, labeledClasses: [0, 1, 2], targetUntil: 0, ...typical }));
    expect(first).not.toEqual(after);
  });

  it('holds the class balance only until each class has balanceUntil labels', () => {
    const random = mulberry32(13);
    const pool = Array.from({ length: 12 }, (_, i) => ({ id: `p${String(i).padStart(2, '0')}`, embedding: direction(random), probabilities: i % 2 === 0 ? [0.5, 0.5, 0] : [0.2, 0.8, 0] }));
    const labeled = Array.from({ length: 4 }, () => direction(random));
    const only = { weights: { novelty: 0, density: 0 }, count: 4, labeled, labeledClasses: [0, 1, 0, 1], targetUntil: 0 };
    // Class 2 has no labels: below 2, balanced (alternating guesses); balanceUntil 0: the score alone.
    expect(chooseToAsk(pool, { ...only, balanceUntil: 2 }).map((c) => c.guess)).toEqual([0, 1, 0, 1]);
    expect(chooseToAsk(pool, { ...only, balanceUntil: 0 }).map((c) => c.guess)).toEqual([0, 0, 0, 0]);
    expect(() => chooseToAsk(pool, { ...only, typicalUntil: -1 })).toThrow(/typicalUntil must be >= 0/);
  });
});

describe('chooseToAsk, class-targeted', () => {
  it('asks, for the class with the fewest labels, about the photo most likely of it', () => {
    const random = mulberry32(15);
    // Photo i: most likely class i % 3, with a probability that grows with i.
    const pool = Array.from({ length: 9 }, (_, i) => {
      const p = [0.1, 0.1, 0.1];
      p[i % 3] = 0.3 + i / 20;
      return { id: `p${i}`, embedding: direction(random), probabilities: p };
    });
    const labeled = [direction(random), direction(random), direction(random)];
    const only = { weights: { novelty: 0, density: 0 }, count: 3, labeled, labeledClasses: [0, 0, 1], targetUntil: Infinity };
    // Class 2 first (no label), then class 1 (1 label, the smaller index of the two with 1), then class 2.
    expect(chooseToAsk(pool, only).map((c) => c.id)).toEqual(['p8', 'p7', 'p5']);
    // One label each: classes 0, 1, 2 in turn; once every class has targetUntil labels, the score's choice instead.
    const even = { ...only, labeledClasses: [0, 1, 2] };
    expect(chooseToAsk(pool, even).map((c) => c.id)).toEqual(['p6', 'p7', 'p8']);
    expect(chooseToAsk(pool, { ...even, targetUntil: 1 })).toEqual(chooseToAsk(pool, { ...even, targetUntil: 0 }));
    expect(chooseToAsk(pool, { ...even, targetUntil: 1 }).map((c) => c.id)).not.toEqual(['p6', 'p7', 'p8']);
  });

  it('maximises for the targeted class what targetBy names', () => {
    const random = mulberry32(16);
    const a = direction(random);
    const b = direction(random);
    const c = direction(random);
    const labeled = [a, b, c, near(a, 0.5, random), near(b, 0.5, random)];
    const p = (p2: number): number[] => [1 - p2 - 0.1, 0.1, p2];
    // Class 2 has the fewest labels (1). near2: close to its labelled photo but the model doubts it;
    // likely2: the model's surest of class 2, far from every photo; dense: as sure, with 4 neighbours
    // close by (less sure of class 2), so the pool's densest candidate.
    const hub = direction(random);
    const pool: AskCandidate[] = [
      { id: 'dense', embedding: near(hub, 0.2, random), probabilities: p(0.7) },
      { id: 'likely2', embedding: direction(random), probabilities: p(0.7) },
      { id: 'near2', embedding: near(c, 0.7, random), probabilities: p(0.2) },
      ...Array.from({ length: 4 }, (_, i) => ({ id: `hub${i}`, embedding: near(hub, 0.3, random), probabilities: p(0.1) })),
    ];
    const options = { count: 1, labeled, labeledClasses: [0, 1, 2, 0, 1], targetUntil: 2 };
    expect(cosine(pool[2]?.embedding as Float32Array, c)).toBeLessThan(DUPLICATE_COSINE);
    const pick = (targetBy: TargetScore): string | undefined => chooseToAsk(pool, { ...options, targetBy })[0]?.id;
    expect(pick('similarity')).toBe('near2');
    expect(pick('probabilityDensity')).toBe('dense');
    // Probability alone ties dense and likely2: the smaller id.
    expect(pick('probability')).toBe('dense');
    expect(chooseToAsk(shuffle(pool, mulberry32(17)), { ...options, targetBy: 'probability' })[0]?.id).toBe('dense');
    // The default is the score (probability x novelty x density).
    expect(chooseToAsk(pool, options)).toEqual(chooseToAsk(pool, { ...options, targetBy: 'score' }));
    expect(() => chooseToAsk(pool, { ...options, targetBy: 'nearest' as TargetScore })).toThrow(/targetBy must be one of/);
  });
});

describe('kMeans', () => {
  it('finds well-separated clusters, the same way every time', () => {
    const { pool } = clusters([7, 5, 9, 6], 14, 0.2);
    const dim = pool[0]?.embedding.length as number;
    const rows = new Float32Array(pool.length * dim);
    pool.forEach((c, i) => rows.set(c.embedding, i * dim));
    const assignment = kMeans(rows, pool.length, dim, 4);
    // Same cluster in the data <=> same cluster found.
    pool.forEach((a, i) => pool.forEach((b, j) => expect(assignment[i] === assignment[j]).toBe(clusterOf(a.id) === clusterOf(b.id))));
    expect(kMeans(rows, pool.length, dim, 4)).toEqual(assignment);
    expect(new Set(kMeans(rows, pool.length, dim, 1))).toEqual(new Set([0]));
  });
});
