/**
 * `chooseToAsk` (./ask.ts) fed as the app and the evaluation feed it, so that the two cannot
 * drift apart: the pool's photos and the labelled photos compared in kNN's space (the backbone's
 * embedding through the input transform fitted with `fitInputTransform`'s defaults on every stored
 * example, views included, as `fitKnn` fits it: training mean removed, each part L2-normalised),
 * and the labelled photos' classes, which chooseToAsk's class balance counts. ./ask.ts stays free of TF.js; this file
 * reads the transform through shared/predict/predictor.ts.
 */
import type { BackboneManifest } from '../model/manifest.ts';
import { fitInputTransform } from '../head/input-transform.ts';
import { transformInputRows } from '../predict/predictor.ts';
import { chooseToAsk, type AskCandidate, type AskChoice, type AskRules, type AskWeights } from './ask.ts';
import type { Example } from './examples.ts';

/** Options of {@link askAbout}. */
export interface AskAboutOptions {
  /** Every stored example of the current model's backbone (photos and their augmented views). */
  examples: readonly Example[];
  backbone: BackboneManifest;
  /** The classes, in the order of the candidates' probabilities (the model's `classes`). */
  classes: readonly string[];
  /** How many to pick (the app: 5). */
  count: number;
  /** chooseToAsk's near-duplicate threshold (default: its own). */
  duplicateCosine?: number;
  /** chooseToAsk's exponents (default: its own; the evaluation measures others). */
  weights?: Partial<AskWeights>;
  /** chooseToAsk's rules (class balance, typicality-first; default: its own). */
  rules?: AskRules;
}

/**
 * The photos of `pool` to ask about, best first: `chooseToAsk` on the pool's photos and the
 * labelled photos (the examples that are not augmented views) in kNN's space (module comment),
 * each choice from a class with the fewest labels by the model's guess (chooseToAsk's class balance).
 * `pool[i].embedding` is the backbone's full embedding of the photo (as stored), and
 * `pool[i].probabilities` the current model's for the photo alone (no test-time views), in
 * `classes` order: the head's, or kNN's vote shares when the guard chose kNN.
 */
export function askAbout(pool: readonly AskCandidate[], options: AskAboutOptions): AskChoice[] {
  const { examples, backbone, classes } = options;
  if (pool.length === 0 || options.count === 0) return [];
  if (examples.length === 0) throw new RangeError('askAbout: no examples to fit the space on');
  const transform = fitInputTransform(examples.map((e) => e.embedding), backbone);
  const rows = (set: readonly Float32Array[]): Float32Array[] => {
    const flat = transformInputRows(set, backbone, transform);
    const dim = set.length ? flat.length / set.length : 0;
    return set.map((_, i) => flat.subarray(i * dim, (i + 1) * dim));
  };
  const photos = examples.filter((e) => !e.augmented);
  const index = new Map(classes.map((c, i) => [c, i]));
  const labeledClasses = photos.map((e) => {
    const i = index.get(e.label);
    if (i === undefined) throw new RangeError(`askAbout: example label "${e.label}" is not one of the classes`);
    return i;
  });
  const space = rows(pool.map((c) => c.embedding));
  return chooseToAsk(
    pool.map((c, i) => ({ id: c.id, embedding: space[i] as Float32Array, probabilities: c.probabilities })),
    {
      count: options.count,
      labeled: rows(photos.map((e) => e.embedding)),
      labeledClasses,
      ...(options.duplicateCosine === undefined ? {} : { duplicateCosine: options.duplicateCosine }),
      ...(options.weights ? { weights: options.weights } : {}),
      ...options.rules,
    },
  );
}
