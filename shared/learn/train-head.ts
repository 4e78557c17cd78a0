/**
 * Trains a personal head on embeddings, the same way in the browser, the Worker and Node: a softmax
 * layer (optionally above one relu layer) on the transformed embedding, class-balanced, with a
 * held-out split by photo (cross-validation when there are very few photos), early stopping and
 * cancellation. The result is a standard head document that shared/predict/predictor.ts loads.
 *
 * A plain softmax layer (the default) is a convex problem on fixed inputs (weighted cross-entropy
 * plus L2): it is solved by full-batch L-BFGS, one iteration an "epoch", each one forward and one
 * backward matrix product over the training vectors (~25 iterations to converge on the eval's
 * data, whatever the number of photos), instead of 50 + 50 epochs of Adam mini-batches; the head
 * refitted on every photo starts from the judged head's solution and converges in a few. On the
 * eval (emoji, Fashion-MNIST, 10 photos a class with their views, seeds 0-4) its accuracy matched
 * Adam's within a point (issue 15 pt 3), at 3-10x less time. A hidden layer (not convex), or an
 * explicit `batchSize`, trains with Adam on seeded mini-batches and early stopping as before.
 *
 * Why a hand-written loop rather than tfjs-layers `fit`: at these sizes (tens to hundreds of
 * vectors) `fit`'s per-epoch and per-batch bookkeeping dominates; on WASM in Node, 50 epochs on 40
 * vectors took ~560 ms with `fit` and ~155 ms with this loop. Each step here is a handful of ops
 * on the model's own variables; the tfjs-layers model exists to give the weights a standard Keras
 * topology that `loadPredictor` reads back.
 */
import * as tf from '@tensorflow/tfjs-core';
// Importing tfjs-layers also registers tfjs-core's gradients, which training needs: tfjs-core's
// Node bundle does not, and its `dist/register_all_gradients` module cannot be imported from Node.
import { initializers, layers, sequential, type Sequential } from '@tensorflow/tfjs-layers';
import { classList, photoLabels, type Example } from './examples.ts';
import type { HeadDocument, HeadMetrics, SavedArtifacts } from '../head/document.ts';
import { trainedHeadDocument } from './trained-document.ts';
import { transformInputRows } from '../predict/predictor.ts';
import { fitInputTransform, type InputTransformOptions } from '../head/input-transform.ts';
import { backboneRef, embeddingPart, type BackboneManifest, type InputTransform } from '../model/manifest.ts';
import { computeMetrics } from './metrics.ts';
import { mulberry32, randomSeed, shuffle, type Random } from '../util/random.ts';
import { foldExamples, splitByPhoto, type Split } from './split.ts';
import { classIndices, judgeInBatches, layerVariables, oneHot, requirePositiveInteger, saveModelArtifacts, throwIfAborted, WeightSnapshot, type Judgement } from './kit.ts';
import { columnScales, scaleColumns } from './standardize.ts';
import { warmStartWeights, type WarmStartWeights } from './warm-start.ts';
import { Yielder } from '../util/yield.ts';
import { trainInStep } from './train-steps.ts';
import { lbfgsStart, lbfgsStep, type LbfgsState } from './lbfgs.ts';

