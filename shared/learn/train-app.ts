/**
 * What the app's Train button computes, without storage: `trainHead` with the app's options
 * (`refitAll` on by default), then the negative-transfer guard (./guard.ts) that compares the head
 * on the held-out photos with kNN (k = 3, cosine) on the same embeddings and with the head it
 * would replace, and the decision that follows from the guard's choice. client/lib/train.ts reads
 * the stored examples, calls {@link trainAndGuard} and stores what it decided; the evaluation's
 * recipe `app` (scripts/eval/recipes.ts) calls the same function on the same kind of examples (each
 * photo plus its 3 augmented views), so the measured path and the app's cannot drift apart.
 *
 * The guard judges the head trained without the held-out photos (`heldOutDoc` with `refitAll`); the
 * returned `training.doc` was trained again on every photo for the epoch count they chose.
 */
import type { Example } from './examples.ts';
import { trainHead, type EpochProgress, type TrainResult } from './train-head.ts';
import type { InputTransformOptions } from '../head/input-transform.ts';
import { compareOnHeldOut, type CandidateResult, type Classifier, type GuardResult } from './guard.ts';
import { fitKnn } from './knn.ts';
import { wilsonInterval } from './metrics.ts';
import { foldExamples, type Split } from './split.ts';
import type { HeadDocument, HeadMetrics } from '../head/document.ts';
import type { BackboneManifest } from '../model/manifest.ts';
import { loadPredictor, type Predictor } from '../predict/predictor.ts';

/** The head a training would replace, as the guard needs it. */
export interface PreviousHead {
  /** The stored head document. */
  doc: HeadDocument;
  /** Photos the stored head trained on (unknown: assumed none). */
  trainedOn?: readonly string[] | null;
  /**
   * When the stored head was refitted on every photo: its twin trained without the held-out photos
   * and what that twin trained on. The guard compares against the twin.
   */
  judged?: { doc: HeadDocument; trainedOn: readonly string[] };
}

/** Options for {@link trainAndGuard}. */
export interface TrainAndGuardOptions {
  /** The backbone that computed the examples' embeddings. */
  backbone: BackboneManifest;
  /** Output classes, in order (the app: its classes in display order). */
  classes: string[];
  /** Head id (default: a new UUID). */
  id?: string;
  /** Head name (default: the class names). */
  name?: string;
  /** Units of a hidden relu layer (default 0: a plain softmax layer). */
  hidden?: number;
  /** Maximum epochs (default: trainHead's). */
  epochs?: number;
  /** Input transform fitting (default: trainHead's: all parts, mean removed, per-part L2, x10). */
  transform?: InputTransformOptions;
  /**
   * Standardise every input dimension on the training vectors (trainHead's `standardize`; the
   * document keeps its format). Default true: measured +1.2 points on Fashion-MNIST (issue 15 pt 1).
   */
  standardize?: boolean;
  /** Seeds the split, the initialisation and the batch order (default 0). */
  seed?: number;
  /** Train the returned head again on every photo after the held-out ones chose the epoch count (default true). */
  refitAll?: boolean;
  /** Aborting rejects with an `AbortError` DOMException. */
  signal?: AbortSignal;
  /** After every epoch: loss, accuracy, validation accuracy. */
  onProgress?: (event: EpochProgress) => void;
  /** The head this training would replace, if any. */
  previous?: PreviousHead;
}

/**
 * What the guard's choice means: `new-head` (the new head predicts), `knn` (the new head is kept for
 * export and sync, and the device predicts with kNN over the examples), `kept-previous` (nothing
 * new is kept; the previous head stays).
 */
export type TrainOutcome = 'new-head' | 'knn' | 'kept-previous';

/** What {@link trainAndGuard} trained and decided. */
export interface TrainAndGuardResult {
  /** trainHead's result: `doc` is the head to keep, `heldOutDoc` its judged twin (with `refitAll`). */
  training: TrainResult;
  /** Every candidate's held-out accuracy with its 95% interval, the choice and why. */
  guard: GuardResult;
  /** The decision that follows from the guard's choice. */
  outcome: TrainOutcome;
}

/**
 * Trains a head on the examples with the app's options and guards it (see the module comment).
 * Rejects with an `AbortError` DOMException when `signal` aborts, checked last after the guard, so
 * a caller that stores the result after this resolves has nothing left to undo.
 */
