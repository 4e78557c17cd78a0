/**
 * A stored crop head that a Train would replace (`previous`: a head kept with a crop, issue 17),
 * judged as it predicts: on the held-out photos' crops cut with its own setting, paired with the
 * model Train would store on the same photos (that model as it predicts: the kept crop head on
 * its crops, the whole-frame head with its test-time augmentation, or kNN). It is the guard's
 * incumbent (./guard.ts): replaced only when that model gets more of those photos right AND the
 * exact McNemar test gives p < 0.05.
 *
 * Which photos: the held-out photos its judged twin never trained on (a photo it saw would flatter
 * it), each through its own crop (a photo whose crop the person turned off: its whole frame, as
 * Train's crops do; a photo without its crop yet is left out: both models are scored on the same
 * photos, each as it predicts).
 *
 * When that leaves photos out, what happens depends on what would replace it:
 * - another crop head (the crop step kept one: cropping helped on these photos, and it learned
 *   from every photo): judged only on all the held-out photos, else replaced, as the guard does
 *   with a head it cannot judge (a stored crop head must not block every retraining);
 * - a model that does not find the object first: judged on the photos that are left; with none
 *   left (every one seen, or no crops), or with cross-validation (too few photos to hold any out:
 *   the new model has no held-out predictions to pair, and the whole-frame guard does not judge
 *   anything then either), it is KEPT: a crop that helped is not dropped without evidence.
 * Whatever would replace it, it is no option (replaced, the words say why) when it runs on another
 * backbone (the person switched), cannot name a class now taught, or cannot predict here (its
 * object detector is turned off).
 *
 * Pure learning code: no storage.
 */
import type { HeadCrop } from '../head/crop.ts';
import type { HeadDocument } from '../head/document.ts';
import { meanProbabilities } from '../head/tta.ts';
import type { BackboneManifest } from '../model/manifest.ts';
import { argMax, loadPredictor } from '../predict/predictor.ts';
import type { Example } from './examples.ts';
import { SIGNIFICANCE } from './guard.ts';
import { fitKnn } from './knn.ts';
import { mcnemarExact } from './metrics.ts';
import { foldExamples } from './split.ts';
import type { PreviousHead, TrainAndGuardResult } from './train-app.ts';

/** The stored crop head, with what is known of its crops here. */
export interface PreviousCropHead extends PreviousHead {
  /** Its crop of each photo that has one, cut with its setting (crop off: the whole frame). Default: none. */
  crops?: ReadonlyMap<string, Float32Array>;
  /** Why it cannot predict on this device now (its object detector is off): then no option. */
  unavailable?: string;
}

/** The previous crop head against the model Train would store, on the same held-out photos. */
export interface PreviousCropJudgement {
  /** Whether it stays (module comment: not significantly beaten, or kept without a fair comparison). */
  kept: boolean;
  /** Photos compared (0 when not compared). */
  n: number;
  /** Of those, right on its crops; null when not compared (`words` says why). */
  correct: number | null;
  /** Of those, right by the model Train would store, as it predicts. */
  correctNew: number;
  /** Exact McNemar two-sided p-value of the two (1 when not compared). */
  p: number;
  /** Plain words for the Train screen. */
  words: string;
}

/** How the words name a crop method. */
export function cropMethodName(setting: HeadCrop): string {
  return setting.method === 'detector' ? 'the object detector' : "the image model's own map";
}

/** "61%" of `right` out of `n`. */
export const pct = (right: number, n: number): string => `${Math.round((100 * right) / Math.max(1, n))}%`;

/** Top-1 labels of `doc` for each photo: its inputs' probabilities averaged (one input: as is). */
export async function topLabels(doc: HeadDocument, backbone: BackboneManifest, perPhoto: readonly (readonly Float32Array[])[]): Promise<string[]> {
  const head = await loadPredictor(doc, { manifest: backbone });
  try {
    const rows = await head.probabilities(perPhoto.flat().map((embedding) => ({ embedding })));
    let at = 0;
    return perPhoto.map((inputs) => doc.classes[argMax(meanProbabilities(rows.slice(at, (at += inputs.length))))] as string);
  } finally {
    head.dispose();
  }
}

/**
 * Which held-out photos the whole-frame training's model gets right as the app would predict
 * with it: kNN over the training photos' views when the guard chose kNN (as the guard scored it),
 * else the judged twin with its test-time augmentation over the stored views. Empty without a
 * holdout split.
 */
