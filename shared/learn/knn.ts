/**
 * Cosine k-nearest-neighbour classifier over (transformed) embeddings: the no-training baseline the
 * guard compares a trained head against. Plain JS on Float32Arrays; at personal-dataset sizes
 * (hundreds of examples) a brute-force scan is a few milliseconds.
 */
import type { Prediction } from '../api/types.ts';
import { classList, type Example } from './examples.ts';
import { rankPredictions, transformInput } from '../predict/head-runner.ts';
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
}

/** Unit-length copy (zero vectors stay zero, i.e. similarity 0 to everything). */
function unit(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += (v[i] as number) ** 2;
  const f = sum > 0 ? 1 / Math.sqrt(sum) : 0;
  return v.map((x) => x * f);
}

/** Builds a kNN classifier that remembers every example (augmented views included). */
export function fitKnn(examples: readonly Example[], backbone: BackboneManifest, options: KnnOptions = {}): KnnClassifier {
  const { k = 3 } = options;
  if (!(Number.isInteger(k) && k >= 1)) throw new RangeError(`k must be a positive integer, got ${k}`);
  if (examples.length === 0) throw new RangeError('kNN needs at least one example');
  const classes = options.classes ?? classList(examples);
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const transform = options.transform ?? fitInputTransform(examples.map((e) => e.embedding), backbone);
  const vectors = examples.map((e) => unit(transformInput(e.embedding, backbone, transform)));
  const labels = examples.map((e) => {
    const i = classIndex.get(e.label);
    if (i === undefined) throw new RangeError(`example label "${e.label}" is not one of the classes`);
    return i;
  });
  const kk = Math.min(k, examples.length);

  return {
    classes,
    k,
    transform,
    predict(embedding, top) {
      const q = unit(transformInput(embedding, backbone, transform));
      // The k most similar so far, kept sorted descending; ties keep the earlier example.
      const best: { sim: number; label: number }[] = [];
      vectors.forEach((v, j) => {
        let sim = 0;
        for (let i = 0; i < v.length; i++) sim += (v[i] as number) * (q[i] as number);
        if (best.length === kk && sim <= (best[kk - 1] as { sim: number }).sim) return;
        let at = best.length;
        while (at > 0 && sim > (best[at - 1] as { sim: number }).sim) at--;
        best.splice(at, 0, { sim, label: labels[j] as number });
        if (best.length > kk) best.pop();
      });
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
    },
  };
}