export interface TrainOptions {
  backbone: BackboneManifest;
  /** Output classes, in order. Default: the examples' labels, sorted. Each needs at least one photo. */
  classes?: string[];
  /** Units of a hidden relu layer; 0 (default) is a plain softmax layer. */
  hidden?: number;
  /** Maximum epochs (L-BFGS: iterations). Default 50. */
  epochs?: number;
  /**
   * Mini-batch size for Adam. Given (or with a hidden layer), training runs Adam on seeded
   * mini-batches (default 32); without it a plain softmax layer is solved by L-BFGS (module comment).
   */
  batchSize?: number;
  /** Adam step size (see `batchSize`). Default 0.003. */
  learningRate?: number;
  /** L2 penalty on kernels (not biases), added to the loss. Default 0.001. */
  l2?: number;
  /** Seeds the split, the weight initialisation and the batch order. Default 0. */
  seed?: number;
  /** Share of each class's photos held out. Default 0.2. */
  validationFraction?: number;
  /** Holdout when every class has at least this many photos, else cross-validation. Default 5. */
  minPhotosForHoldout?: number;
  /** Stop once validation accuracy has stayed below its best for this many epochs. Default 10. */
  patience?: number;
  /** Weight examples by inverse class frequency (counted in photos). Default true. */
  balanceClasses?: boolean;
  /** Input transform fitting; default: all parts, mean removed, per-part L2, x10. */
  transform?: InputTransformOptions;
  /**
   * Standardise every input dimension on the training vectors (each fold's own): the head trains
   * on `(x - mean) / (std + eps)` (eps a tenth of the mean std, so dimensions that never fire stay
   * small) instead of the per-part L2 of `transform`, and the division is folded into the first
   * kernel's rows when the head is saved, so the document keeps today's format (`input`: the
   * mean, no normalisation, scale 1) and every runtime predicts with it unchanged. Default false.
   * Measured (issue 15 pt 1, `app` at k = 10, MobileNetV2): Fashion-MNIST +1.2 points [+1.0, +1.4]
   * on seeds 0-4 and +1.1 [-0.1, +2.3] on the confirmation data; emoji +3.4 [-2.4, +9.2] and
   * +0.6 [-1.3, +2.5].
   */
  standardize?: boolean;
  /** Aborting rejects the training with an `AbortError` DOMException. */
  signal?: AbortSignal;
  onProgress?: (event: EpochProgress) => void;
  /** Default: `crypto.randomUUID()`. */
  id?: string;
  /** Default: the class names. */
  name?: string;
  /**
   * With a holdout split: after the held-out photos chose the epoch count, train the returned head
   * again on ALL photos for that many epochs (its metrics stay the held-out ones, measured on the
   * head trained without them). Default false: the returned head is the one the held-out photos
   * judged. At a few photos a class, leaving 20% of them out of the returned head costs more than
   * the small optimism of the estimate (measured: scripts/eval/main.ts, recipe `head`).
   */
  refitAll?: boolean;
  /**
   * Start from this stored head's weights instead of a fresh initialisation (shared/learn/warm-start.ts:
   * classes matched by name, a new class starts fresh): a correction's retraining converges in a
   * few L-BFGS iterations. Plain softmax layers solved by L-BFGS only; `warmStart` says whether it
   * was used. The optimum is the same from any start (a convex objective), so the result is too,
   * up to the solver's tolerance.
   */
  initial?: HeadDocument;
}

export interface EpochProgress {
  /** `holdout`: training against the held-out photos. `cross-validation`: all folds in step.
   *  `final`: after cross-validation, the head trained on everything for the chosen epoch count. */
  phase: 'holdout' | 'cross-validation' | 'final';
  /** 1-based. */
  epoch: number;
  /** The most this phase will run (it may stop early). */
  epochs: number;
  /** Training objective at the end of the epoch (class-weighted cross-entropy + L2), mean over folds. */
  loss: number;
  /** Training accuracy at the end of the epoch (all training views). */
  accuracy: number;
  /** Accuracy on the held-out original views (pooled over folds); null in the final phase. */
  valAccuracy: number | null;
  /** Unweighted cross-entropy on the held-out original views; null in the final phase. */
  valLoss: number | null;
}

export interface TrainResult {
  doc: HeadDocument;
  /** Held-out metrics of the returned head (holdout), or pooled cross-validation metrics. */
  metrics: HeadMetrics;
  history: EpochProgress[];
  split: Split;
  /** Epoch whose weights were kept (holdout) or epoch count of the final head (cross-validation). */
  bestEpoch: number;
  /**
   * With a holdout split and `refitAll`: the head the held-out photos judged (trained without
   * them), for a guard that must compare on photos the head never saw; `doc` trained on them too.
   */
  heldOutDoc?: HeadDocument;
  /** With `initial`: the classes whose weights started from it, or why it could not be a start. */
  warmStart?: { classesKept: number } | { refused: string };
}

/**
 * Per-example loss weights: every class gets the same total weight, and within a class every
 * photo does, however many augmented views it has: `w = P / (C * P_c) / V_p` (P photos, C
 * classes, P_c photos of the example's class, V_p views of its photo), then scaled so that the
 * mean weight is 1 (the learning rate then means the same with and without balancing).
 */