export async function wholeFrameRight(
  whole: TrainAndGuardResult,
  wholeExamples: readonly Example[],
  backbone: BackboneManifest,
): Promise<{ heldOut: string[]; label: Map<string, string>; right: boolean[] }> {
  const fold = whole.training.split.folds[0];
  const label = new Map(wholeExamples.map((e) => [e.photoId, e.label]));
  if (whole.training.split.method !== 'holdout' || !fold) return { heldOut: [], label, right: [] };
  const heldOut = fold.validation;
  const originals = new Map(wholeExamples.filter((e) => !e.augmented).map((e) => [e.photoId, e.embedding]));
  let top: string[];
  if (whole.outcome === 'knn') {
    const knn = fitKnn(foldExamples(wholeExamples, fold).train, backbone, { k: 3, classes: whole.training.doc.classes });
    top = (await knn.predictMany(heldOut.map((id) => originals.get(id) as Float32Array))).map((ranked) => ranked[0]?.label ?? '');
  } else {
    const viewsOf = new Map<string, Float32Array[]>();
    for (const e of wholeExamples) if (e.augmented) viewsOf.set(e.photoId, [...(viewsOf.get(e.photoId) ?? []), e.embedding]);
    const doc = whole.training.heldOutDoc ?? whole.training.doc;
    const tta = doc.testTimeAugmentation;
    top = await topLabels(doc, backbone, heldOut.map((id) => [originals.get(id) as Float32Array, ...(tta ? (viewsOf.get(id) ?? []).slice(0, tta.views) : [])]));
  }
  return { heldOut, label, right: heldOut.map((id, i) => top[i] === label.get(id)) };
}

/**
 * Judges `previous` against the model Train would store (`newRight[i]`: whether it gets
 * `heldOut[i]` right; `newCrops`: whether that model finds the object first too) by the rule of
 * the module comment. `heldOut` is empty with cross-validation; `classes` are the classes now
 * taught; `backboneRef` the backbone this training runs on.
 */
export async function judgePreviousCrop(
  previous: PreviousCropHead,
  on: {
    heldOut: readonly string[];
    label: ReadonlyMap<string, string>;
    newRight: readonly boolean[];
    newCrops: boolean;
    classes: readonly string[];
    backbone: BackboneManifest;
    backboneRef: string;
  },
): Promise<PreviousCropJudgement> {
  const setting = previous.doc.crop;
  if (!setting) throw new Error(`head ${previous.doc.id} has no crop`);
  const replaced = (why: string): PreviousCropJudgement => ({ kept: false, n: 0, correct: null, correctNew: 0, p: 1, words: `The previous model (it finds the object first) ${why}: not compared, replaced.` });
  const keptUnjudged = (why: string): PreviousCropJudgement => ({
    kept: true,
    n: 0,
    correct: null,
    correctNew: 0,
    p: 1,
    words: `Your previous model (it finds the object first) stays: ${why}, so the new one could not be compared with it fairly.`,
  });
  // No option, whatever would replace it (module comment).
  if (previous.doc.backbone !== on.backboneRef) return replaced(`runs on backbone ${previous.doc.backbone}, not ${on.backboneRef}`);
  if (previous.unavailable) return replaced(previous.unavailable);
  const missing = on.classes.filter((c) => !previous.doc.classes.includes(c));
  if (missing.length) return replaced(`has no class for ${missing.join(', ')}`);

  // As the guard: a refitted head is judged through its twin trained without the held-out photos.
  const doc = previous.judged?.doc ?? previous.doc;
  const seenIds = new Set(previous.judged?.trainedOn ?? previous.trainedOn ?? []);
  const crops = previous.crops ?? new Map<string, Float32Array>();
  const seen = on.heldOut.filter((id) => seenIds.has(id)).length;
  const uncut = on.heldOut.filter((id) => !crops.has(id)).length;
  const photos = on.heldOut.map((id, i) => ({ id, i })).filter(({ id }) => !seenIds.has(id) && crops.has(id));
  if (on.newCrops && photos.length < on.heldOut.length) {
    // Its successor crops too: not held up by a comparison that cannot be made on every photo.
    if (seen > 0) return replaced(`trained on ${seen} of the ${on.heldOut.length} practice photos`);
    return replaced(uncut === on.heldOut.length ? `cuts its crops with ${cropMethodName(setting)} as this training does not` : `has no crop of ${uncut} of the ${on.heldOut.length} practice photos`);
  }
  if (!on.heldOut.length) return keptUnjudged('there are too few photos to set some aside for practice');
  if (!photos.length) return keptUnjudged(seen === on.heldOut.length ? `it trained on all ${seen} practice photos` : `the practice photos it did not train on have no crops yet`);

  const top = await topLabels(doc, on.backbone, photos.map(({ id }) => [crops.get(id) as Float32Array]));
  const right = photos.map(({ id }, k) => top[k] === on.label.get(id));
  const newRight = photos.map(({ i }) => on.newRight[i] === true);
  const correct = right.filter(Boolean).length;
  const correctNew = newRight.filter(Boolean).length;
  const { p } = mcnemarExact(newRight, right);
  // The guard's rule for an incumbent: replaced only by more right and p < 0.05.
  const kept = !(correctNew > correct && p < SIGNIFICANCE);
  const n = photos.length;
  const which = seen && uncut ? 'it had not trained on and has a crop of' : seen ? 'it had not trained on' : 'that have its crop';
  const subset = n < on.heldOut.length ? ` (on the ${n} of ${on.heldOut.length} practice photos ${which})` : '';
  const words = kept
    ? `Your previous model (it finds the object first) stays: ${pct(correct, n)} on its crops vs ${pct(correctNew, n)} for the new one${subset}${correctNew > correct ? ' (could be chance)' : ''}.`
    : `The new model replaces your previous one (it found the object first): ${pct(correctNew, n)} vs ${pct(correct, n)} on its crops${subset}.`;
  return { kept, n, correct, correctNew, p, words };
}
