/**
 * Train tries the crop (issue 17 point 3, first half): a head fitted on each photo's crop
 * (client/lib/example-crops.ts) against the whole-frame head, on the SAME held-out photos, paired:
 * photo i's crop through the crop head against photo i's whole frame through the whole-frame head
 * (as that head predicts: with test-time augmentation when the guard kept it). Both heads are the
 * ones trained without the held-out photos (`heldOutDoc`, the guard's judged twins).
 *
 * The rule, the guard's for a challenger (./guard.ts): the whole frame is the incumbent (a crop
 * costs a second backbone pass at every prediction); the crop head replaces it only when it got
 * more held-out photos right AND the exact McNemar test on the photos where the two disagree gives
 * p < 0.05 (at least 6 such photos, all the crop's). A looser "more right" flipped to crops on clean
 * emoji photos by one photo (tests/browser/ask.test.ts saw it). The verdict gives both accuracies,
 * in plain words (`words`, as the Train screen shows it). Kept, the head document records `crop` (the setting
 * the crops were cut with) and `formatVersion` 2, so every runtime predicts with the same step
 * (shared/crop/crop-step.ts).
 *
 * Several crop methods (the feature map's, and the object detector's when the person turned it on:
 * {@link tryCrops}) are each judged the same way against the same whole-frame head on the same
 * held-out photos; with m methods each must pass at p < 0.05 / m (Bonferroni: trying two methods
 * must not double the chance of keeping a crop that does not help). Of those that pass, the one
 * with the most photos right is kept (a tie: the first listed, the feature map, which costs less).
 * The words say which was kept and each method's accuracy.
 *
 * A stored crop head that this training would replace (`previous`, Train retraining a head kept
 * with a crop) is the guard's incumbent, as any previous head (./guard.ts), but it predicts crops:
 * the whole-frame guard does not score it (on whole frames it is not the model in use); it is
 * judged as it predicts, on the held-out photos' crops cut with its own setting, paired with the
 * model Train would store (./crop-previous.ts has the rule: replaced only on evidence, kept when a
 * model that does not crop could not be compared with it fairly). Here when the crop step runs;
 * {@link judgePreviousCropAlone} when it does not (cross-validation, kNN won on whole frames, no
 * candidate), so a crop head is never replaced unjudged by Train.
 *
 * Pure learning code: no storage; additive to ./train-app.ts (`trainAndGuard` is called as is).
 */
import { sameHeadCrop, type HeadCrop } from '../head/crop.ts';
import { withHeadCrop, type HeadDocument } from '../head/document.ts';
import { cropMethodName, judgePreviousCrop, pct, topLabels, wholeFrameRight, type PreviousCropHead, type PreviousCropJudgement } from './crop-previous.ts';
import type { Example } from './examples.ts';
import { SIGNIFICANCE } from './guard.ts';
import { mcnemarExact } from './metrics.ts';
import { trainAndGuard, type TrainAndGuardOptions, type TrainAndGuardResult } from './train-app.ts';

export { cropMethodName, type PreviousCropHead, type PreviousCropJudgement } from './crop-previous.ts';

/** How the crop head did against the whole-frame head on the held-out photos. */
export interface CropJudgement {
  /** Whether the kept head crops its photos. */
  kept: boolean;
  /** The crop setting tried (recorded in the head when kept). */
  setting: HeadCrop;
  /** Held-out photos compared, and how many each head got right. */
  n: number;
  correctCrop: number;
  correctWhole: number;
  /** Exact McNemar two-sided p-value on the photos where the two disagree. */
  p: number;
  /** Plain words for the Train screen. */
  words: string;
  /** When several methods were tried ({@link tryCrops}): each one's result, in the order tried. */
  tried?: CropTried[];
  /** The stored crop head this training would replace, judged on its crops (module comment). */
  previous?: PreviousCropJudgement;
  /**
   * Set when no crop step ran ({@link judgePreviousCropAlone}): nothing new was cropped; the
   * judgement is the previous crop head's (`correctCrop`: right on its crops, `correctWhole`: the
   * new model's, on the `n` photos compared; `previous` has the rest).
   */
  notTried?: true;
}

/** One crop method's result when several were tried: its setting, photos right, p and whether it passed the rule. */
export interface CropTried {
  setting: HeadCrop;
  correct: number;
  p: number;
  passed: boolean;
}