export function classBalancedWeights(examples: readonly Example[]): Float32Array {
  const labels = photoLabels(examples);
  const photosPerClass = new Map<string, number>();
  for (const label of labels.values()) photosPerClass.set(label, (photosPerClass.get(label) ?? 0) + 1);
  const views = new Map<string, number>();
  for (const e of examples) views.set(e.photoId, (views.get(e.photoId) ?? 0) + 1);
  const raw = examples.map(
    (e) => labels.size / (photosPerClass.size * (photosPerClass.get(e.label) as number) * (views.get(e.photoId) as number)),
  );
  const mean = raw.reduce((a, b) => a + b, 0) / raw.length;
  return Float32Array.from(raw, (w) => w / mean);
}

/**
 * Trains a head on labelled embeddings (see the module comment). Splits by photo, stratified and
 * seeded. With at least `minPhotosForHoldout` photos in every class: one held-out split, L-BFGS to
 * convergence (Adam: early stopping on it, see `trainInStep`), and the last (best) epoch's weights returned, trained on the
 * training photos only so that the held-out metrics describe this very head. With fewer: k-fold
 * cross-validation with all folds trained in step, the epoch count chosen on the pooled folds,
 * pooled metrics reported, and the final head trained on all photos for that many epochs.
 * The same seed and data give bit-identical weights. Rejects with an `AbortError` DOMException
 * when `signal` aborts; no tensors outlive the call either way.
 */
export async function trainHead(examples: readonly Example[], options: TrainOptions): Promise<TrainResult> {
  const signal = options.signal;
  throwIfAborted(signal);
  const classes = options.classes ?? classList(examples);
  checkClasses(examples, classes);
  const settings: Settings = {
    backbone: options.backbone,
    classes,
    hidden: options.hidden ?? 0,
    solver: (options.hidden ?? 0) === 0 && options.batchSize === undefined ? 'quasi-newton' : 'adam',
    batchSize: options.batchSize ?? 32,
    learningRate: options.learningRate ?? 0.003,
    l2: options.l2 ?? 0.001,
    balanceClasses: options.balanceClasses ?? true,
    transform: options.standardize === true ? { ...options.transform, normalize: 'none', scale: 1, subtractMean: true } : (options.transform ?? {}),
    standardize: options.standardize === true,
  };
  const epochs = options.epochs ?? 50;
  const patience = options.patience ?? 10;
  requirePositiveInteger('epochs', epochs);
  requirePositiveInteger('batchSize', settings.batchSize);
  if (!(Number.isInteger(settings.hidden) && settings.hidden >= 0)) throw new RangeError(`hidden must be a non-negative integer, got ${settings.hidden}`);

  const seed = options.seed ?? 0;
  const split = splitByPhoto(examples, {
    seed,
    ...(options.validationFraction === undefined ? {} : { validationFraction: options.validationFraction }),
    ...(options.minPhotosForHoldout === undefined ? {} : { minPhotosForHoldout: options.minPhotosForHoldout }),
  });
  const random = mulberry32(seed ^ 0x5eed);
  const history: EpochProgress[] = [];
  const report = (event: EpochProgress): void => {
    history.push(event);
    options.onProgress?.(event);
  };
  // Every epoch is short; a turn every 25 ms (not every epoch, which would cost more than the epoch).
  const clock = new Yielder();

  const trainers: Trainer[] = [];
  try {
    for (const fold of split.folds) {
      const { train, validation } = foldExamples(examples, fold);
      trainers.push(new Trainer(train, validation, settings, randomSeed(random)));
    }
    const warm = options.initial;
    let warmStart: TrainResult['warmStart'];
    if (warm) for (const t of trainers) warmStart = warmStartSummary(await t.startFrom(warm));
    const holdout = split.method === 'holdout';
    const best = await trainInStep(trainers, {
      epochs,
      patience,
      phase: holdout ? 'holdout' : 'cross-validation',
      keepBestWeights: holdout,
      report,
      signal,
      clock,
    });
    const actual = trainers.flatMap((t) => t.validationLabels.map((i) => classes[i] as string));
    const predicted = best.predictions.flatMap((p) => Array.from(p, (i) => classes[i] as string));
    const metrics = computeMetrics(classes, actual, predicted);

    const info = { id: options.id ?? crypto.randomUUID(), name: options.name, classes, backbone: settings.backbone, metrics };
    const documentOf = (trainer: Trainer): Promise<HeadDocument> => trainedHeadDocument(info, trainer.transform, () => trainer.artifacts());
    let finalTrainer = trainers[0] as Trainer;
    let heldOutDoc: HeadDocument | undefined;
    if (holdout && options.refitAll === true) heldOutDoc = await documentOf(finalTrainer);
    if (!holdout || options.refitAll === true) {
      const judged = finalTrainer;
      finalTrainer = new Trainer(examples, [], settings, randomSeed(random));
      trainers.push(finalTrainer);
      // L-BFGS solves the same convex problem on slightly more data: it starts from the judged
      // head's solution and runs to convergence (a few iterations). Adam runs the chosen epochs.
      const quasiNewton = settings.solver === 'quasi-newton';
      if (quasiNewton && holdout) finalTrainer.copyWeightsFrom(judged);
      else if (warm) await finalTrainer.startFrom(warm);
      await trainInStep([finalTrainer], {
        epochs: quasiNewton ? epochs : best.epoch,
        patience: Infinity,
        phase: 'final',
        keepBestWeights: false,
        report,
        signal,
        clock,
      });
    }
    const doc = await documentOf(finalTrainer);
    throwIfAborted(signal);
    return { doc, metrics, history, split, bestEpoch: best.epoch, ...(heldOutDoc ? { heldOutDoc } : {}), ...(warmStart ? { warmStart } : {}) };
  } finally {
    for (const t of trainers) t.dispose();
  }
}

