/**
 * Typicality-first choice of photos to ask about while labels are few (cold start; TypiClust,
 * Hacohen et al. 2022, "Active learning on a budget"): with one labelled photo a class the model's
 * uncertainty is noise, so the labels go where they cover the most of what the pool holds. The pool
 * and the labelled photos are clustered (k-means) into as many clusters as there will be labels
 * (labelled + count); each choice is the most typical photo (the densest: the inverse mean distance
 * to its nearest neighbours in its cluster) of the largest cluster with the fewest labels so far.
 *
 * Plain JavaScript over Float32Arrays (as ./ask.ts, which calls it), deterministic: the rows come in
 * id order, k-means++ starts from a fixed seed, ties go to the smaller index.
 *
 * Cost: k-means is O(n x K x d x iterations) (K = labelled + count clusters, at most
 * {@link KMEANS_ITERATIONS} rounds), the typicality O(sum of cluster sizes squared x d).
 */
import { mulberry32 } from '../util/random.ts';
import { dotRows } from './rows.ts';

/** Lloyd rounds at most (k-means usually settles sooner; the choice needs clusters, not the optimum). */
export const KMEANS_ITERATIONS = 12;
/** Neighbours a photo's typicality is the mean distance to (TypiClust's 20). */
export const TYPICAL_NEIGHBOURS = 20;
/** Clusters smaller than this are taken last (TypiClust: a tiny cluster is an outlier's). */
export const MIN_CLUSTER = 5;
/** The fixed seed of k-means++ (the choice must not depend on anything random). */
const KMEANS_SEED = 0x7e1c;

/**
 * k-means of the `n` rows of `rows` (`dim` floats each) into `k` clusters (k-means++ start from a
 * fixed seed, then at most `iterations` Lloyd rounds, Euclidean). Returns each row's cluster
 * (0..k-1; fewer clusters used when rows coincide). Deterministic for the same rows in the same order.
 */
export function kMeans(rows: Float32Array, n: number, dim: number, k: number, iterations = KMEANS_ITERATIONS): Int32Array {
  const assignment = new Int32Array(n);
  k = Math.min(k, n);
  if (k <= 1 || n === 0) return assignment;
  const random = mulberry32(KMEANS_SEED);
  const norms = new Float64Array(n);
  for (let i = 0; i < n; i++) norms[i] = dotRows(rows, i, rows, i, dim);
  // k-means++: each centre drawn with probability proportional to the squared distance to the nearest one so far.
  const centres = new Float64Array(k * dim);
  const d2 = new Float64Array(n).fill(Infinity);
  let next = Math.floor(random() * n);
  for (let c = 0; c < k; c++) {
    for (let t = 0; t < dim; t++) centres[c * dim + t] = rows[next * dim + t] as number;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const d = Math.max(0, (norms[i] as number) + (norms[next] as number) - 2 * dotRows(rows, i, rows, next, dim));
      if (d < (d2[i] as number)) d2[i] = d;
      total += d2[i] as number;
    }
    if (!(total > 0)) {
      k = c + 1; // every row sits on a centre already
      break;
    }
    let target = random() * total;
    next = n - 1;
    for (let i = 0; i < n; i++) {
      target -= d2[i] as number;
      if (target < 0) {
        next = i;
        break;
      }
    }
  }
  const centreNorms = new Float64Array(k);
  const sums = new Float64Array(k * dim);
  const sizes = new Int32Array(k);
  for (let round = 0; round <= iterations; round++) {
    for (let c = 0; c < k; c++) centreNorms[c] = dotRows(centres, c, centres, c, dim);
    let moved = false;
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bestD = Infinity;
      for (let c = 0; c < k; c++) {
        const d = (centreNorms[c] as number) - 2 * dotRows(rows, i, centres, c, dim);
        if (d < bestD) {
          bestD = d;
          best = c;
        }
      }
      if (round === 0 || assignment[i] !== best) moved = true;
      assignment[i] = best;
    }
    if (!moved || round === iterations) break;
    sums.fill(0);
    sizes.fill(0);
    for (let i = 0; i < n; i++) {
      const c = assignment[i] as number;
      sizes[c] = (sizes[c] as number) + 1;
      for (let t = 0; t < dim; t++) sums[c * dim + t] = (sums[c * dim + t] as number) + (rows[i * dim + t] as number);
    }
    // An empty cluster keeps its centre.
    for (let c = 0; c < k; c++) {
      const size = sizes[c] as number;
      if (size > 0) for (let t = 0; t < dim; t++) centres[c * dim + t] = (sums[c * dim + t] as number) / size;
    }
  }
  return assignment;
}