/** A crop method to try: its setting and one crop per photo (the whole frames' photo ids and labels). */
export interface CropCandidate {
  setting: HeadCrop;
  cropExamples: readonly Example[];
}

/** The sentence the app shows for a judgement (module comment); the previous crop head's, if judged, after it. */
export function cropWords(j: Omit<CropJudgement, 'words'>): string {
  if (!j.previous) return stepWords(j);
  // The previous crop head staying is what is kept, not the whole photo.
  return `${j.previous.kept ? stepWords(j).replace(/, kept the whole photo\.$/, '.') : stepWords(j)} ${j.previous.words}`;
}

/** What the crop step decided, in words. */
function stepWords(j: Omit<CropJudgement, 'words'>): string {
  const whole = pct(j.correctWhole, j.n);
  const crop = pct(j.correctCrop, j.n);
  if (j.tried && j.tried.length > 1) {
    const each = (t: CropTried): string => `${cropMethodName(t.setting)} ${pct(t.correct, j.n)}`;
    if (j.kept) {
      const others = j.tried.filter((t) => t.setting !== j.setting).map(each);
      return `Finding the object first helped: ${whole} -> ${crop} with ${cropMethodName(j.setting)}${others.length ? ` (${others.join(', ')})` : ''}.`;
    }
    const list = j.tried.map(each).join(', ');
    return j.tried.some((t) => t.correct > j.correctWhole)
      ? `Finding the object first did not clearly help (${list} vs ${whole} for the whole photo on ${j.n} practice photos: could be chance), kept the whole photo.`
      : `Finding the object first did not help (${list} vs ${whole} for the whole photo), kept the whole photo.`;
  }
  if (j.kept) return `Finding the object first helped: ${whole} -> ${crop}.`;
  return j.correctCrop > j.correctWhole
    ? `Finding the object first did not clearly help (${crop} vs ${whole} on ${j.n} practice photos: could be chance), kept the whole photo.`
    : `Finding the object first did not help (${crop} vs ${whole}), kept the whole photo.`;
}

/**
 * Trains a head on `cropExamples` (one crop per photo, the same photo ids and labels as the whole
 * frames' examples) with the whole-frame training's options, and judges it against `whole` on the
 * same held-out photos (module comment). Null when there is nothing to pair: the whole-frame
 * training was cross-validated, the guard did not keep its new head, or the crops' split holds out
 * other photos. Kept, the crop training's documents record the crop.
 */
export async function tryCrop(input: {
  whole: TrainAndGuardResult;
  wholeExamples: readonly Example[];
  cropExamples: readonly Example[];
  setting: HeadCrop;
  options: TrainAndGuardOptions;
}): Promise<{ judgement: CropJudgement; crop: TrainAndGuardResult } | null> {
  return tryCrops({ ...input, candidates: [{ setting: input.setting, cropExamples: input.cropExamples }] });
}

/**
 * {@link tryCrop} for several crop methods at once (module comment): each trained and judged
 * against the same whole-frame head on the same held-out photos, at p < 0.05 / (number of
 * methods). Null as tryCrop; a method whose split differs is left out (null when none is left).
 * `crop` is the kept method's training, else the best one's.
 */