interface Settings {
  backbone: BackboneManifest;
  classes: string[];
  hidden: number;
  /** `quasi-newton`: L-BFGS, full batch (a plain softmax layer, no batch size given); else Adam. */
  solver: 'quasi-newton' | 'adam';
  batchSize: number;
  learningRate: number;
  l2: number;
  balanceClasses: boolean;
  transform: InputTransformOptions;
  /** See TrainOptions.standardize: `transform` then only removes the mean. */
  standardize: boolean;
}

/** What TrainResult says of a warm start. */
const warmStartSummary = (w: WarmStartWeights | { refused: string }): NonNullable<TrainResult['warmStart']> =>
  'refused' in w ? { refused: w.refused } : { classesKept: w.classesKept };

/** Throws unless `classes` are 2 or more distinct names, each with examples, and every example's label is one of them. */
export function checkClasses(examples: readonly Example[], classes: readonly string[]): void {
  if (classes.length < 2) throw new RangeError(`a head needs at least 2 classes, got ${classes.length}`);
  if (new Set(classes).size !== classes.length) throw new RangeError('classes must be distinct');
  const present = new Set(examples.map((e) => e.label));
  const missing = classes.filter((c) => !present.has(c));
  if (missing.length) throw new RangeError(`no examples for class ${missing.join(', ')}`);
  const unknown = [...present].filter((c) => !classes.includes(c));
  if (unknown.length) throw new RangeError(`examples labelled ${unknown.join(', ')}, which is not in classes`);
}

/**
 * One model being trained on one fold: its transform (fitted on its own training photos, so the
 * validation photos do not leak into the mean), its data, its optimizer.
 */
class Trainer {
  readonly transform: InputTransform;
  /** With `standardize`: 1 / (std + eps) per input dimension, applied to the rows and folded into the saved kernel. */
  private readonly columnScale: Float32Array | null;
  readonly validationLabels: number[];
  readonly trainCount: number;
  private readonly trainLabels: number[];
  private readonly trainWeights: Float32Array;
  /** Transformed training vectors, row-major, for building batches in JS. */
  private readonly trainRows: Float32Array;
  private readonly dim: number;
  private readonly random: Random;
  /** Everything below is disposed by `dispose()`. */
  private readonly tensors: tf.Tensor[] = [];
  private readonly xTrain: tf.Tensor2D;
  /** `xTrain` transposed, for L-BFGS's kernel gradient (see `logits`). */
  private readonly xTrainT: tf.Tensor2D | null;
  private readonly yTrain: tf.Tensor2D;
  private readonly wTrain: tf.Tensor1D;
  private readonly labelsTrain: tf.Tensor1D;
  private readonly xVal: tf.Tensor2D | null;
  private readonly yVal: tf.Tensor2D | null;
  private model: Sequential | null = null;
  private variables: tf.Variable[] = [];
  private optimizer: tf.Optimizer | null = null;
  private snapshot: WeightSnapshot | null = null;

