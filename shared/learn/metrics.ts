/**
 * Classification quality: accuracy, per-class accuracy and confusion (the `HeadMetrics` stored in
 * head documents), a confidence interval for an accuracy, and a paired test for comparing two
 * classifiers on the same items. Plain numbers, no tensors.
 */
import type { HeadMetrics } from '../head/document.ts';

/**
 * Metrics of predicted against actual labels. `confusion[i][j]` counts items of class i predicted
 * as class j (both in `classes` order). `perClass` is each class's recall (share of its items
 * predicted correctly); classes with no items are left out rather than given a made-up number.
 * Accuracy is 0 when there are no items (`n` says so). Throws on a label not in `classes`.
 */
export function computeMetrics(classes: readonly string[], actual: readonly string[], predicted: readonly string[]): HeadMetrics {
  if (actual.length !== predicted.length) {
    throw new RangeError(`${actual.length} actual labels but ${predicted.length} predictions`);
  }
  const index = new Map(classes.map((c, i) => [c, i]));
  const indexOf = (label: string): number => {
    const i = index.get(label);
    if (i === undefined) throw new RangeError(`label "${label}" is not one of the classes (${classes.join(', ')})`);
    return i;
  };
  const confusion = classes.map(() => classes.map(() => 0));
  let correct = 0;
  actual.forEach((label, k) => {
    const a = indexOf(label);
    const p = indexOf(predicted[k] as string);
    (confusion[a] as number[])[p] = ((confusion[a] as number[])[p] as number) + 1;
    if (a === p) correct++;
  });
  const perClass: Record<string, number> = {};
  classes.forEach((c, i) => {
    const row = confusion[i] as number[];
    const total = row.reduce((x, y) => x + y, 0);
    if (total > 0) perClass[c] = (row[i] as number) / total;
  });
  return { accuracy: actual.length ? correct / actual.length : 0, perClass, confusion, n: actual.length };
}

/**
 * Wilson score interval for a proportion (`successes` of `n`), default 95% (z = 1.96). Unlike the
 * normal approximation it stays inside [0, 1] and is honest for small n and for 0% or 100%.
 * With n = 0 nothing is known: [0, 1].
 */
export function wilsonInterval(successes: number, n: number, z = 1.96): { low: number; high: number } {
  if (n === 0) return { low: 0, high: 1 };
  if (!(successes >= 0 && successes <= n)) throw new RangeError(`successes must be in [0, ${n}], got ${successes}`);
  const p = successes / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/** Outcome of {@link mcnemarExact}. */
export interface PairedComparison {
  /** Items only the first classifier got right. */
  onlyA: number;
  /** Items only the second classifier got right. */
  onlyB: number;
  /** Two-sided p-value of "both are equally accurate". */
  p: number;
}

/**
 * Exact McNemar test of two classifiers on the same items, given whether each got each item
 * right. Items both got right or both got wrong say nothing about which is better; under "equally
 * accurate" each discordant item is a fair coin flip, so p is the two-sided binomial tail of the
 * smaller discordant count (1 when there are no discordant items). Needs at least 6 discordant
 * items, all one way, to reach p < 0.05.
 */
export function mcnemarExact(aCorrect: readonly boolean[], bCorrect: readonly boolean[]): PairedComparison {
  if (aCorrect.length !== bCorrect.length) {
    throw new RangeError(`paired comparison needs the same items: ${aCorrect.length} vs ${bCorrect.length}`);
  }
  let onlyA = 0;
  let onlyB = 0;
  aCorrect.forEach((a, i) => {
    const b = bCorrect[i] as boolean;
    if (a && !b) onlyA++;
    else if (b && !a) onlyB++;
  });
  const n = onlyA + onlyB;
  const k = Math.min(onlyA, onlyB);
  // P(X <= k) for X ~ Binomial(n, 1/2), in log space so large n does not underflow 0.5^n.
  let logChoose = 0; // log C(n, 0)
  let tail = 0;
  for (let i = 0; i <= k; i++) {
    if (i > 0) logChoose += Math.log((n - i + 1) / i);
    tail += Math.exp(logChoose - n * Math.LN2);
  }
  return { onlyA, onlyB, p: Math.min(1, 2 * tail) };
}
