/**
 * Fine-tuning the backbone's top block(s) together with the head.
 *
 * The backbone is split at a CUT layer (shared/model/backbone-split.ts): the frozen part (input
 * to the cut) runs once per photo and its output, the cut activation, is cached with the photo's
 * ordinary embedding ({@link BackboneSplit.forward}); training then only runs the TAIL (the layers
 * after the cut that lead to embedding parts, e.g. MobileNetV2's `block_16_*` and `Conv_1`) and
 * the head, many times.
 * The tail is a personal copy: a separate TF.js layers model built from the backbone's own layer
 * configs and weights, so the shared frozen backbone never changes.
 *
 * A fine-tuned personal model is then a head document with a `backboneTail` section (the cut, the
 * tail's topology and weights; format in shared/head/document.ts). `loadPredictor` (shared/predict/predictor.ts)
 * predicts with it: frozen part to the cut, the personal tail from there, the embedding parts the
 * tail produces replaced by its outputs, the head's input transform and the head as usual.
 *
 * Training choices, and why (figures: few-shot emoji and Fashion-MNIST, dev seeds, see
 * scripts/eval/main.ts):
 * - Warm start: the head is first trained on the frozen embeddings (`trainHead`); a random head
 *   would send large, meaningless gradients into pretrained layers.
 * - Batch norm in inference mode (moving statistics kept: batches of 8 give useless statistics;
 *   gamma and beta still train). Adam 3e-4 on tail and head, 10 epochs, batch 8.
 * - A FIXED schedule, measured on held-out photos and then refitted on all photos, rather than
 *   early stopping on the held-out photos: at 5-10 photos a class the held-out set is 10-20
 *   photos, its accuracy jumps by 5-10 points between epochs, and choosing the epoch on it (with
 *   the held-out photos left out of the model) lost 1-7 points against the fixed schedule on all
 *   photos, which beat the plain head by 3-6 points. Early stopping stays available (`patience`).
 * - The held-out measurement also scores the warm-start head on the same photos (`baseline`), so
 *   the caller (the guard) can compare and keep the plain head.
 *
 * Needs TF.js gradients for convolutions: on the WASM backend call `registerWasmGradientKernels()`
 * (shared/model/wasm-grad-kernels.ts) first. Every tensor is disposed; `numTensors` is flat across calls.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { bytesToBase64 } from '../util/base64.ts';
import { classList, type Example } from './examples.ts';
import {
  headArtifacts,
  makeHeadDocument,
  type BackboneTail,
  type HeadDocument,
  type HeadMetrics,
  type SavedArtifacts,
} from '../head/document.ts';
import type { BackboneSplit } from '../model/backbone-split.ts';
import { embeddingPart, type BackboneManifest, type InputTransform } from '../model/manifest.ts';
import { computeMetrics } from './metrics.ts';
import { mulberry32, shuffle } from '../util/random.ts';
import { foldExamples, splitByPhoto, type Split } from './split.ts';
import {
  classIndices,
  judgeInBatches,
  layerVariables,
  oneHot,
  requirePositiveInteger,
  saveModelArtifacts,
  throwIfAborted,
  WeightSnapshot,
  type Judgement,
} from './kit.ts';
import { classBalancedWeights, trainHead, type TrainOptions } from './train-head.ts';
import { Yielder } from '../util/yield.ts';
import { HEAD_LIMITS } from '../limits.ts';

/** A training example for {@link fineTune}: an example plus its cut activation. */
export interface FineTuneExample extends Example {
  cut: Float32Array;
}