  constructor(
    train: readonly Example[],
    validation: readonly Example[],
    private readonly settings: Settings,
    seed: number,
  ) {
    const { backbone, classes } = settings;
    this.transform = fitInputTransform(train.map((e) => e.embedding), backbone, settings.transform);
    const dim = this.transform.parts.reduce((a, name) => a + embeddingPart(backbone, name).size, 0);
    const rows = (set: readonly Example[]): Float32Array => transformInputRows(set.map((e) => e.embedding), backbone, this.transform);
    this.dim = dim;
    this.trainCount = train.length;
    this.random = mulberry32(seed);
    this.trainRows = rows(train);
    this.columnScale = settings.standardize ? columnScales(this.trainRows, dim) : null;
    if (this.columnScale) scaleColumns(this.trainRows, this.columnScale);
    this.trainLabels = classIndices(train, classes);
    this.trainWeights = settings.balanceClasses ? classBalancedWeights(train) : new Float32Array(train.length).fill(1);
    this.validationLabels = classIndices(validation, classes);
    const validationRows = rows(validation);
    if (this.columnScale) scaleColumns(validationRows, this.columnScale);

    try {
      this.xTrain = this.keep(tf.tensor2d(this.trainRows, [train.length, dim]));
      this.xTrainT = settings.solver === 'quasi-newton' ? this.keep(tf.transpose(this.xTrain)) : null;
      this.yTrain = this.keep(oneHot(this.trainLabels, classes.length));
      this.wTrain = this.keep(tf.tensor1d(this.trainWeights));
      this.labelsTrain = this.keep(tf.tensor1d(this.trainLabels, 'int32'));
      this.xVal = validation.length ? this.keep(tf.tensor2d(validationRows, [validation.length, dim])) : null;
      this.yVal = validation.length ? this.keep(oneHot(this.validationLabels, classes.length)) : null;
      this.model = buildModel(dim, settings.hidden, classes.length, this.random);
      this.variables = layerVariables(this.model.trainableWeights);
      this.snapshot = new WeightSnapshot(this.variables);
      this.optimizer = tf.train.adam(settings.learningRate);
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  private keep<T extends tf.Tensor>(t: T): T {
    this.tensors.push(t);
    return t;
  }

  /**
   * Logits from the variables directly: dense [-> relu -> dense], as the layers model computes.
   * Given `xT` (x transposed), the first layer's kernel gradient is `xT . dy`, a plain matMul:
   * autodiff would use a transposed matMul, which is several times slower on the WASM backend
   * (measured: 27 -> 10 ms a step with a 100-unit hidden layer) and computes an unused input gradient.
   */
  private logits(x: tf.Tensor2D, xT?: tf.Tensor2D): tf.Tensor2D {
    const [kernel, bias, ...rest] = this.variables as [tf.Variable, tf.Variable, ...tf.Variable[]];
    const first = xT
      ? tf.customGrad((k) => ({ value: tf.matMul(x, k as tf.Tensor2D), gradFunc: (dy) => tf.matMul(xT, dy) }))(kernel)
      : tf.matMul(x, kernel);
    let h = tf.add(first, bias) as tf.Tensor2D;
    for (let i = 0; i < rest.length; i += 2) {
      h = tf.add(tf.matMul(tf.relu(h), rest[i] as tf.Variable), rest[i + 1] as tf.Variable);
    }
    return h;
  }

  /** Per-example cross-entropy. */
  private crossEntropy(logits: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor1D {
    return tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(logits)), 1)) as tf.Tensor1D;
  }

  /** Class-weighted mean cross-entropy plus the L2 penalty on kernels (not biases). */
  private objective(logits: tf.Tensor2D, y: tf.Tensor2D, w: tf.Tensor1D): tf.Scalar {
    const data = tf.div(tf.sum(tf.mul(this.crossEntropy(logits, y), w)), tf.sum(w));
    const kernels = this.variables.filter((_, i) => i % 2 === 0);
    return tf.add(data, tf.mul(this.settings.l2, tf.addN(kernels.map((k) => tf.sum(tf.square(k)))))) as tf.Scalar;
  }

