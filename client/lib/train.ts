/**
 * Training a personal head in the page: the stored examples (client/lib/examples.ts) go through
 * shared/learn/train-app.ts (`trainAndGuard`, which the evaluation's recipe `app` runs too): the
 * shared trainer (shared/learn/train-head.ts: softmax head, class-balanced, held-out split by photo,
 * early stopping, progress, abort), then the negative-transfer guard (shared/learn/guard.ts) compares
 * the new head on the same held-out photos with kNN (k = 3, cosine) on the same embeddings and
 * with the head it would replace, and the head is saved only after all of that succeeded, in one
 * IndexedDB transaction: an aborted or failed training leaves the stored head exactly as it was.
 * The guard judges the head trained without the held-out photos; the head stored is then trained
 * again on every photo for the epoch count they chose (`refitAll`, +1 to +3 accuracy points at
 * 5-10 photos a class in scripts/eval/main.ts), and the judged twin is kept in the head's state so the
 * next training can still compare against it fairly. A head that crops is that previous head too,
 * but judged as it predicts, on its own crops (shared/learn/crop-previous.ts), not on whole frames:
 * in the crop step (shared/learn/crop-choice.ts), or alone when none runs (e.g. kNN won on whole
 * frames), and kept when a model that does not crop cannot be compared with it fairly.
 *
 * Augmented views still pending (client/lib/pending-views.ts: photos added moments ago, or left by a
 * page closed midway) are finished first, with progress (`onViewsProgress`), and then Train trains
 * on every view. Not on what is there: the views add about 2 accuracy points (Fashion-MNIST, the
 * eval's recipes `app` against `head`), the same photos then give the same head whatever the
 * background had reached (a deterministic split and order), and the wait is short, since the
 * background keeps up with a person adding photos (at most the few newest are pending). Abort
 * stops the wait; the views keep coming in the background. Only a photo whose views could not be
 * stored (storage full) is trained on with the views it has (`examples.pendingViews` counts them).
 * Photos without embeddings on the loaded backbone (taught on another one) are embedded next, from
 * their stored copies, with progress (`onEmbedProgress`, client/lib/reembed.ts); abort stops that
 * too, keeping the photos done so far.
 *
 * Embeddings are read from the backbone's few embedding packs (client/lib/embedding-packs.ts), not
 * from one record per photo: at 1,000 photos that read was about half of Train's time.
 *
 * Test-time augmentation is judged by the guard on the same held-out photos (shared/learn/train-app.ts:
 * kept unless the photo and its stored views averaged get significantly fewer right than the photo
 * alone, exact McNemar p < 0.05);
 * kept, the stored head records it (`testTimeAugmentation`) and every prediction from a photo, here,
 * at the edge and in the CLI, averages over the photo and its views (client/lib/predict.ts).
 *
 * One training at a time in the origin (client/lib/training-lock.ts): a `train()` called while
 * another training runs (here, in another tab, or a correction's retraining) waits for it, then
 * reads the examples as that one left them.
 *
 * What the guard's choice does:
 * - `head`: the new head is stored and predicts;
 * - `knn`: the new head is stored (it is what export and sync carry: kNN's "model" is the
 *   examples, which never leave the device), and this device predicts with kNN;
 * - `previous`: nothing is stored; the previous head stays.
 */