export async function trainAndGuard(examples: readonly Example[], options: TrainAndGuardOptions): Promise<TrainAndGuardResult> {
  const { signal, backbone, classes, previous } = options;
  const training = await trainHead(examples, {
    backbone,
    classes,
    ...(options.id === undefined ? {} : { id: options.id }),
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(options.hidden === undefined ? {} : { hidden: options.hidden }),
    ...(options.epochs === undefined ? {} : { epochs: options.epochs }),
    ...(options.transform === undefined ? {} : { transform: options.transform }),
    standardize: options.standardize ?? true,
    seed: options.seed ?? 0,
    // The returned head trains on every photo once the held-out ones chose the epoch count
    // (measured: +1 to +3 points at 5-10 photos a class, scripts/eval/main.ts); the guard below
    // judges the head trained without the held-out photos (`heldOutDoc`).
    refitAll: options.refitAll ?? true,
    ...(signal ? { signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  signal?.throwIfAborted();

  const guard =
    training.split.method === 'holdout'
      ? await holdoutGuard(examples, training.split, training.heldOutDoc ?? training.doc, classes, backbone, previous)
      : crossValidatedGuard(examples, training.split, training.metrics, classes, backbone, previous);
  // The last point where an abort still changes nothing.
  signal?.throwIfAborted();
  const outcome: TrainOutcome = guard.choice === 'previous' && previous ? 'kept-previous' : guard.choice === 'knn' ? 'knn' : 'new-head';
  return { training, guard, outcome };
}

/**
 * The guard on the held-out photos of a holdout split. kNN remembers the training photos' views
 * (what the head trained on). The previous head competes only when it runs on this backbone and
 * never trained on a held-out photo: evaluated on photos it has seen, it would look better than it
 * is and block every retraining.
 */
async function holdoutGuard(
  examples: readonly Example[],
  split: Split,
  doc: HeadDocument,
  classes: string[],
  backbone: BackboneManifest,
  previous: PreviousHead | undefined,
): Promise<GuardResult> {
  const fold = split.folds[0];
  if (!fold) throw new Error('holdout split without a fold');
  const { train, validation } = foldExamples(examples, fold);
  const notes: string[] = [];
  const heads: Predictor[] = [];
  const asClassifier = (p: Predictor): Classifier => ({ predict: (embedding) => p.predictFrozen({ embedding }) });
  try {
    const head = await loadPredictor(doc, { manifest: backbone });
    heads.push(head);
    const knn = fitKnn(train, backbone, { k: 3, classes });
    let previousHead: Classifier | undefined;
    if (previous) {
      // A head refitted on every photo is judged through its twin trained without the held-out ones.
      const judged = previous.judged;
      const previousDoc = judged?.doc ?? previous.doc;
      const held = new Set(fold.validation);
      const seen = (judged?.trainedOn ?? previous.trainedOn ?? []).filter((p) => held.has(p)).length;
      if (previous.doc.backbone !== doc.backbone) {
        notes.push(`The previous head runs on backbone ${previous.doc.backbone}, not ${doc.backbone}: not compared.`);
      } else if (previousDoc.backboneTail !== undefined) {
        notes.push('The previous model is fine-tuned (it reads its own top block, not the stored embeddings): not compared.');
      } else if (seen > 0) {
        notes.push(`The previous head trained on ${seen} of the ${held.size} held-out photos, so it cannot be compared fairly: not compared.`);
      } else {
        const p = await loadPredictor(previousDoc, { manifest: backbone });
        heads.push(p);
        previousHead = asClassifier(p);
      }
    }
    const result = await compareOnHeldOut({ heldOut: validation, head: asClassifier(head), knn, ...(previousHead ? { previousHead } : {}) });
    return { ...result, reasons: [...notes, ...result.reasons] };
  } finally {
    for (const h of heads) h.dispose();
  }
}

/**
 * With cross-validation (few photos) there is no single held-out split, and the final head trained
 * on every photo. The numbers are still honest: the head's are its pooled cross-validation
 * results, kNN's come from each fold's kNN on that fold's held-out photos. Without paired
 * predictions there is no significance test, and with this few photos none could pass: the new
 * head is used.
 */
function crossValidatedGuard(
  examples: readonly Example[],
  split: Split,
  metrics: HeadMetrics,
  classes: string[],
  backbone: BackboneManifest,
  previous: PreviousHead | undefined,
): GuardResult {
  let knnCorrect = 0;
  let n = 0;
  for (const fold of split.folds) {
    const { train, validation } = foldExamples(examples, fold);
    if (!validation.length || !train.length) continue;
    const knn = fitKnn(train, backbone, { k: 3, classes });
    for (const e of validation) {
      n++;
      if (knn.predict(e.embedding, 1)[0]?.label === e.label) knnCorrect++;
    }
  }
  const headCorrect = Math.round(metrics.accuracy * metrics.n);
  const candidate = (name: CandidateResult['name'], correct: number, total: number): CandidateResult => ({
    name,
    correct,
    n: total,
    accuracy: total ? correct / total : 0,
    interval: wilsonInterval(correct, total),
    unknownLabels: [],
  });
  const candidates = [candidate('head', headCorrect, metrics.n), candidate('knn', knnCorrect, n)];
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  return {
    candidates,
    comparisons: [],
    choice: 'head',
    reasons: [
      `Too few photos for a held-out split: ${split.folds.length}-fold cross-validation.`,
      ...candidates.map((c) => `${c.name}: ${c.correct}/${c.n} right (${pct(c.accuracy)}, 95% CI ${pct(c.interval.low)}-${pct(c.interval.high)}).`),
      ...(previous ? ['The previous head trained on these photos: not compared.'] : []),
      'No paired significance test with cross-validation: using the new head.',
    ],
  };
}