  /**
   * One epoch, and how the model did on the training data: with L-BFGS one iteration (the
   * objective and accuracy at its new point; `converged` once it has stopped improving); with
   * Adam one pass in seeded mini-batches, then one pass to measure. Batches are copied in JS and
   * uploaded: `tf.gather` of rows was the slowest op of a step on WASM.
   */
  async epoch(signal: AbortSignal | undefined): Promise<{ loss: number; correct: number; converged?: boolean }> {
    throwIfAborted(signal);
    if (this.settings.solver === 'quasi-newton') return this.quasiNewtonStep();
    const optimizer = this.optimizer as tf.Optimizer;
    const { batchSize, classes } = this.settings;
    const order = shuffle(
      Array.from({ length: this.trainCount }, (_, i) => i),
      this.random,
    );
    for (let start = 0; start < this.trainCount; start += batchSize) {
      throwIfAborted(signal);
      const batch = order.slice(start, start + batchSize);
      const rows = new Float32Array(batch.length * this.dim);
      batch.forEach((r, i) => rows.set(this.trainRows.subarray(r * this.dim, (r + 1) * this.dim), i * this.dim));
      tf.tidy(() => {
        const x = tf.tensor2d(rows, [batch.length, this.dim]);
        const xT = tf.transpose(x);
        const y = oneHot(batch.map((r) => this.trainLabels[r] as number), classes.length);
        const w = tf.tensor1d(batch.map((r) => this.trainWeights[r] as number));
        optimizer.minimize(() => this.objective(this.logits(x, xT), y, w), false, this.variables);
      });
    }
    const [lossT, correctT] = tf.tidy(() => {
      const logits = this.logits(this.xTrain);
      return [this.objective(logits, this.yTrain, this.wTrain), this.correctCount(logits)];
    });
    return this.readStats(lossT, correctT);
  }

  /** L-BFGS state: the current parameters (kernel then bias) and their evaluation, and the last pairs. */
  private lbfgs: LbfgsState<{ loss: number; correct: number; gradient: Float64Array }> | null = null;

  /** The objective, its gradient and the training accuracy at `theta` (written into the variables). */
  private async evaluateAt(theta: Float64Array): Promise<{ loss: number; correct: number; gradient: Float64Array }> {
    const [kernel, bias] = this.variables as [tf.Variable, tf.Variable];
    const classes = this.settings.classes.length;
    const split = this.dim * classes;
    tf.tidy(() => {
      kernel.assign(tf.tensor2d(Float32Array.from(theta.subarray(0, split)), [this.dim, classes]));
      bias.assign(tf.tensor1d(Float32Array.from(theta.subarray(split))));
    });
    const [lossT, correctT, gradT] = tf.tidy(() => {
      const logits = tf.add(tf.matMul(this.xTrain, kernel), bias) as tf.Tensor2D;
      const logp = tf.logSoftmax(logits);
      const w = tf.reshape(tf.div(this.wTrain, tf.sum(this.wTrain)), [-1, 1]);
      const data = tf.neg(tf.sum(tf.mul(tf.mul(this.yTrain, logp), w)));
      const loss = tf.add(data, tf.mul(this.settings.l2, tf.sum(tf.square(kernel)))) as tf.Scalar;
      const dLogits = tf.mul(tf.sub(tf.exp(logp), this.yTrain), w);
      const gKernel = tf.add(tf.matMul(this.xTrainT as tf.Tensor2D, dLogits), tf.mul(2 * this.settings.l2, kernel));
      const gBias = tf.sum(dLogits, 0);
      return [loss, this.correctCount(logits), tf.concat([tf.reshape(gKernel, [-1]), gBias])];
    });
    try {
      const [loss, correct, gradient] = await Promise.all([lossT.data(), correctT.data(), gradT.data()]);
      return { loss: loss[0] as number, correct: correct[0] as number, gradient: Float64Array.from(gradient) };
    } finally {
      tf.dispose([lossT, correctT, gradT]);
    }
  }

  /**
   * One L-BFGS iteration (10 pairs, backtracking Armijo line search from the unit step) on the
   * convex objective of a plain softmax layer; the variables hold the new point afterwards.
   */
  private async quasiNewtonStep(): Promise<{ loss: number; correct: number; converged: boolean }> {
    if (!this.lbfgs) {
      const theta = Float64Array.from([...(await this.variables[0]!.data()), ...(await this.variables[1]!.data())]);
      this.lbfgs = lbfgsStart(theta, await this.evaluateAt(theta));
    }
    const { value, converged } = await lbfgsStep(this.lbfgs, (theta) => this.evaluateAt(theta));
    return { loss: value.loss, correct: value.correct, converged };
  }

