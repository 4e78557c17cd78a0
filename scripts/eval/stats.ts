/**
 * The evaluation's statistics over seeds: mean, sample standard deviation and the 95% confidence
 * interval of the mean by Student's t (n - 1 degrees of freedom), for one recipe's accuracies and
 * for the paired differences of two recipes on the same seeds (a paired comparison: the seed's
 * split is shared, so its difficulty cancels out and the interval is narrower than two separate
 * intervals suggest). A difference whose interval excludes 0 is a real one at the 5% level.
 */

/** Mean, spread and 95% interval of the mean of a sample. */
export interface SampleSummary {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1); 0 for n < 2. */
  std: number;
  /** 95% t-interval of the mean; for n < 2 it is unknown, and reported as the mean itself. */
  ci: { low: number; high: number };
}

/** Two-sided 95% quantiles of Student's t (0.975 one-sided) for 1..30 degrees of freedom. */
const T975 = [
  12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.306, 2.2622, 2.2281, 2.201, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.093,
  2.086, 2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
];

/**
 * Student's t quantile at 0.975 (the multiplier of a two-sided 95% interval) for `df` degrees of
 * freedom: the table for df <= 30, the Cornish-Fisher expansion around the normal quantile beyond
 * (within 1e-4 there).
 */
export function tQuantile975(df: number): number {
  if (!(Number.isInteger(df) && df >= 1)) throw new RangeError(`degrees of freedom must be a positive integer, got ${df}`);
  if (df <= T975.length) return T975[df - 1] as number;
  const z = 1.959964;
  const g1 = (z ** 3 + z) / 4;
  const g2 = (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96;
  const g3 = (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / 384;
  return z + g1 / df + g2 / df ** 2 + g3 / df ** 3;
}

/** Mean, sample standard deviation and 95% t-interval of `xs` (at least one value). */
export function summarize(xs: readonly number[]): SampleSummary {
  const n = xs.length;
  if (n === 0) throw new RangeError('summarize needs at least one value');
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const std = n < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  const half = n < 2 ? 0 : (tQuantile975(n - 1) * std) / Math.sqrt(n);
  return { n, mean, std, ci: { low: mean - half, high: mean + half } };
}

/**
 * The paired comparison of two recipes measured on the same seeds: `a[i]` and `b[i]` are the two
 * accuracies on seed i. Returns the summary of the differences `a[i] - b[i]` (mean difference and
 * its 95% t-interval).
 */
export function pairedDifference(a: readonly number[], b: readonly number[]): SampleSummary {
  if (a.length !== b.length) throw new RangeError(`paired samples must have the same length, got ${a.length} and ${b.length}`);
  return summarize(a.map((x, i) => x - (b[i] as number)));
}

/** A figure measured on some seeds: `perSeed[i]` is the accuracy on `seeds[i]`. */
export interface SeededFigure {
  seeds?: readonly number[];
  perSeed?: readonly number[];
}

/**
 * `a - b` paired over the seeds both figures have (in `a`'s order), or null when either lacks
 * per-seed values or fewer than 2 seeds are common.
 */
export function pairedBySeed(a: SeededFigure | undefined, b: SeededFigure | undefined): { diff: SampleSummary; seeds: number[] } | null {
  if (!a?.seeds || !a.perSeed || !b?.seeds || !b.perSeed) return null;
  const aBySeed = new Map(a.seeds.map((seed, i) => [seed, a.perSeed?.[i] as number]));
  const bBySeed = new Map(b.seeds.map((seed, i) => [seed, b.perSeed?.[i] as number]));
  const seeds = a.seeds.filter((seed) => bBySeed.has(seed));
  if (seeds.length < 2) return null;
  const diff = pairedDifference(
    seeds.map((seed) => aBySeed.get(seed) as number),
    seeds.map((seed) => bBySeed.get(seed) as number),
  );
  return { diff, seeds };
}