import type { EpochProgress } from '../../shared/learn/train-head.ts';
import type { GuardResult } from '../../shared/learn/guard.ts';
import type { HeadDocument, HeadMetrics } from '../../shared/head/document.ts';
import type { Split } from '../../shared/learn/split.ts';
import type { Backbone } from '../../shared/model/backbone.ts';
import { trainAndGuard, type TestTimeJudgement, type TrainAndGuardOptions, type TrainOutcome } from '../../shared/learn/train-app.ts';
import { currentBackbone, withBackboneLease } from './current-backbone.ts';
import { openTannerinDb, type HeadStateRecord } from './db.ts';
import { trainingSet } from './examples.ts';
import { completePendingViews } from './pending-views.ts';
import { completePendingCrops } from './pending-crops.ts';
import { cropExamples, cropSettingOf } from './example-crops.ts';
import { judgePreviousCropAlone, tryCrops, type CropCandidate, type CropJudgement } from '../../shared/learn/crop-choice.ts';
import { previousCropHead } from './previous-crop.ts';
import { completeDetectorCrops, detectorCropExamples } from './detector-crops.ts';
import { reembedExamples } from './reembed.ts';
import { retrainOnTail, type TailRetraining } from './retrain-tail.ts';
import { retrainOnCrops, type CropRetraining } from './retrain-crop.ts';
import { previousHeadOf } from './retrain-guard.ts';
import { activeHeadId, setActiveHead, storeHead } from './heads.ts';
import { queueHeadPush } from './sync/loop.ts';
import { withTrainingLock } from './training-lock.ts';

/** Options for {@link train}. */
export interface TrainOptions {
  /** The head to retrain (its stored version is the guard's "previous head"). Default: a new head. */
  headId?: string;
  /** Default: the previous head's name, else the class names. */
  name?: string;
  /** Units of a hidden relu layer (default 0: a plain softmax layer). */
  hidden?: number;
  /** Maximum epochs (default 50; early stopping usually ends sooner). */
  epochs?: number;
  /** Seeds the split, the initialisation and the batch order (default 0: same data, same head). */
  seed?: number;
  /** Aborting rejects with an `AbortError` DOMException and stores nothing. */
  signal?: AbortSignal;
  /** After every epoch: loss, accuracy, validation accuracy. */
  onProgress?: (event: EpochProgress) => void;
  /** While augmented views still pending are finished before training: (photos done, photos pending). */
  onViewsProgress?: (done: number, total: number) => void;
  /**
   * While the photos' crops still pending are cut and embedded before training (photos done,
   * photos pending; (0, total) first): every older photo's once after the database upgrade to
   * version 9, or a photo whose box the person moved.
   */
  onCropsProgress?: (done: number, total: number) => void;
  /**
   * While photos without embeddings on the loaded backbone (taught on another backbone) are
   * embedded before training: (photos done, photos to embed); (0, total) first.
   */
  onEmbedProgress?: (done: number, total: number) => void;
  /**
   * While "find the object first" is on (client/lib/detector.ts): the photos still without a
   * detector crop get one before training, (photos done, photos to do); (0, total) first.
   */
  onDetectorProgress?: (done: number, total: number) => void;
  /** Make the head the active one when stored (default true). */
  activate?: boolean;
  /**
   * After the held-out photos chose the epoch count, train the stored head again on every photo
   * (default true; the guard and the metrics still judge the head trained without them).
   */
  refitAll?: boolean;
}