  /** How many training rows `logits` classify right. */
  private correctCount(logits: tf.Tensor2D): tf.Scalar {
    return tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), this.labelsTrain), 'int32'));
  }

  private async readStats(lossT: tf.Scalar, correctT: tf.Scalar): Promise<{ loss: number; correct: number }> {
    try {
      return { loss: ((await lossT.data()) as Float32Array)[0] as number, correct: ((await correctT.data()) as Int32Array)[0] as number };
    } finally {
      tf.dispose([lossT, correctT]);
    }
  }

  /** Mean cross-entropy and predictions on the validation data (null without any), in one pass. */
  async validate(): Promise<Judgement | null> {
    const { xVal, yVal } = this;
    if (!xVal || !yVal) return null;
    return judgeInBatches(
      this.validationLabels,
      () => {
        const logits = this.logits(xVal);
        return [tf.sum(this.crossEntropy(logits, yVal)) as tf.Scalar, tf.argMax(logits, 1) as tf.Tensor1D];
      },
      this.validationLabels.length,
    );
  }

  /** Starts from another trainer's current weights (same architecture). */
  copyWeightsFrom(other: Trainer): void {
    this.variables.forEach((v, i) => v.assign(other.variables[i] as tf.Variable));
    this.lbfgs = null;
  }

  /** Starts from a stored head's weights (shared/learn/warm-start.ts), or says why it cannot. */
  async startFrom(initial: HeadDocument): Promise<WarmStartWeights | { refused: string }> {
    if (this.settings.solver !== 'quasi-newton') return { refused: 'a hidden layer or mini-batches train with Adam, from a fresh start' };
    const [kernel, bias] = this.variables as [tf.Variable, tf.Variable];
    const fresh = { kernel: (await kernel.data()) as Float32Array, bias: (await bias.data()) as Float32Array };
    const { backbone, classes } = this.settings;
    const start = warmStartWeights(initial, { backbone: backboneRef(backbone), classes, transform: this.transform, columnScale: this.columnScale, ...fresh });
    if ('refused' in start) return start;
    tf.tidy(() => {
      kernel.assign(tf.tensor2d(start.kernel, [this.dim, classes.length]));
      bias.assign(tf.tensor1d(start.bias));
    });
    this.lbfgs = null;
    return start;
  }

  /** Remembers the current weights (replacing the last snapshot). */
  keepWeights(): void {
    this.snapshot?.take();
  }

  /** Puts the remembered weights back. */
  restoreWeights(): void {
    this.snapshot?.restore();
    this.lbfgs = null;
  }

  /**
   * The model as TF.js artifacts: its Keras topology and its weights. With `standardize`, the first kernel's rows are multiplied by the column
   * scales for the save (and put back after), so the saved head reads the mean-removed input as is.
   */
  async artifacts(): Promise<SavedArtifacts> {
    const scale = this.columnScale;
    if (!scale) return saveModelArtifacts(this.model as Sequential);
    const kernel = this.variables[0] as tf.Variable;
    const trained = tf.clone(kernel);
    try {
      const folded = tf.tidy(() => tf.mul(trained, tf.tensor2d(scale, [scale.length, 1])));
      kernel.assign(folded);
      folded.dispose();
      return await saveModelArtifacts(this.model as Sequential);
    } finally {
      kernel.assign(trained);
      trained.dispose();
    }
  }

  dispose(): void {
    this.snapshot?.dispose();
    this.optimizer?.dispose();
    this.model?.dispose();
    for (const t of this.tensors) t.dispose();
    this.tensors.length = 0;
  }
}

/**
 * The head as a tfjs-layers model, so it serialises to a standard Keras topology. Softmax on the
 * output makes `model.predict` give probabilities; training uses the logits below it.
 */
export function buildModel(inputSize: number, hidden: number, classes: number, random: Random): Sequential {
  const model = sequential({ name: 'tannerin_head' });
  const kernel = () => initializers.glorotUniform({ seed: randomSeed(random) });
  if (hidden > 0) {
    model.add(layers.dense({ name: 'hidden', inputShape: [inputSize], units: hidden, activation: 'relu', kernelInitializer: kernel() }));
  }
  model.add(
    layers.dense({
      name: 'classes',
      units: classes,
      activation: 'softmax',
      kernelInitializer: kernel(),
      ...(hidden > 0 ? {} : { inputShape: [inputSize] }),
    }),
  );
  return model;
}
