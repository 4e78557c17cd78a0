/**
 * What the app's Train button computes, without storage: a head trained by shrinkage LDA
 * (./train-lda.ts; `trainHead`'s softmax solver above LDA's size, with a hidden layer, or from a
 * warm start: the `classifier` option) with the app's options (`refitAll` on by default), then
 * the negative-transfer guard (./guard.ts) that compares the head on the held-out photos with kNN
 * (k = 3, cosine) on the same embeddings and with the head it would replace, and the decision that follows from the guard's choice. client/lib/train.ts reads
 * the stored examples, calls {@link trainAndGuard} and stores what it decided; the evaluation's
 * recipe `app` (scripts/eval/recipes.ts) calls the same function on the same kind of examples (each
 * photo plus its 3 augmented views), so the measured path and the app's cannot drift apart.
 *
 * The guard judges the head trained without the held-out photos (`heldOutDoc` with `refitAll`); the
 * returned `training.doc` was trained again on every photo (the softmax solver: for the epoch count
 * they chose; LDA: its temperature chosen on them).
 *
 * Test-time augmentation (shared/head/tta.ts) is judged first, on the same held-out photos and the
 * same head: its predictions from each photo alone against the mean of its probabilities over the
 * photo and the augmented views stored for it. The rule, the guard's own: TTA is the incumbent and
 * is kept unless it is significantly worse (fewer held-out photos right, exact McNemar p < 0.05 on
 * the photos where the two disagree). TTA is the default because the eval measured it on average
 * (+3.4 points on emoji, +0.5 on Fashion-MNIST, paired over seeds 0-4: `app-t3` against `app`),
 * and because the stricter rule "at least as many right" switched it off on 7 of 20 trainings
 * (emoji and Fashion-MNIST, seeds 0-9) on differences of 1 to 4 of 20 held-out photos, where it
 * helped on the test photos every time (issue 15 pt 1 report). Then the head, as it will predict
 * (with TTA when kept), competes with kNN and the previous head. Kept, the saved head and its judged twin record `testTimeAugmentation: { views, seed }`
 * (views: as many as the held-out photos have, 3 in the app; seed: the training's). With
 * cross-validation (under 5 photos in some class) there is no held-out head to judge it on, and it
 * stays off. kNN (the guard's other choice) predicts without it.
 */
import { classCounts, type Example } from './examples.ts';
import { trainHead, type EpochProgress, type TrainResult } from './train-head.ts';
import { LDA_MIN_PHOTOS, ldaFits, trainLdaHead } from './train-lda.ts';
import type { InputTransformOptions } from '../head/input-transform.ts';
import { compareOnHeldOut, SIGNIFICANCE, type CandidateResult, type Classifier, type GuardResult } from './guard.ts';
import { fitKnn } from './knn.ts';
import { mcnemarExact, wilsonInterval } from './metrics.ts';
import { foldExamples, type Split } from './split.ts';
import type { HeadDocument, HeadMetrics } from '../head/document.ts';
import type { BackboneManifest } from '../model/manifest.ts';
import { loadPredictor, rankPredictions, type Predictor } from '../predict/predictor.ts';
import { MAX_TEST_TIME_VIEWS, meanProbabilities, type TestTimeAugmentation } from '../head/tta.ts';
import type { Prediction } from '../api/types.ts';

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
  /** L2 penalty on the kernel (default: trainHead's). */
  l2?: number;
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
  /**
   * Start from this head's weights (trainHead's `initial`, shared/learn/warm-start.ts): a
   * correction retrains the current head in a few iterations. The guard judges the result as any
   * other; `training.warmStart` says whether the start was used.
   */
  initial?: HeadDocument;
  /**
   * Let the guard judge test-time augmentation on the held-out photos' stored views and record it
   * unless it is significantly worse (module comment). Default true; false never records it.
   */
  testTimeAugmentation?: boolean;
  /**
   * The head's classifier: `lda` (shrinkage LDA, ./train-lda.ts: a closed-form dense head in the
   * same standardised space and document format) or `softmax` (trainHead's L-BFGS solver). `lda`
   * applies to a plain head (no `hidden` layer) whose fit stays within ./train-lda.ts
   * `LDA_MAX_WORK` (MobileNetV2: ~145 photos with their views; InceptionV3: ~295) and whose every
   * class has `LDA_MIN_PHOTOS` photos (3), and not to a
   * warm start (`initial`: a correction retrains the current head's weights with the softmax
   * solver in a few iterations, as before); otherwise the softmax solver trains. `lda` ignores
   * `epochs`, `l2` and `transform`. Default `lda`: measured (issue 15 pt 1, `app` at k = 10,
   * seeds 0-4, paired with the softmax head) on MobileNetV2 emoji +2.8 points [+0.4, +5.2] and
   * Fashion-MNIST +1.0 [-0.8, +2.8]; on InceptionV3 emoji -2.0 [-5.2, +1.2] and Fashion-MNIST
   * +1.2 [+0.9, +1.5].
   */
  classifier?: 'softmax' | 'lda';
}