export interface FineTuneOptions {
  backbone: BackboneManifest;
  /** Output classes, in order. Default: the examples' labels, sorted. */
  classes?: string[];
  /** Options of the warm-start head training (`trainHead`), e.g. `hidden`, `transform`. */
  head?: Omit<TrainOptions, 'backbone' | 'classes' | 'seed' | 'signal'>;
  /** Fine-tuning epochs (the fixed schedule; with `patience`, the most). Default 10. */
  epochs?: number;
  /**
   * Early stopping on the held-out photos: stop once they have not improved (accuracy, then
   * loss) for this many epochs, and keep the best epoch, epoch 0 (the warm-start head) included.
   * Default: none, the whole fixed schedule runs (see the module comment for why).
   */
  patience?: number;
  /** Default 8. */
  batchSize?: number;
  /** Adam step size for the tail. Default 3e-4. */
  learningRate?: number;
  /** Adam step size for the head. Default 3e-4. */
  headLearningRate?: number;
  /** L2 penalty on the head's kernels, as in trainHead. Default 0.001. */
  l2?: number;
  /** Seeds the split, the warm-start head and the batch order. Default 0. */
  seed?: number;
  /** Share of each class's photos held out. Default 0.2 (at least one photo a class). */
  validationFraction?: number;
  /**
   * `holdout` (default): measure on held-out photos (needs 2 photos in every class; otherwise as
   * `none`). `none`: no measurement; every photo trains for exactly `epochs` epochs and `metrics`
   * is the warm-start head's own estimate.
   */
  validation?: 'holdout' | 'none';
  /**
   * After measuring, train again on ALL photos for the chosen number of epochs and return that
   * model (its metrics are then the held-out estimate). Default true: at a few photos a class,
   * holding one out of the final model costs more than the estimate's optimism.
   */
  refit?: boolean;
  /** Aborting rejects with an `AbortError` DOMException (checked between steps). */
  signal?: AbortSignal;
  onEpoch?: (event: FineTuneEpoch) => void;
  /** Default `HEAD_LIMITS.maxDocumentBytes` (the limit of storage and sync); the result's JSON must fit. */
  maxDocumentBytes?: number;
}

export interface FineTuneEpoch {
  /** `measure`: training photos only, judged on the held-out ones. `final`: the returned model's training. */
  phase: 'measure' | 'final';
  /** 0 = the warm-start head before any fine-tuning step. */
  epoch: number;
  epochs: number;
  /** Mean training objective over the epoch's batches (null for epoch 0). */
  loss: number | null;
  /** Accuracy on the held-out photos; null without held-out photos (and in the final phase). */
  valAccuracy: number | null;
  valLoss: number | null;
  /** Wall time of the epoch's steps. */
  ms: number;
}

export interface FineTuneResult {
  /** The fine-tuned model (with `backboneTail`), or the warm-start head when epoch 0 was chosen. */
  doc: HeadDocument;
  /** Held-out metrics of the chosen epoch (measured before any refit), or the warm head's estimate. */
  metrics: HeadMetrics;
  /** Held-out metrics of the warm-start head (epoch 0) on the same photos (= `metrics` without held-out photos). */
  baseline: HeadMetrics;
  /** Every epoch of every phase, in order. */
  history: FineTuneEpoch[];
  /** The number of fine-tuning epochs of the returned model (0: `doc` is the plain head). */
  bestEpoch: number;
  /** Whether the returned model carries fine-tuned layers (bestEpoch > 0). */
  improved: boolean;
  /** How photos were held out (`validation: 'none'` reports its would-be split unused). */
  split: Split;
  /** Whether held-out photos measured the result. */
  measured: boolean;
  /** JSON size of `doc`, in bytes. */
  documentBytes: number;
}

function tooLarge(bytes: number, maxBytes: number): RangeError {
  return new RangeError(`the fine-tuned model's document would be ${(bytes / 1e6).toFixed(1)} MB, over the ${(maxBytes / 1e6).toFixed(1)} MB limit: unfreeze fewer layers`);
}

/**
 * The differentiable model: tail (personal copy) -> embedding parts (frozen parts from the cache)
 * -> the head's input transform, in tensors -> head. Owns its tensors; `dispose()` frees them.
 */
