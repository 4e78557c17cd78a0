/**
 * A head trained by shrinkage LDA (./lda.ts) instead of a softmax layer's solver, with the same
 * split, result and document as `trainHead` (./train-head.ts), so the guard (./train-app.ts)
 * judges it like any head and every runtime predicts with it unchanged.
 *
 * The space is `trainHead`'s `standardize`: the training vectors' mean removed (the document's
 * `input`: mean, no normalisation, scale 1), every dimension divided by its std + eps, folded into
 * the kernel's rows when saved. The LDA discriminants, times a temperature T, are the dense
 * layer's logits: T maximises the likelihood of the held-out photos (original views; pooled over
 * the folds with cross-validation), each counted as 1 - {@link LABEL_SMOOTHING} its class and the
 * rest spread over every class. That changes no photo's top class, only how sure the head says it
 * is and how the averages of test-time augmentation weigh the views. Without the smoothing, when
 * every held-out photo is right the likelihood grows without bound in T: the head claimed
 * certainty (probabilities of exactly 1 in float32, which test-time augmentation cannot average,
 * and weights so large that a correction's warm start went astray). A holdout split's
 * held-out photos, as for `trainHead`'s early stopping, so choose T and are judged by the guard.
 */
import * as tf from '@tensorflow/tfjs-core';
import { classList, type Example } from './examples.ts';
import { fitShrinkageLda, ldaScores, ldaWork, type LdaFit } from './lda.ts';
import { buildModel, checkClasses, type EpochProgress, type TrainResult } from './train-head.ts';
import { fitInputTransform } from '../head/input-transform.ts';
import type { HeadDocument, HeadMetrics, SavedArtifacts } from '../head/document.ts';
import { trainedHeadDocument } from './trained-document.ts';
import { argMax, transformInputRows } from '../predict/predictor.ts';
import type { BackboneManifest, InputTransform } from '../model/manifest.ts';
import { columnScales, scaleColumns } from './standardize.ts';
import { classIndices, saveModelArtifacts, throwIfAborted } from './kit.ts';
import { computeMetrics } from './metrics.ts';
import { foldExamples, splitByPhoto, type Split } from './split.ts';
import { mulberry32 } from '../util/random.ts';
import { Yielder, yieldToEventLoop } from '../util/yield.ts';

/**
 * The most multiply-adds one LDA fit may cost (./lda.ts `ldaWork`) for the Train button to use it:
 * ~0.6 s of float64 loops on this 2-core machine under load (measured in Node: 575 vectors of
 * 2,816 dimensions 583 ms, 400 vectors 278 ms, 160 vectors 77 ms), and a training fits twice (the
 * held-out fit and the one on every photo). MobileNetV2 (2,816-d): up to ~580 training vectors,
 * ~145 photos with their 3 views; InceptionV3 (768-d): ~1,180 vectors, ~295 photos. Above it the
 * softmax solver trains, as it did before LDA (its L-BFGS time grows gently with the photos).
 */
export const LDA_MAX_WORK = 5e8;

/**
 * The fewest photos every class must have for Train to fit LDA; below it the softmax solver trains
 * (trainAndGuard). A class mean from one or two photos is mostly noise, and LDA, unlike the
 * class-balanced softmax head, has nothing else to go on for that class. Chosen among 1, 3 and 5
 * by a rule written before the runs (MobileNetV2, seeds 0-4: the mean of `app` at k = 1 and the
 * fixed-budget protocol's six arms, where classes have 1-12 labels): 1 scored 52.8, 3 54.5, 5 54.3;
 * with 3, emoji's asked arm 35.4 -> 42.2 and random 33.0 -> 35.8 (k = 5), emoji k = 1 22.2 -> 25.0.
 */
export const LDA_MIN_PHOTOS = 3;

/** Whether an LDA head on `vectors` training vectors of `dim` dimensions fits {@link LDA_MAX_WORK}. */
export function ldaFits(vectors: number, dim: number): boolean {
  return ldaWork(vectors, dim) <= LDA_MAX_WORK;
}

/** Options for {@link trainLdaHead}: `trainHead`'s, those an LDA head has. */
export interface LdaHeadOptions {
  backbone: BackboneManifest;
  /** Output classes, in order. Default: the examples' labels, sorted. */
  classes?: string[];
  /** Seeds the split (as `trainHead`'s, so both hold out the same photos). Default 0. */
  seed?: number;
  /** With a holdout split, the returned head is fitted again on every photo (`heldOutDoc`: the judged one). Default false. */
  refitAll?: boolean;
  /** Aborting rejects with an `AbortError` DOMException. */
  signal?: AbortSignal;
  /** After each fit (one "epoch" a fit). */
  onProgress?: (event: EpochProgress) => void;
  id?: string;
  name?: string;
}