/** How test-time augmentation did on the held-out photos, and whether the head records it. */
export interface TestTimeJudgement {
  /** Whether the saved head records `testTimeAugmentation`. */
  kept: boolean;
  /** What it records when kept. */
  setting: TestTimeAugmentation;
  /** Held-out photos (original views) judged, and how many of them had augmented views stored. */
  n: number;
  withViews: number;
  /** Held-out photos right with the views averaged, and from the photo alone. */
  correct: number;
  correctWithout: number;
  /** Exact McNemar two-sided p-value of the two on the held-out photos. */
  p: number;
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
  /** Test-time augmentation as judged on the held-out photos; null when it was not judged (cross-validation, or turned off). */
  testTimeAugmentation: TestTimeJudgement | null;
  /** Which classifier trained the head (`lda` only where it applies: see the `classifier` option). */
  classifier: 'softmax' | 'lda';
}

/**
 * Trains a head on the examples with the app's options and guards it (see the module comment).
 * Rejects with an `AbortError` DOMException when `signal` aborts, checked last after the guard, so
 * a caller that stores the result after this resolves has nothing left to undo.
 */
export async function trainAndGuard(examples: readonly Example[], options: TrainAndGuardOptions): Promise<TrainAndGuardResult> {
  const { signal, backbone, classes, previous } = options;
  const lda =
    (options.classifier ?? 'lda') === 'lda' &&
    (options.hidden ?? 0) === 0 &&
    !options.initial &&
    ldaFits(examples.length, backbone.embedding.size) &&
    Math.min(...classCounts(examples).values()) >= LDA_MIN_PHOTOS;
  const training = lda
    ? await trainLdaHead(examples, {
        backbone,
        classes,
        seed: options.seed ?? 0,
        refitAll: options.refitAll ?? true,
        ...(options.id === undefined ? {} : { id: options.id }),
        ...(options.name === undefined ? {} : { name: options.name }),
        ...(signal ? { signal } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      })
    : await trainHead(examples, {
        backbone,
        classes,
        ...(options.id === undefined ? {} : { id: options.id }),
        ...(options.name === undefined ? {} : { name: options.name }),
        ...(options.hidden === undefined ? {} : { hidden: options.hidden }),
        ...(options.epochs === undefined ? {} : { epochs: options.epochs }),
        ...(options.l2 === undefined ? {} : { l2: options.l2 }),
        ...(options.transform === undefined ? {} : { transform: options.transform }),
        standardize: options.standardize ?? true,
        seed: options.seed ?? 0,
        // The returned head trains on every photo once the held-out ones chose the epoch count
        // (measured: +1 to +3 points at 5-10 photos a class, scripts/eval/main.ts); the guard below
        // judges the head trained without the held-out photos (`heldOutDoc`).
        refitAll: options.refitAll ?? true,
        ...(signal ? { signal } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(options.initial ? { initial: options.initial } : {}),
      });
  signal?.throwIfAborted();

  const ttaSeed = (options.seed ?? 0) >>> 0;
  const judged =
    training.split.method === 'holdout'
      ? await holdoutGuard(examples, training.split, training.heldOutDoc ?? training.doc, classes, backbone, previous, options.testTimeAugmentation === false ? null : ttaSeed)
      : { guard: crossValidatedGuard(examples, training.split, training.metrics, classes, backbone, previous), tta: null };
  // The last point where an abort still changes nothing.
  signal?.throwIfAborted();
  const { guard, tta } = judged;
  const outcome: TrainOutcome = guard.choice === 'previous' && previous ? 'kept-previous' : guard.choice === 'knn' ? 'knn' : 'new-head';
  if (tta?.kept) {
    // The saved head and its judged twin predict the way the guard judged them.
    const record = (doc: HeadDocument): HeadDocument => ({ ...doc, testTimeAugmentation: { ...tta.setting } });
    training.doc = record(training.doc);
    if (training.heldOutDoc) training.heldOutDoc = record(training.heldOutDoc);
  }
  return { training, guard, outcome, testTimeAugmentation: tta, classifier: lda ? 'lda' : 'softmax' };
}

/**
 * The Train button's predictions for photos given by their embeddings, ranked as the app ranks
 * them: kNN over the training examples (k = 3, cosine, over every stored view) when the guard chose
 * kNN (client/lib/predict.ts), else the trained head, with test-time augmentation over each
 * photo's first `views` augmented views when the head records it (shared/head/tta.ts's mean, as
 * the prediction layer takes it from a photo). The evaluation's recipe `app` predicts through
 * this, so it measures what the app predicts. `views[i]` are photo i's augmented views'
 * embeddings; a head that records TTA needs them.
 */
export async function predictAsTrained(
  result: TrainAndGuardResult,
  trainExamples: readonly Example[],
  backbone: BackboneManifest,
  photos: readonly Float32Array[],
  views?: readonly (readonly Float32Array[])[],
): Promise<Prediction[][]> {
  const { doc } = result.training;
  if (result.outcome === 'knn') return fitKnn(trainExamples, backbone, { k: 3, classes: doc.classes }).predictMany(photos);
  const tta = doc.testTimeAugmentation;
  if (tta && views?.length !== photos.length) throw new Error('predictAsTrained: the head records test-time augmentation; give every photo\'s augmented views');
  const head = await loadPredictor(doc, { manifest: backbone });
  try {
    return await rankedOverViews(head, photos.map((e, i) => [e, ...(tta ? (views?.[i] ?? []).slice(0, tta.views) : [])]));
  } finally {
    head.dispose();
  }
}

/**
 * Ranked scores of a head per photo, `perPhoto[i]` being photo i's embedding and those of the
 * views it is predicted over: one batched head pass over all of them, then the mean of each
 * photo's probabilities (shared/head/tta.ts; a photo alone keeps its own row, bit for bit).
 */
async function rankedOverViews(head: Predictor, perPhoto: readonly (readonly Float32Array[])[]): Promise<Prediction[][]> {
  const rows = await head.probabilities(perPhoto.flat().map((embedding) => ({ embedding })));
  let at = 0;
  return perPhoto.map((inputs) => rankPredictions(head.doc.classes, meanProbabilities(rows.slice(at, (at += inputs.length)))));
}

/**
 * Held-out scores of a head, plain or averaged over each photo's stored views (`views`: how many
 * at most; 0: the photo alone), as a Classifier keyed by the photo's own embedding object.
 */
async function heldOutClassifier(
  head: Predictor,
  photos: readonly Example[],
  viewsOf: ReadonlyMap<string, Float32Array[]>,
  views: number,
): Promise<{ classifier: Classifier; rankings: Map<Float32Array, Prediction[]> }> {
  const ranked = await rankedOverViews(head, photos.map((e) => [e.embedding, ...(viewsOf.get(e.photoId) ?? []).slice(0, views)]));
  const rankings = new Map(photos.map((e, i) => [e.embedding, ranked[i] as Prediction[]]));
  const classifier: Classifier = {
    predict: (embedding) => {
      const ranked = rankings.get(embedding);
      if (!ranked) throw new Error('heldOutClassifier: not a held-out photo');
      return ranked;
    },
  };
  return { classifier, rankings };
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
  ttaSeed: number | null,
): Promise<{ guard: GuardResult; tta: TestTimeJudgement | null }> {
  const fold = split.folds[0];
  if (!fold) throw new Error('holdout split without a fold');
  const { train, validation } = foldExamples(examples, fold);
  // The augmented views stored for each held-out photo, in stored order.
  const held = new Set(fold.validation);
  const viewsOf = new Map<string, Float32Array[]>();
  for (const e of examples) if (e.augmented && held.has(e.photoId)) viewsOf.set(e.photoId, [...(viewsOf.get(e.photoId) ?? []), e.embedding]);
  const notes: string[] = [];
  const heads: Predictor[] = [];
  try {
    const head = await loadPredictor(doc, { manifest: backbone });
    heads.push(head);
    const plain = await heldOutClassifier(head, validation, viewsOf, 0);
    let headClassifier = plain.classifier;
    let tta: TestTimeJudgement | null = null;
    const viewCount = Math.min(MAX_TEST_TIME_VIEWS, Math.max(0, ...[...viewsOf.values()].map((v) => v.length)));
    if (ttaSeed !== null && viewCount > 0) {
      const averaged = await heldOutClassifier(head, validation, viewsOf, viewCount);
      const right = (rankings: Map<Float32Array, Prediction[]>): boolean[] => validation.map((e) => rankings.get(e.embedding)?.[0]?.label === e.label);
      const withViews = right(averaged.rankings);
      const alone = right(plain.rankings);
      const correct = withViews.filter(Boolean).length;
      const correctWithout = alone.filter(Boolean).length;
      // The rule (module comment): kept unless significantly worse.
      const { p } = mcnemarExact(withViews, alone);
      const kept = !(correct < correctWithout && p < SIGNIFICANCE);
      tta = { kept, setting: { views: viewCount, seed: ttaSeed }, n: validation.length, withViews: validation.filter((e) => viewsOf.has(e.photoId)).length, correct, correctWithout, p };
      notes.push(
        `Test-time augmentation (each held-out photo's probabilities averaged with its ${viewCount} augmented views): ${correct}/${validation.length} right, ` +
          `${correctWithout}/${validation.length} from the photo alone (McNemar p = ${p.toPrecision(2)}): ${kept ? 'kept (not significantly worse)' : 'not kept (significantly worse)'}.`,
      );
      if (kept) headClassifier = averaged.classifier;
    } else if (ttaSeed !== null) {
      notes.push('Test-time augmentation: the held-out photos have no augmented views to judge it on; off.');
    }
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
        // As it predicts: with the test-time augmentation it records, over the stored views.
        previousHead = (await heldOutClassifier(p, validation, viewsOf, previousDoc.testTimeAugmentation?.views ?? 0)).classifier;
      }
    }
    const result = await compareOnHeldOut({ heldOut: validation, head: headClassifier, knn, ...(previousHead ? { previousHead } : {}) });
    return { guard: { ...result, reasons: [...notes, ...result.reasons] }, tta };
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
