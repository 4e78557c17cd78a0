/**
 * Cosine k-nearest-neighbour classifier over (transformed) embeddings: the no-training baseline the
 * guard compares a trained head against. One prediction is a plain JS scan over Float32Arrays (a few
 * milliseconds at hundreds of examples); many at once (the guard's held-out photos) are one matrix
 * product, with near-ties settled by the same exact similarities, so both give the same answers.
 */
import type { Prediction } from '../api/types.ts';
import { classList, type Example } from './examples.ts';
import * as tf from '@tensorflow/tfjs-core';
import { rankPredictions, transformInputRows } from '../predict/predictor.ts';
import { fitInputTransform } from '../head/input-transform.ts';
import type { BackboneManifest, InputTransform } from '../model/manifest.ts';

export interface KnnOptions {
  /** Neighbours that vote. Default 3. */
  k?: number;
  /** Applied to stored and query embeddings. Default: fitted on the examples with the defaults of `fitInputTransform`. */
  transform?: InputTransform;
  /** Class order of the predictions. Default: the examples' labels, sorted. */
  classes?: string[];
}

export interface KnnClassifier {
  readonly classes: readonly string[];
  readonly k: number;
  readonly transform: InputTransform;
  /**
   * Scores for one full embedding, descending, in the shape of the head runner's predictions. A
   * class's score is its share of the k votes (so scores sum to 1); classes with equal votes are
   * ordered by the summed similarity of their voting neighbours.
   */
  predict(embedding: Float32Array, top?: number): Prediction[];
  /**
   * `predict` for many embeddings, with the same answers: the similarities come from one float32
   * matrix product (TF.js), and every example within float32 rounding of the k-th nearest is then
   * ranked by the exact similarity `predict` uses. At 200 queries x 3,200 examples x 2,816 floats
   * (the guard at 1,000 photos) the JS scan took ~4 s in Chromium.
   */
  predictMany(embeddings: readonly Float32Array[], top?: number): Promise<Prediction[][]>;
}

/** Scales each `dim`-float row of `rows` to unit length in place (zero rows stay zero, i.e. similarity 0 to everything). */
function unitRows(rows: Float32Array, dim: number): void {
  for (let at = 0; at < rows.length; at += dim) {
    let sum = 0;
    for (let i = at; i < at + dim; i++) sum += (rows[i] as number) ** 2;
    const f = sum > 0 ? 1 / Math.sqrt(sum) : 0;
    for (let i = at; i < at + dim; i++) rows[i] = (rows[i] as number) * f;
  }
}

/**
 * How far a float32 matrix product's similarity can be from the one the JS loop sums in doubles:
 * for unit vectors of length d the float32 rounding error is at most d * 2^-24 (|a||b| = 1); this
 * allows 4x that. Only neighbours within twice this of the k-th nearest are checked exactly.
 */
function similarityTolerance(dim: number): number {
  return dim * 2 ** -22;
}

/** A neighbour being considered: its cosine similarity and class index. */
interface Neighbour {
  sim: number;
  label: number;
}

