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
 * Pure learning code: no storage; additive to ./train-app.ts (`trainAndGuard` is called as is).
 */
import type { HeadCrop } from '../head/crop.ts';
import { withHeadCrop, type HeadDocument } from '../head/document.ts';
import { meanProbabilities } from '../head/tta.ts';
import type { BackboneManifest } from '../model/manifest.ts';
import { argMax, loadPredictor } from '../predict/predictor.ts';
import type { Example } from './examples.ts';
import { SIGNIFICANCE } from './guard.ts';
import { mcnemarExact } from './metrics.ts';
import { trainAndGuard, type TrainAndGuardOptions, type TrainAndGuardResult } from './train-app.ts';

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
}

const pct = (right: number, n: number): string => `${Math.round((100 * right) / Math.max(1, n))}%`;

/** The sentence the app shows for a judgement (module comment). */
export function cropWords(j: Omit<CropJudgement, 'words'>): string {
  const whole = pct(j.correctWhole, j.n);
  const crop = pct(j.correctCrop, j.n);
  if (j.kept) return `Finding the object first helped: ${whole} -> ${crop}.`;
  return j.correctCrop > j.correctWhole
    ? `Finding the object first did not clearly help (${crop} vs ${whole} on ${j.n} practice photos: could be chance), kept the whole photo.`
    : `Finding the object first did not help (${crop} vs ${whole}), kept the whole photo.`;
}

/** Top-1 labels of `doc` for each held-out photo: its inputs' probabilities averaged (one input: as is). */
async function topLabels(doc: HeadDocument, backbone: BackboneManifest, perPhoto: readonly (readonly Float32Array[])[]): Promise<string[]> {
  const head = await loadPredictor(doc, { manifest: backbone });
  try {
    const rows = await head.probabilities(perPhoto.flat().map((embedding) => ({ embedding })));
    let at = 0;
    return perPhoto.map((inputs) => {
      return doc.classes[argMax(meanProbabilities(rows.slice(at, (at += inputs.length))))] as string;
    });
  } finally {
    head.dispose();
  }
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
  const { whole, setting } = input;
  const heldOut = whole.training.split.folds[0]?.validation ?? [];
  if (whole.training.split.method !== 'holdout' || whole.outcome !== 'new-head' || !heldOut.length) return null;
  // Not the whole frame's progress (the crops' training is extra), previous head or warm start.
  const { previous: _p, initial: _i, onProgress: _o, ...options } = input.options;
  const crop = await trainAndGuard(input.cropExamples, { ...options, testTimeAugmentation: false });
  const cropHeldOut = crop.training.split.folds[0]?.validation ?? [];
  if (crop.training.split.method !== 'holdout' || [...cropHeldOut].sort().join() !== [...heldOut].sort().join()) return null;

  const label = new Map(input.wholeExamples.map((e) => [e.photoId, e.label]));
  const originals = new Map(input.wholeExamples.filter((e) => !e.augmented).map((e) => [e.photoId, e.embedding]));
  const viewsOf = new Map<string, Float32Array[]>();
  for (const e of input.wholeExamples) if (e.augmented) viewsOf.set(e.photoId, [...(viewsOf.get(e.photoId) ?? []), e.embedding]);
  const cropOf = new Map(input.cropExamples.filter((e) => !e.augmented).map((e) => [e.photoId, e.embedding]));

  const wholeDoc = whole.training.heldOutDoc ?? whole.training.doc;
  const tta = wholeDoc.testTimeAugmentation;
  const wholeInputs = heldOut.map((id) => [originals.get(id) as Float32Array, ...(tta ? (viewsOf.get(id) ?? []).slice(0, tta.views) : [])]);
  const cropInputs = heldOut.map((id) => [cropOf.get(id) as Float32Array]);
  const [wholeTop, cropTop] = await Promise.all([
    topLabels(wholeDoc, input.options.backbone, wholeInputs),
    topLabels(crop.training.heldOutDoc ?? crop.training.doc, input.options.backbone, cropInputs),
  ]);
  const wholeRight = heldOut.map((id, i) => wholeTop[i] === label.get(id));
  const cropRight = heldOut.map((id, i) => cropTop[i] === label.get(id));
  const correctWhole = wholeRight.filter(Boolean).length;
  const correctCrop = cropRight.filter(Boolean).length;
  const { p } = mcnemarExact(cropRight, wholeRight);
  // The crops' own guard must keep its head too (kNN over crops is no way to predict a photo here).
  const base = { kept: correctCrop > correctWhole && p < SIGNIFICANCE && crop.outcome === 'new-head', setting, n: heldOut.length, correctCrop, correctWhole, p };
  const judgement: CropJudgement = { ...base, words: cropWords(base) };
  if (judgement.kept) {
    const record = (doc: HeadDocument): HeadDocument => withHeadCrop(doc, { ...setting });
    crop.training.doc = record(crop.training.doc);
    if (crop.training.heldOutDoc) crop.training.heldOutDoc = record(crop.training.heldOutDoc);
  }
  return { judgement, crop };
}