/** The share of each held-out photo's target spread evenly over the classes when choosing T (module comment; the usual 0.1). */
export const LABEL_SMOOTHING = 0.1;

/** Temperatures T the held-out likelihood chooses among: 10^-3 .. 10^2, six a decade. */
const TEMPERATURES = Array.from({ length: 31 }, (_, i) => 10 ** (-3 + i / 6));

/** One LDA fitted in a fold's standardised space. */
interface Fitted {
  transform: InputTransform;
  scale: Float32Array;
  fit: LdaFit;
  dim: number;
}

/** Fits the standardised space and LDA on `train`, giving the event loop turns (`clock`). */
async function fitOn(train: readonly Example[], backbone: BackboneManifest, classes: readonly string[], clock: Yielder): Promise<Fitted> {
  const transform = fitInputTransform(
    train.map((e) => e.embedding),
    backbone,
    { normalize: 'none', scale: 1, subtractMean: true },
  );
  const rows = transformInputRows(train.map((e) => e.embedding), backbone, transform);
  const dim = rows.length / train.length;
  const scale = columnScales(rows, dim);
  scaleColumns(rows, scale);
  return { transform, scale, dim, fit: await fitShrinkageLda(rows, dim, classIndices(train, classes), classes.length, { pause: () => clock.maybeYield() }) };
}

/** Discriminants of `set` under a fold's fit, one row per example. */
function scoresOf(fitted: Fitted, set: readonly Example[], backbone: BackboneManifest): Float64Array[] {
  if (!set.length) return [];
  const rows = transformInputRows(set.map((e) => e.embedding), backbone, fitted.transform);
  scaleColumns(rows, fitted.scale);
  return set.map((_, i) => ldaScores(fitted.fit, rows.subarray(i * fitted.dim, (i + 1) * fitted.dim)));
}

/** log sum_c exp(T s_c): log softmax(T s)[y] is T s_y minus it (a class at -Infinity adds nothing). */
function logNormalizer(s: Float64Array, t: number): number {
  let max = -Infinity;
  for (const v of s) max = Math.max(max, t * v);
  let z = 0;
  for (const v of s) z += Math.exp(t * v - max);
  return max + Math.log(z);
}

/**
 * The temperature maximising the mean smoothed log-likelihood of `rows` (module comment; ties: the
 * smaller T); 1 without rows. Rows whose class their fold could not predict (no training photo of
 * it) say nothing of T.
 */
function chooseTemperature(rows: readonly Float64Array[], truth: readonly number[]): number {
  let best = 1;
  let bestLl = -Infinity;
  const usable = rows.flatMap((s, i) => (Number.isFinite(s[truth[i] as number]) ? [i] : []));
  if (!usable.length) return best;
  for (const t of TEMPERATURES) {
    let ll = 0;
    for (const i of usable) {
      const row = rows[i] as Float64Array;
      const logZ = logNormalizer(row, t);
      // Smoothed target: 1 - eps on the photo's class, eps / C on each class the fold can predict.
      let spread = 0;
      let finite = 0;
      for (const v of row) {
        if (!Number.isFinite(v)) continue;
        spread += t * v - logZ;
        finite++;
      }
      ll += (1 - LABEL_SMOOTHING) * (t * (row[truth[i] as number] as number) - logZ) + (LABEL_SMOOTHING * spread) / finite;
    }
    if (ll > bestLl) [best, bestLl] = [t, ll];
  }
  return best;
}

/** Mean cross-entropy at T and the count right, of score rows against their classes. */
function stats(rows: readonly Float64Array[], truth: readonly number[], t: number): { loss: number; correct: number } {
  let loss = 0;
  let correct = 0;
  rows.forEach((s, i) => {
    // A class the fold could not predict: its cross-entropy would be infinite; counted as wrong only.
    if (Number.isFinite(s[truth[i] as number])) loss -= t * (s[truth[i] as number] as number) - logNormalizer(s, t);
    if (argMax(s) === truth[i]) correct++;
  });
  return { loss: rows.length ? loss / rows.length : 0, correct };
}