class TrainableModel {
  readonly variables: tf.Variable[];
  readonly tailVariables: tf.Variable[];
  readonly headVariables: tf.Variable[];
  private readonly headKernels: tf.Variable[];
  private readonly means = new Map<string, tf.Tensor1D>();

  constructor(
    readonly tail: tfl.LayersModel,
    readonly head: tfl.LayersModel,
    private readonly manifest: BackboneManifest,
    private readonly tailParts: readonly string[],
    private readonly transform: InputTransform,
  ) {
    this.tailVariables = layerVariables(tail.trainableWeights);
    this.headVariables = layerVariables(head.trainableWeights);
    this.headKernels = layerVariables(head.trainableWeights.filter((w) => w.originalName.endsWith('/kernel')));
    this.variables = [...this.tailVariables, ...this.headVariables];
    if (transform.mean) {
      let o = 0;
      for (const name of transform.parts) {
        const size = embeddingPart(manifest, name).size;
        this.means.set(name, tf.tensor1d(transform.mean.slice(o, o + size)));
        o += size;
      }
    }
  }

  /**
   * Class probabilities for a batch: `cut` [B, ...cutShape], `frozen` [B, embedding size] (the
   * cached embeddings; only their frozen parts are read). Mirrors the predictor's transformInput.
   */
  probabilities(cut: tf.Tensor, frozen: tf.Tensor2D): tf.Tensor2D {
    const out = this.tail.apply(cut, { training: false }) as tf.Tensor | tf.Tensor[];
    const tailOut = Array.isArray(out) ? out : [out];
    const pieces = this.transform.parts.map((name) => {
      const part = embeddingPart(this.manifest, name);
      const k = this.tailParts.indexOf(name);
      let v = (k >= 0 ? tf.reshape(tailOut[k] as tf.Tensor, [-1, part.size]) : tf.slice(frozen, [0, part.offset], [-1, part.size])) as tf.Tensor2D;
      const mean = this.means.get(name);
      if (mean) v = tf.sub(v, mean);
      if (this.transform.normalize === 'l2') {
        // max(.., tiny) keeps the gradient finite; a zero vector stays zero either way, as in transformInput.
        const norm = tf.sqrt(tf.maximum(tf.sum(tf.square(v), 1, true), 1e-30));
        return tf.mul(v, tf.div(this.transform.scale, norm)) as tf.Tensor2D;
      }
      return tf.mul(v, this.transform.scale) as tf.Tensor2D;
    });
    const x = pieces.length === 1 ? (pieces[0] as tf.Tensor2D) : tf.concat(pieces, 1);
    return this.head.apply(x) as tf.Tensor2D;
  }