export async function tryCrops(input: {
  whole: TrainAndGuardResult;
  wholeExamples: readonly Example[];
  candidates: readonly CropCandidate[];
  options: TrainAndGuardOptions;
  /**
   * The stored crop head this training would replace (module comment); judged in
   * `judgement.previous` on the crops of the candidate with its setting, else on its `crops`.
   */
  previous?: PreviousCropHead;
}): Promise<{ judgement: CropJudgement; crop: TrainAndGuardResult } | null> {
  const { whole } = input;
  const heldOut = whole.training.split.folds[0]?.validation ?? [];
  if (whole.training.split.method !== 'holdout' || whole.outcome !== 'new-head' || !heldOut.length || !input.candidates.length) return null;
  // Not the whole frame's progress (the crops' training is extra), previous head or warm start.
  const { previous: _p, initial: _i, onProgress: _o, ...options } = input.options;

  const { label, right: wholeRight } = await wholeFrameRight(whole, input.wholeExamples, input.options.backbone);
  const correctWhole = wholeRight.filter(Boolean).length;
  const alpha = SIGNIFICANCE / input.candidates.length;

  const results: { tried: CropTried; crop: TrainAndGuardResult; right: boolean[] }[] = [];
  for (const candidate of input.candidates) {
    const crop = await trainAndGuard(candidate.cropExamples, { ...options, testTimeAugmentation: false });
    const cropHeldOut = crop.training.split.folds[0]?.validation ?? [];
    if (crop.training.split.method !== 'holdout' || [...cropHeldOut].sort().join() !== [...heldOut].sort().join()) continue;
    const cropOf = new Map(candidate.cropExamples.filter((e) => !e.augmented).map((e) => [e.photoId, e.embedding]));
    const cropTop = await topLabels(crop.training.heldOutDoc ?? crop.training.doc, input.options.backbone, heldOut.map((id) => [cropOf.get(id) as Float32Array]));
    const cropRight = heldOut.map((id, i) => cropTop[i] === label.get(id));
    const correct = cropRight.filter(Boolean).length;
    const { p } = mcnemarExact(cropRight, wholeRight);
    // The crops' own guard must keep its head too (kNN over crops is no way to predict a photo here).
    results.push({ tried: { setting: candidate.setting, correct, p, passed: correct > correctWhole && p < alpha && crop.outcome === 'new-head' }, crop, right: cropRight });
  }
  if (!results.length) return null;
  // The kept method: the passing one with most right; else the best one, to report (ties: the first).
  const pick = (list: typeof results) => list.reduce<(typeof results)[number] | undefined>((best, r) => (!best || r.tried.correct > best.tried.correct ? r : best), undefined);
  const chosen = (pick(results.filter((r) => r.tried.passed)) ?? pick(results)) as (typeof results)[number];
  const base: Omit<CropJudgement, 'words'> = {
    kept: chosen.tried.passed,
    setting: chosen.tried.setting,
    n: heldOut.length,
    correctCrop: chosen.tried.correct,
    correctWhole,
    p: chosen.tried.p,
    ...(input.candidates.length > 1 ? { tried: results.map((r) => r.tried) } : {}),
  };
  if (input.previous) {
    // Paired with what Train would store: the kept crop head on its crops, else the whole frame.
    const { previous } = input;
    const own = previous.doc.crop && input.candidates.find((c) => sameHeadCrop(c.setting, previous.doc.crop as HeadCrop));
    const crops = own ? new Map(own.cropExamples.filter((e) => !e.augmented).map((e) => [e.photoId, e.embedding])) : previous.crops;
    base.previous = await judgePreviousCrop(
      { ...previous, ...(crops ? { crops } : {}) },
      { heldOut, label, newRight: chosen.tried.passed ? chosen.right : wholeRight, newCrops: chosen.tried.passed, classes: input.options.classes, backbone: input.options.backbone, backboneRef: whole.training.doc.backbone },
    );
  }
  const judgement: CropJudgement = { ...base, words: cropWords(base) };
  if (judgement.kept) {
    const record = (doc: HeadDocument): HeadDocument => withHeadCrop(doc, { ...chosen.tried.setting });
    chosen.crop.training.doc = record(chosen.crop.training.doc);
    if (chosen.crop.training.heldOutDoc) chosen.crop.training.heldOutDoc = record(chosen.crop.training.heldOutDoc);
  }
  return { judgement, crop: chosen.crop };
}

/**
 * The previous crop head judged when Train's crop step did not run ({@link tryCrops} gave null:
 * cross-validation, kNN won on whole frames, no candidate), against the whole-frame training's
 * model as it predicts (kNN or the head), by ./crop-previous.ts's rule for a model that does not
 * crop: replaced only on evidence on the held-out photos it did not train on, else kept. As a
 * judgement the app shows like the crop step's (`notTried`).
 */
export async function judgePreviousCropAlone(input: {
  whole: TrainAndGuardResult;
  wholeExamples: readonly Example[];
  previous: PreviousCropHead;
  options: TrainAndGuardOptions;
}): Promise<CropJudgement> {
  const setting = input.previous.doc.crop;
  if (!setting) throw new Error(`head ${input.previous.doc.id} has no crop`);
  const { heldOut, label, right } = await wholeFrameRight(input.whole, input.wholeExamples, input.options.backbone);
  const previous = await judgePreviousCrop(input.previous, {
    heldOut,
    label,
    newRight: right,
    newCrops: false,
    classes: input.options.classes,
    backbone: input.options.backbone,
    backboneRef: input.whole.training.doc.backbone,
  });
  return { kept: previous.kept, setting: { ...setting }, n: previous.n, correctCrop: previous.correct ?? 0, correctWhole: previous.correctNew, p: previous.p, previous, words: previous.words, notTried: true };
}