/** The fit as a dense softmax layer: kernel rows times the column scales, kernel and bias times T. */
async function artifactsOf(fitted: Fitted, classCount: number, t: number): Promise<SavedArtifacts> {
  const { fit, scale, dim } = fitted;
  const kernel = new Float32Array(dim * classCount);
  for (let k = 0; k < dim; k++) for (let c = 0; c < classCount; c++) kernel[k * classCount + c] = t * (scale[k] as number) * (fit.weights[k * classCount + c] as number);
  const bias = Float32Array.from(fit.bias, (b) => t * b);
  const model = buildModel(dim, 0, classCount, mulberry32(0));
  try {
    const weights = [tf.tensor2d(kernel, [dim, classCount]), tf.tensor1d(bias)];
    try {
      model.setWeights(weights);
    } finally {
      tf.dispose(weights);
    }
    return await saveModelArtifacts(model);
  } finally {
    model.dispose();
  }
}

/**
 * Trains an LDA head (module comment) with `trainHead`'s split: with a holdout split the fold's
 * LDA is judged on the held-out photos (`metrics`) and, with `refitAll`, fitted again on every photo
 * (`doc`; `heldOutDoc` the judged one); with cross-validation every fold's LDA predicts its
 * held-out photos (pooled `metrics`) and `doc` is fitted on every photo. `history` has one entry a
 * fit, `bestEpoch` is 1. Deterministic; no tensors outlive the call. Rejects with an `AbortError`
 * DOMException when `signal` aborts.
 */
export async function trainLdaHead(examples: readonly Example[], options: LdaHeadOptions): Promise<TrainResult> {
  const { backbone, signal } = options;
  throwIfAborted(signal);
  const classes = options.classes ?? classList(examples);
  checkClasses(examples, classes);
  const split = splitByPhoto(examples, { seed: options.seed ?? 0 });
  const holdout = split.method === 'holdout';
  const history: EpochProgress[] = [];
  const report = (event: EpochProgress): void => {
    history.push(event);
    options.onProgress?.(event);
  };

  // A turn every 25 ms: the fits run on the page's thread in the app (~0.1-0.6 s each here).
  const clock = new Yielder();
  // Every fold's fit, its held-out original views' scores pooled.
  const folds: { fitted: Fitted; train: Example[] }[] = [];
  const heldRows: Float64Array[] = [];
  const heldTruth: number[] = [];
  for (const fold of split.folds) {
    const { train, validation } = foldExamples(examples, fold);
    const originals = validation.filter((e) => !e.augmented);
    const fitted = await fitOn(train, backbone, classes, clock);
    folds.push({ fitted, train });
    heldRows.push(...scoresOf(fitted, originals, backbone));
    heldTruth.push(...classIndices(originals, classes));
    await yieldToEventLoop();
    throwIfAborted(signal);
  }
  const t = chooseTemperature(heldRows, heldTruth);
  const held = stats(heldRows, heldTruth, t);
  folds.forEach(({ fitted, train }) => {
    const own = stats(scoresOf(fitted, train, backbone), classIndices(train, classes), t);
    report({ phase: holdout ? 'holdout' : 'cross-validation', epoch: 1, epochs: 1, loss: own.loss, accuracy: own.correct / train.length, valAccuracy: held.correct / Math.max(1, heldRows.length), valLoss: held.loss });
  });
  const metrics: HeadMetrics = computeMetrics(
    classes,
    heldTruth.map((i) => classes[i] as string),
    heldRows.map((s) => classes[argMax(s)] as string),
  );

  const info = { id: options.id ?? crypto.randomUUID(), name: options.name, classes, backbone, metrics };
  const documentOf = (fitted: Fitted): Promise<HeadDocument> => trainedHeadDocument(info, fitted.transform, () => artifactsOf(fitted, classes.length, t));
  const judged = (folds[0] as { fitted: Fitted }).fitted;
  let heldOutDoc: HeadDocument | undefined;
  let final = judged;
  if (holdout && options.refitAll === true) heldOutDoc = await documentOf(judged);
  if (!holdout || options.refitAll === true) {
    final = await fitOn(examples, backbone, classes, clock);
    const own = stats(scoresOf(final, examples, backbone), classIndices(examples, classes), t);
    report({ phase: 'final', epoch: 1, epochs: 1, loss: own.loss, accuracy: own.correct / examples.length, valAccuracy: null, valLoss: null });
  }
  const doc = await documentOf(final);
  throwIfAborted(signal);
  return { doc, metrics, history, split: split as Split, bestEpoch: 1, ...(heldOutDoc ? { heldOutDoc } : {}) };
}