/** Whether `a` comes before `b` in lexicographic order. */
function before(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if ((a[i] as number) !== (b[i] as number)) return (a[i] as number) < (b[i] as number);
  return false;
}

/**
 * The typicality of each of `members` (row indices of `rows`) within their cluster: 1 / the mean
 * Euclidean distance to its `neighbours` nearest other members (1 when it is alone).
 */
function typicality(rows: Float32Array, dim: number, members: readonly number[], neighbours = TYPICAL_NEIGHBOURS): Map<number, number> {
  const out = new Map<number, number>();
  const m = Math.min(neighbours, members.length - 1);
  const norms = members.map((i) => dotRows(rows, i, rows, i, dim));
  for (const [a, i] of members.entries()) {
    if (m <= 0) {
      out.set(i, 1);
      continue;
    }
    const d = members.filter((_, b) => b !== a).map((j, b) => Math.sqrt(Math.max(0, (norms[a] as number) + (norms[b >= a ? b + 1 : b] as number) - 2 * dotRows(rows, i, rows, j, dim))));
    d.sort((x, y) => x - y);
    let sum = 0;
    for (let t = 0; t < m; t++) sum += d[t] as number;
    out.set(i, 1 / Math.max(sum / m, 1e-9));
  }
  return out;
}

/**
 * TypiClust's choice (module comment): `count` rows of the pool (rows 0..n-1 of `rows`, unit length,
 * in id order) to label, given the labelled photos' rows (`known`, `labeled` of them). A row is
 * never chosen when `excluded` marks it, nor once `isOut` says so after an earlier choice (the
 * caller marks the near-duplicates of each choice through `onChoose`). Returns pool row indices,
 * best first.
 */
export function typicalChoices(
  rows: Float32Array,
  n: number,
  known: Float32Array,
  labeled: number,
  dim: number,
  count: number,
  isOut: (i: number) => boolean,
  onChoose: (i: number) => void,
): number[] {
  // Pool and labelled photos clustered together, so a cluster that holds a labelled photo counts as covered.
  const all = new Float32Array((n + labeled) * dim);
  all.set(rows.subarray(0, n * dim));
  all.set(known.subarray(0, labeled * dim), n * dim);
  const clusters = Math.min(n + labeled, labeled + count);
  const assignment = kMeans(all, n + labeled, dim, clusters);
  const members: number[][] = Array.from({ length: clusters }, () => []);
  const covered = new Int32Array(clusters);
  for (let i = 0; i < n + labeled; i++) {
    const c = assignment[i] as number;
    (members[c] as number[]).push(i);
    if (i >= n) covered[c] = (covered[c] as number) + 1;
  }
  // A cluster's rank: its labels, then whether it is tiny, then its size (larger first).
  const rank = (c: number): [number, number, number] => {
    const size = (members[c] as number[]).length;
    return [covered[c] as number, size < MIN_CLUSTER ? 1 : 0, -size];
  };
  const typical = new Map<number, Map<number, number>>();
  const chosen: number[] = [];
  while (chosen.length < count) {
    // The cluster with the fewest labels, then (not tiny first) the largest, then the smaller index, that has a photo left.
    let best = -1;
    for (let c = 0; c < clusters; c++) {
      const inCluster = members[c] as number[];
      if (!inCluster.some((i) => i < n && !isOut(i))) continue;
      if (best < 0) {
        best = c;
        continue;
      }
      if (before(rank(c), rank(best))) best = c;
    }
    if (best < 0) break;
    let scores = typical.get(best);
    if (!scores) {
      scores = typicality(all, dim, members[best] as number[]);
      typical.set(best, scores);
    }
    let pick = -1;
    let pickScore = -Infinity;
    for (const i of members[best] as number[]) {
      if (i >= n || isOut(i)) continue;
      const s = scores.get(i) as number;
      if (s > pickScore) {
        pickScore = s;
        pick = i;
      }
    }
    chosen.push(pick);
    covered[best] = (covered[best] as number) + 1;
    onChoose(pick);
  }
  return chosen;
}