/** Builds a kNN classifier that remembers every example (augmented views included). */
export function fitKnn(examples: readonly Example[], backbone: BackboneManifest, options: KnnOptions = {}): KnnClassifier {
  const { k = 3 } = options;
  if (!(Number.isInteger(k) && k >= 1)) throw new RangeError(`k must be a positive integer, got ${k}`);
  if (examples.length === 0) throw new RangeError('kNN needs at least one example');
  const classes = options.classes ?? classList(examples);
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const transform = options.transform ?? fitInputTransform(examples.map((e) => e.embedding), backbone);
  // One row-major array of unit vectors: the JS scan reads rows of it, the batched product uploads it whole.
  const stored = transformInputRows(examples.map((e) => e.embedding), backbone, transform);
  const n = examples.length;
  const dim = stored.length / n;
  unitRows(stored, dim);
  const labels = examples.map((e) => {
    const i = classIndex.get(e.label);
    if (i === undefined) throw new RangeError(`example label "${e.label}" is not one of the classes`);
    return i;
  });
  const kk = Math.min(k, n);

  /** Row `j`'s similarity to `q` (at `q[qAt..]`), summed in doubles in index order: the exact value both paths rank by. */
  const similarity = (j: number, q: Float32Array, qAt: number): number => {
    const at = j * dim;
    let sim = 0;
    for (let i = 0; i < dim; i++) sim += (stored[at + i] as number) * (q[qAt + i] as number);
    return sim;
  };
  /** Offers example `j` to the k best so far (kept sorted descending; ties keep the earlier example, so `j` must ascend). */
  const consider = (best: Neighbour[], j: number, sim: number): void => {
    if (best.length === kk && sim <= (best[kk - 1] as Neighbour).sim) return;
    let at = best.length;
    while (at > 0 && sim > (best[at - 1] as Neighbour).sim) at--;
    best.splice(at, 0, { sim, label: labels[j] as number });
    if (best.length > kk) best.pop();
  };
  const vote = (best: readonly Neighbour[], top: number | undefined): Prediction[] => {
    const votes = new Float64Array(classes.length);
    const simSum = new Float64Array(classes.length);
    for (const { sim, label } of best) {
      votes[label] = (votes[label] as number) + 1;
      simSum[label] = (simSum[label] as number) + sim;
    }
    // rankPredictions sorts stably by score, so pre-ordering by summed similarity breaks vote ties.
    const order = classes.map((_, i) => i).sort((a, b) => (simSum[b] as number) - (simSum[a] as number));
    return rankPredictions(
      order.map((i) => classes[i] as string),
      order.map((i) => (votes[i] as number) / kk),
      top,
    );
  };
  const queryRows = (embeddings: readonly Float32Array[]): Float32Array => {
    const rows = transformInputRows(embeddings, backbone, transform);
    unitRows(rows, dim);
    return rows;
  };

  return {
    classes,
    k,
    transform,
    predict(embedding, top) {
      const q = queryRows([embedding]);
      const best: Neighbour[] = [];
      for (let j = 0; j < n; j++) consider(best, j, similarity(j, q, 0));
      return vote(best, top);
    },
    async predictMany(embeddings, top) {
      const m = embeddings.length;
      if (m === 0) return [];
      const queries = queryRows(embeddings);
      // Queries as columns: the big stored matrix is the product's left operand, as uploaded (a
      // transposed operand of this size was ~10x slower on the WASM backend).
      const columns = new Float32Array(dim * m);
      for (let r = 0; r < m; r++) for (let i = 0; i < dim; i++) columns[i * m + r] = queries[r * dim + i] as number;
      const product = tf.tidy(() => tf.matMul(tf.tensor2d(stored, [n, dim]), tf.tensor2d(columns, [dim, m])));
      let approx: Float32Array;
      try {
        approx = (await product.data()) as Float32Array;
      } finally {
        product.dispose();
      }
      const tolerance = similarityTolerance(dim);
      const kth = new Float64Array(kk);
      return embeddings.map((_, r) => {
        // The k-th largest approximate similarity; every true neighbour is within 2 tolerances of it.
        kth.fill(-Infinity);
        for (let j = 0; j < n; j++) {
          const a = approx[j * m + r] as number;
          if (!(a > (kth[kk - 1] as number))) continue;
          let at = kk - 1;
          while (at > 0 && a > (kth[at - 1] as number)) {
            kth[at] = kth[at - 1] as number;
            at--;
          }
          kth[at] = a;
        }
        const floor = (kth[kk - 1] as number) - 2 * tolerance;
        // The candidates, in index order, ranked by their exact similarity as `predict` ranks them
        // (`!(a < floor)` keeps NaN, which `predict` would also have to rank).
        const best: Neighbour[] = [];
        for (let j = 0; j < n; j++) if (!((approx[j * m + r] as number) < floor)) consider(best, j, similarity(j, queries, r * dim));
        return vote(best, top);
      });
    },
  };
}