/** What {@link train} did. */
export interface TrainReport {
  headId: string;
  /** The guard's decision, as applied. */
  outcome: TrainOutcome;
  /** Whether a new head document was stored. */
  saved: boolean;
  /** How this device now predicts for this head. */
  predictWith: 'head' | 'knn';
  /** The head document now stored under `headId` (the previous one when it was kept). */
  doc: HeadDocument;
  /** The head this training produced (stored or not). */
  trained: HeadDocument;
  /** The trained head's held-out metrics (pooled over folds with cross-validation). */
  metrics: HeadMetrics;
  /** The negative-transfer guard: every candidate's accuracy with its 95% interval, the choice, why. */
  guard: GuardResult;
  /** Test-time augmentation as the guard judged it (kept: the trained head records it); null when not judged (cross-validation). */
  testTimeAugmentation: TestTimeJudgement | null;
  /**
   * The photos' crops tried against the whole frame on the same held-out photos
   * (shared/learn/crop-choice.ts): kept or not, and why in words. Absent when not tried (a backbone
   * without crops, a photo without its crop, cross-validation, a correction's retraining), unless a
   * stored crop head was judged alone (`notTried`: Train retraining a crop head).
   */
  crop?: CropJudgement;
  split: { method: Split['method']; folds: number; trainPhotos: number; heldOutPhotos: number };
  /** Epoch whose weights were kept (holdout) or epochs of the final head (cross-validation). */
  bestEpoch: number;
  /** Epochs run (all phases). */
  epochsRun: number;
  /**
   * `pendingViews`: photos trained on without all their augmented views (for `train()` normally
   * 0: their views are finished first; only a failed write, e.g. storage full, leaves some; a
   * correction's retraining does not wait for them).
   */
  examples: { photos: number; vectors: number; stale: number; pendingViews: number; classes: string[] };
  /**
   * A correction's retraining starts from the current head's weights (shared/learn/warm-start.ts):
   * the classes that started from it, or why it could not (e.g. a fine-tuned model retrained as a
   * plain head on the frozen embeddings: `fineTuned` says why). Absent for `train()`, which starts fresh.
   */
  warmStart?: { classesKept: number } | { refused: string };
  /**
   * A correction's retraining of a fine-tuned model (client/lib/retrain-tail.ts): whether its head
   * retrained on its tail, the tail kept, or why it retrained as a plain head on the frozen
   * embeddings instead (e.g. kNN beat it on the held-out photos); and how many example views went
   * through the tail now or came from the cache. Absent otherwise.
   */
  fineTuned?: TailRetraining;
  /**
   * A correction's retraining of a crop head (client/lib/retrain-crop.ts): whether it retrained on
   * the photos' crops, the crop kept, or why it retrained as a whole-frame head instead. Absent otherwise.
   */
  cropRetraining?: CropRetraining;
  /** Wall-clock milliseconds from the start of the training (after any wait for another) until the head was stored. */
  ms: number;
}

/**
 * Trains a head on the stored examples (fresh ones: computed by the loaded backbone), guards it,
 * and stores it atomically (see the module comment). Needs at least two classes with examples.
 */
export async function train(options: TrainOptions = {}): Promise<TrainReport> {
  return withTrainingLock(() => trainLeased(options, { warmStart: false, waitForViews: true }), options.signal);
}

/**
 * The retraining after corrections (client/lib/retrain.ts), holding the training lock already:
 * head `headId` (default: the active head when it starts, else a new one) from its current weights,
 * on the examples as stored now; a fine-tuned model's head on its tail, the tail kept
 * (client/lib/retrain-tail.ts). It does not wait for augmented views still pending (the
 * corrected photo's own come in the background and join the next training): the person waits
 * for this one.
 */
export async function retrainHeld(headId: string | undefined): Promise<TrainReport> {
  const active = await activeHeadId();
  const id = headId ?? active ?? undefined;
  return trainLeased({ ...(id === undefined ? {} : { headId: id }), activate: id === undefined || id === active }, { warmStart: true, waitForViews: false });
}

/** How a training runs: from the current head's weights or fresh; after the pending views or not. */
interface TrainMode {
  warmStart: boolean;
  waitForViews: boolean;
}

async function trainLeased(options: TrainOptions, mode: TrainMode): Promise<TrainReport> {
  options.signal?.throwIfAborted();
  // Leased to the end: a switch meanwhile (the app does not block it) disposes it only after, and
  // the training stays on it (its embeddings, the head's backbone).
  const backbone = currentBackbone();
  return withBackboneLease(backbone, () => trainOn(backbone, options, mode));
}