  /** Per-example cross-entropy from probabilities. */
  static crossEntropy(p: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor1D {
    return tf.neg(tf.sum(tf.mul(y, tf.log(tf.clipByValue(p, 1e-7, 1))), 1)) as tf.Tensor1D;
  }

  l2(weight: number): tf.Scalar {
    if (weight === 0 || this.headKernels.length === 0) return tf.scalar(0);
    return tf.mul(weight, tf.addN(this.headKernels.map((k) => tf.sum(tf.square(k))))) as tf.Scalar;
  }

  dispose(): void {
    for (const m of this.means.values()) m.dispose();
    this.tail.dispose();
    this.head.dispose();
  }
}

/** Rows of the given examples' cut activations and embeddings, as flat arrays. */
function stackRows(examples: readonly FineTuneExample[], rows: readonly number[], cutSize: number, embeddingSize: number): { cut: Float32Array; frozen: Float32Array } {
  const cut = new Float32Array(rows.length * cutSize);
  const frozen = new Float32Array(rows.length * embeddingSize);
  rows.forEach((r, i) => {
    const e = examples[r] as FineTuneExample;
    if (e.cut.length !== cutSize) throw new RangeError(`example ${e.photoId}: cut activation has ${e.cut.length} floats, expected ${cutSize}`);
    cut.set(e.cut, i * cutSize);
    frozen.set(e.embedding, i * embeddingSize);
  });
  return { cut, frozen };
}

/** One training run's outcome. */
interface Run {
  /** Chosen epoch (0: the warm head) and its held-out judgement (null without held-out photos). */
  epoch: number;
  judgement: Judgement | null;
  /** Epoch 0's judgement. */
  baseline: Judgement | null;
  /** Artifacts of the chosen epoch's tail and head; null when epoch 0 was chosen. */
  tail: SavedArtifacts | null;
  head: SavedArtifacts | null;
  /** The warm-start head of this run. */
  warm: HeadDocument;
  warmMetrics: HeadMetrics;
}

interface RunSettings {
  split: BackboneSplit;
  /** The tail's topology and the backbone's weights (`split.initialTail()`), which every run starts from. */
  initial: SavedArtifacts;
  classes: string[];
  options: FineTuneOptions;
  seed: number;
  batchSize: number;
  l2: number;
  maxBytes: number;
  report: (event: FineTuneEpoch) => void;
}

/**
 * Warm-starts a head on `train`, then fine-tunes tail + head for up to `epochs` epochs, judging
 * `validation` after each (if any). Chooses the last epoch, or with `patience` the best one.
 * Everything it creates is disposed before it returns.
 */
async function trainRun(
  train: readonly FineTuneExample[],
  validation: readonly FineTuneExample[],
  epochs: number,
  patience: number,
  phase: FineTuneEpoch['phase'],
  s: RunSettings,
): Promise<Run> {
  const { split, classes, options, initial } = s;
  const { backbone, signal } = options;
  const warm = await trainHead(train, { ...options.head, backbone, classes, seed: s.seed, ...(signal ? { signal } : {}) });
  const trainLabels = classIndices(train, classes);
  const valLabels = classIndices(validation, classes);
  const weights = classBalancedWeights(train);
  const random = mulberry32(s.seed ^ 0xf17e);

  // Refuse before training what could never be stored: the tail's weights as base64 plus the head's document.
  const estimate = Math.ceil(initial.weightData.length / 3) * 4 + JSON.stringify(initial.modelTopology).length + JSON.stringify(warm.doc).length;
  if (estimate > s.maxBytes) throw tooLarge(estimate, s.maxBytes);
  const tailModel = await tfl.loadLayersModel(tf.io.fromMemory({ ...initial, weightData: initial.weightData.slice().buffer }));
  let headModel: tfl.LayersModel;
  try {
    headModel = await tfl.loadLayersModel(tf.io.fromMemory(headArtifacts(warm.doc)));
  } catch (error) {
    tailModel.dispose();
    throw error;
  }
  const model = new TrainableModel(tailModel, headModel, backbone, split.tailParts, warm.doc.input);
  const tailOptimizer = tf.train.adam(options.learningRate ?? 3e-4);
  const headOptimizer = tf.train.adam(options.headLearningRate ?? 3e-4);
  const snapshot = new WeightSnapshot(model.variables);
  const cutSize = split.cutSize;
  const embeddingSize = backbone.embedding.size;

  /** Held-out accuracy, mean loss and predictions of the current weights. */
  const judge = async (): Promise<Judgement | null> => {
    if (!validation.length) return null;
    return judgeInBatches(valLabels, (rows) => {
      const { cut, frozen } = stackRows(validation, rows, cutSize, embeddingSize);
      const p = model.probabilities(tf.tensor(cut, [rows.length, ...split.cutShape]), tf.tensor2d(frozen, [rows.length, embeddingSize]));
      const y = oneHot(rows.map((r) => valLabels[r] as number), classes.length);
      return [tf.sum(TrainableModel.crossEntropy(p, y)) as tf.Scalar, tf.argMax(p, 1) as tf.Tensor1D];
    });
  };

  try {
    let t0 = performance.now();
    const baseline = await judge();
    let best = { epoch: 0, judgement: baseline };
    let last = { epoch: 0, judgement: baseline };
    const report = (epoch: number, loss: number | null, j: Judgement | null): void => {
      s.report({ phase, epoch, epochs, loss, valAccuracy: j ? j.correct / validation.length : null, valLoss: j ? j.loss : null, ms: performance.now() - t0 });
    };
    report(0, null, baseline);
    let stale = 0;
    const clock = new Yielder();
    for (let epoch = 1; epoch <= epochs; epoch++) {
      t0 = performance.now();
      const order = shuffle(
        Array.from({ length: train.length }, (_, i) => i),
        random,
      );
      let lossSum = 0;
      let batches = 0;
      for (let start = 0; start < order.length; start += s.batchSize) {
        throwIfAborted(signal);
        const rows = order.slice(start, start + s.batchSize);
        const { cut, frozen } = stackRows(train, rows, cutSize, embeddingSize);
        const lossT = tf.tidy(() => {
          const x = tf.tensor(cut, [rows.length, ...split.cutShape]);
          const f = tf.tensor2d(frozen, [rows.length, embeddingSize]);
          const y = oneHot(rows.map((r) => trainLabels[r] as number), classes.length);
          const w = tf.tensor1d(rows.map((r) => weights[r] as number));
          const { value, grads } = tf.variableGrads(() => {
            const ce = TrainableModel.crossEntropy(model.probabilities(x, f), y);
            return tf.add(tf.div(tf.sum(tf.mul(ce, w)), tf.sum(w)), model.l2(s.l2)) as tf.Scalar;
          }, model.variables);
          const pick = (vars: tf.Variable[]): { name: string; tensor: tf.Tensor }[] => vars.map((v) => ({ name: v.name, tensor: grads[v.name] as tf.Tensor }));
          tailOptimizer.applyGradients(pick(model.tailVariables));
          headOptimizer.applyGradients(pick(model.headVariables));
          return value;
        });
        lossSum += ((await lossT.data()) as Float32Array)[0] as number;
        lossT.dispose();
        batches++;
        // Let abort events and other work in (a step takes ~0.2 s on WASM: a turn after nearly every step).
        await clock.maybeYield();
      }
      const judgement = await judge();
      report(epoch, lossSum / batches, judgement);
      last = { epoch, judgement };
      if (!Number.isFinite(patience) || !judgement) continue;
      const b = best.judgement as Judgement;
      if (judgement.correct > b.correct || (judgement.correct === b.correct && judgement.loss < b.loss)) {
        best = { epoch, judgement };
        snapshot.take();
        stale = 0;
      } else if (++stale >= patience) break;
    }
    throwIfAborted(signal);
    const chosen = Number.isFinite(patience) && validation.length ? best : last;
    if (chosen !== last && chosen.epoch > 0) snapshot.restore();
    const saved = chosen.epoch > 0 ? { tail: await saveModelArtifacts(model.tail), head: await saveModelArtifacts(model.head) } : { tail: null, head: null };
    return { epoch: chosen.epoch, judgement: chosen.judgement, baseline, ...saved, warm: warm.doc, warmMetrics: warm.metrics };
  } finally {
    snapshot.dispose();
    tailOptimizer.dispose();
    headOptimizer.dispose();
    model.dispose();
  }
}

/**
 * Fine-tunes the tail of `split`'s backbone together with a head (module comment). Examples carry
 * their cut activation and ordinary embedding (`split.forward`), and may include augmented views
 * (trained on, never judged).
 *
 * With `validation: 'holdout'` and at least 2 photos in every class, photos are split once
 * (stratified, seeded); a run on the training photos is judged on the held-out ones after every
 * epoch, giving `metrics` (the chosen epoch) and `baseline` (epoch 0, the warm-start head alone,
 * for the guard's comparison); then, with `refit`, the returned model is trained again on all
 * photos for the chosen number of epochs. Otherwise all photos train for `epochs` epochs unmeasured.
 * Throws if the result's document would exceed `maxDocumentBytes` (checked before training too).
 */
export async function fineTune(split: BackboneSplit, examples: readonly FineTuneExample[], options: FineTuneOptions): Promise<FineTuneResult> {
  const { backbone, signal } = options;
  const seed = options.seed ?? 0;
  const epochs = options.epochs ?? 10;
  const patience = options.patience ?? Infinity;
  const batchSize = options.batchSize ?? 8;
  requirePositiveInteger('epochs', epochs);
  requirePositiveInteger('batchSize', batchSize);
  if (!(patience >= 1)) throw new RangeError(`patience must be at least 1, got ${patience}`);
  if (split.manifest.id !== backbone.id || split.manifest.version !== backbone.version) throw new Error('the split is of another backbone');
  throwIfAborted(signal);
  const classes = options.classes ?? classList(examples);
  const history: FineTuneEpoch[] = [];
  const settings: RunSettings = {
    split,
    initial: await split.initialTail(),
    classes,
    options,
    seed,
    batchSize,
    l2: options.l2 ?? 0.001,
    maxBytes: options.maxDocumentBytes ?? HEAD_LIMITS.maxDocumentBytes,
    report: (event) => {
      history.push(event);
      options.onEpoch?.(event);
    },
  };

  const photoSplit = splitByPhoto(examples, {
    seed,
    minPhotosForHoldout: 2,
    ...(options.validationFraction === undefined ? {} : { validationFraction: options.validationFraction }),
  });
  const measured = photoSplit.method === 'holdout' && options.validation !== 'none';
  let result: Run;
  let metrics: HeadMetrics;
  let baseline: HeadMetrics;
  if (measured) {
    // foldExamples only filters, so the items stay FineTuneExamples.
    const { train, validation } = foldExamples(examples, photoSplit.folds[0] as Split['folds'][number]) as { train: FineTuneExample[]; validation: FineTuneExample[] };
    const measure = await trainRun(train, validation, epochs, patience, 'measure', settings);
    const metricsOf = (j: Judgement): HeadMetrics =>
      computeMetrics(
        classes,
        validation.map((e) => e.label),
        Array.from(j.predictions, (i) => classes[i] as string),
      );
    metrics = metricsOf(measure.judgement as Judgement);
    baseline = metricsOf(measure.baseline as Judgement);
    // Refit for the chosen epoch count; 0 epochs (the warm head won) gives the plain head on all photos.
    result = options.refit === false ? measure : await trainRun(examples, [], measure.epoch, Infinity, 'final', settings);
  } else {
    result = await trainRun(examples, [], epochs, Infinity, 'final', settings);
    metrics = result.warmMetrics;
    baseline = result.warmMetrics;
  }

  let doc: HeadDocument;
  if (result.epoch === 0 || !result.tail || !result.head) {
    doc = { ...result.warm, metrics };
  } else {
    const backboneTail: BackboneTail = {
      cut: split.cut,
      cutShape: split.cutShape.slice(),
      parts: split.tailParts.slice(),
      modelTopology: result.tail.modelTopology,
      weightSpecs: result.tail.weightSpecs,
      weightData: bytesToBase64(result.tail.weightData),
    };
    const { modelTopology: _t, weightSpecs: _s, weightData: _d, format: _f, formatVersion: _v, ...meta } = result.warm;
    doc = makeHeadDocument({ ...meta, metrics, backboneTail }, result.head);
  }
  const documentBytes = new TextEncoder().encode(JSON.stringify(doc)).length;
  if (documentBytes > settings.maxBytes) throw tooLarge(documentBytes, settings.maxBytes);
  return { doc, metrics, baseline, history, bestEpoch: result.epoch, improved: result.epoch > 0, split: photoSplit, measured, documentBytes };
}