async function trainOn(backbone: Backbone, options: TrainOptions, mode: TrainMode): Promise<TrainReport> {
  const t0 = performance.now();
  const { signal } = options;
  // Pending augmented views first (see the module comment for why not train on what is there).
  let cropsOff: ReadonlySet<string> | undefined;
  if (mode.waitForViews) {
    await completePendingViews({ ...(signal ? { signal } : {}), ...(options.onViewsProgress ? { onProgress: options.onViewsProgress } : {}) });
    // And the photos' crops (issue 17: an example of database version 8 gets its crop here). Its
    // scan of the records also says which crops are off, for cropExamples below (one read).
    cropsOff = (await completePendingCrops({ ...(signal ? { signal } : {}), ...(options.onCropsProgress ? { onProgress: options.onCropsProgress } : {}) })).off;
    signal?.throwIfAborted();
  }
  let set = await trainingSet(backbone.ref);
  if (set.stale) {
    // Photos taught on another backbone: embedded here first (see the module comment).
    const { reembedded } = await reembedExamples(backbone, { ...(signal ? { signal } : {}), ...(options.onEmbedProgress ? { onProgress: options.onEmbedProgress } : {}) });
    // Read again only if that stored anything (a copy that cannot be decoded fails at every Train).
    if (reembedded) set = await trainingSet(backbone.ref);
  }
  // Opted in to the detector: each photo's detector crop, once (client/lib/detector-crops.ts); its
  // scan of the records is what detectorCropExamples reads below (one read).
  const detectorScan = mode.waitForViews
    ? (await completeDetectorCrops(backbone, { ...(signal ? { signal } : {}), ...(options.onDetectorProgress ? { onProgress: options.onDetectorProgress } : {}) })).scan
    : undefined;
  if (set.classes.length < 2) {
    throw new RangeError(
      `training needs examples in at least two classes; ${set.classes.length === 1 ? `only "${set.classes[0]?.name}" has` : 'none has'} any` +
        (set.stale ? ` (${set.stale} examples could not be embedded on this backbone)` : ''),
    );
  }
  const classes = set.classes.map((c) => c.name);
  const db = await openTannerinDb();
  const headId = options.headId ?? crypto.randomUUID();
  const [previous, previousState] = await Promise.all([db.get('heads', headId), db.get('headStates', headId)]);

  const common: TrainAndGuardOptions = {
    backbone: backbone.manifest,
    classes,
    id: headId,
    name: options.name?.trim() || previous?.name || classes.join(' / '),
    ...(options.hidden === undefined ? {} : { hidden: options.hidden }),
    ...(options.epochs === undefined ? {} : { epochs: options.epochs }),
    // trainAndGuard's defaults (seed 0, refitAll) are the app's: written there once.
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.refitAll === undefined ? {} : { refitAll: options.refitAll }),
    ...(signal ? { signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  };
  // A correction of a fine-tuned model retrains its head on its tail (client/lib/retrain-tail.ts);
  // otherwise, or when that gives way (kNN won), a plain head on the frozen embeddings.
  const onTail = mode.warmStart && previous?.backboneTail ? await retrainOnTail(backbone, set.examples, previous, previousState, common) : undefined;
  // A correction of a crop head retrains it on the photos' crops (client/lib/retrain-crop.ts).
  const onCrop = mode.warmStart && previous?.crop && !onTail ? await retrainOnCrops(backbone, set.examples, previous, previousState, common) : undefined;
  const previousHead = previous ? previousHeadOf(previous, previousState) : undefined;
  // A crop head is neither judged nor a start on whole frames (it reads crops): a correction
  // retrains it on its crops (or it gave way), Train judges it on its own crops in the crop step.
  const wholePrevious = previous?.crop ? undefined : previousHead;
  const whole =
    onTail?.trained ??
    onCrop?.trained ??
    (await trainAndGuard(set.examples, {
      ...common,
      ...(wholePrevious ? { previous: wholePrevious } : {}),
      ...(mode.warmStart && wholePrevious ? { initial: wholePrevious.doc } : {}),
    }));
  // Train (not a correction's retraining) tries the photos' crops on the same held-out photos.
  const setting = mode.waitForViews && !onTail ? cropSettingOf(backbone) : undefined;
  const crops = setting ? await cropExamples(backbone, set.examples, cropsOff) : null;
  // And the detector's crops, when the person turned "find the object first" on: judged alike.
  const detected = setting ? await detectorCropExamples(backbone, set.examples, detectorScan) : null;
  const candidates: CropCandidate[] = [...(setting && crops ? [{ setting, cropExamples: crops }] : []), ...(detected ? [detected] : [])];
  const previousCrop = previous?.crop && !onCrop && previousHead ? await previousCropHead(backbone, previousHead, set.examples, cropsOff ?? new Set(), candidates) : undefined;
  const tried = candidates.length ? await tryCrops({ whole, wholeExamples: set.examples, candidates, options: common, ...(previousCrop ? { previous: previousCrop } : {}) }) : null;
  const chosen = tried?.judgement.kept ? tried.crop : whole;
  const { training: result, testTimeAugmentation } = chosen;
  // No crop step ran (cross-validation, kNN won on whole frames, no candidate): Train judges a
  // stored crop head alone, never replaces it unjudged (shared/learn/crop-previous.ts).
  const crop = tried?.judgement ?? (previousCrop && mode.waitForViews ? await judgePreviousCropAlone({ whole, wholeExamples: set.examples, previous: previousCrop, options: common }) : undefined);
  // The previous crop head stays when it was judged not significantly worse, or could not be judged fairly.
  const outcome: TrainOutcome = crop?.previous?.kept ? 'kept-previous' : chosen.outcome;
  const guard: GuardResult = previousCrop
    ? {
        ...chosen.guard,
        reasons: [
          `The previous head predicts crops: ${!crop?.previous ? 'not compared (no crop step ran)' : crop.notTried ? 'judged on its own crops (no crop step ran)' : 'judged on its own crops in the crop step'}, not on whole frames.`,
          ...chosen.guard.reasons,
        ],
      }
    : chosen.guard;

  const refitted = result.heldOutDoc !== undefined;
  const allPhotos = result.split.folds.flatMap((f) => f.validation).concat(result.split.folds[0]?.train ?? []);
  const trainedOn =
    result.split.method === 'holdout' && !refitted ? (result.split.folds[0]?.train ?? []) : [...new Set(result.split.method === 'holdout' ? allPhotos : result.split.folds.flatMap((f) => f.validation))];
  const heldOut = result.split.method === 'holdout' ? (result.split.folds[0]?.validation.length ?? 0) : trainedOn.length;
  const activate = options.activate ?? true;
  let doc: HeadDocument;
  let predictWith: TrainReport['predictWith'];
  if (outcome === 'kept-previous' && previous) {
    doc = previous;
    predictWith = previousState?.predictWith ?? 'head';
    if (activate) await setActiveHead(headId);
  } else {
    predictWith = outcome === 'knn' ? 'knn' : 'head';
    doc = result.doc;
    const state: HeadStateRecord = {
      id: headId,
      predictWith,
      classIds: set.classes.map((c) => c.id),
      trainedOn: [...trainedOn].sort(),
      ...(result.heldOutDoc ? { judged: { doc: result.heldOutDoc, trainedOn: [...(result.split.folds[0]?.train ?? [])].sort() } } : {}),
      training: {
        finished: new Date().toISOString(),
        metrics: result.metrics,
        guard,
        splitMethod: result.split.method,
        ...(crop ? { crop } : {}),
      },
      updated: new Date().toISOString(),
    };
    await storeHead(doc, state, { activate });
    // Sync (when the user turned it on) pushes the new head; its failures show in the sync status
    // and never fail the training.
    void queueHeadPush(headId).catch(() => undefined);
  }

  return {
    headId,
    outcome,
    saved: outcome !== 'kept-previous',
    predictWith,
    doc,
    trained: result.doc,
    metrics: result.metrics,
    guard,
    testTimeAugmentation,
    ...(crop ? { crop } : {}),
    split: {
      method: result.split.method,
      folds: result.split.folds.length,
      trainPhotos: result.split.method === 'holdout' ? (result.split.folds[0]?.train.length ?? 0) : set.photos,
      heldOutPhotos: heldOut,
    },
    bestEpoch: result.bestEpoch,
    epochsRun: result.history.length,
    examples: { photos: set.photos, vectors: set.examples.length, stale: set.stale, pendingViews: set.pendingViews, classes },
    ...(result.warmStart ? { warmStart: result.warmStart } : {}),
    ...(onTail ? { fineTuned: onTail.report } : {}),
    ...(onCrop ? { cropRetraining: onCrop.report } : {}),
    ms: performance.now() - t0,
  };
}
