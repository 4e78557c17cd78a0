/**
 * A correction's retraining of a crop head (a head document with a `crop`, shared/head/crop.ts:
 * Train kept it because finding the object first helped, shared/learn/crop-choice.ts). The head
 * predicts every photo's crop, so it retrains on the crops: each stored photo's crop embedding
 * (client/lib/example-crops.ts `cropExamples`; a photo whose crop is turned off gives its whole
 * frame, as at Train), from its own weights (a warm start, shared/learn/warm-start.ts), judged by
 * the guard on the crops as Train's crop head was (shared/learn/train-app.ts: the new head, kNN, and
 * the previous head, which is a crop head too, on the same held-out photos; no test-time
 * augmentation: crops have no views). Its documents keep the head's `crop`, so the corrected model
 * still predicts crops.
 *
 * The corrected photo's crop: its add found the box in the pass that embedded it and cut it from
 * the original photo (client/lib/pending-crops.ts); the retraining waits for that crop (and any
 * other still pending) to be embedded and stored, so the corrected photo takes part as a crop.
 *
 * A detector-crop head (`crop.method` "detector", kept by Train while "find the object first" was
 * on) retrains on the photos' detector crops (client/lib/detector-crops.ts), the same way; the
 * corrected photo's is the box and crop embedding its prediction found (stored by correct(),
 * client/lib/detector-crop-make.ts), any photo still without one gets it first. With the detector
 * off the crop gives way (it could not predict either).
 *
 * The crop gives way, and the model is retrained as a plain whole-frame head (the report,
 * `TrainReport.cropRetraining`, says why), when the crops cannot be used: the head runs on another
 * backbone than the loaded one, the loaded backbone makes no crops, the head's crop setting is not
 * the one the photos' crops were cut with (an imported head), a photo has no crop, the detector is
 * off (a detector-crop head); or when the guard prefers kNN on the crops (this device predicts a
 * crop head with the head only, client/lib/predict.ts).
 */
import { sameHeadCrop, type DetectorCrop, type HeadCrop } from '../../shared/head/crop.ts';
import { withHeadCrop, type HeadDocument } from '../../shared/head/document.ts';
import type { Example } from '../../shared/learn/examples.ts';
import { trainAndGuard, type TrainAndGuardOptions } from '../../shared/learn/train-app.ts';
import type { Backbone } from '../../shared/model/backbone.ts';
import type { HeadStateRecord } from './db.ts';
import { cropExamples, cropSettingOf } from './example-crops.ts';
import { completeDetectorCrops, detectorCropExamples } from './detector-crops.ts';
import { detectorChoice } from './detector.ts';
import { completePendingCrops } from './pending-crops.ts';
import { knnBeatHead, previousHeadOf, type Retrained } from './retrain-guard.ts';

/** How a correction's retraining of a crop head went (`TrainReport.cropRetraining`). */
export interface CropRetraining {
  /** Whether the model in use keeps the crop: the head retrained on the crops (or the guard kept the previous crop head). */
  kept: boolean;
  /** The head's crop setting. */
  setting: HeadCrop;
  /** Why the model was retrained as a whole-frame head instead, when it was. */
  reason?: string;
}

/**
 * Retrains crop head `previous` on the stored photos' crops (module comment), with the options of
 * the training (`common`: classes, id, name, seed...). `trained` is the result to store, its
 * documents carrying the crop; absent when the model is to be retrained as a whole-frame head
 * (`report.reason`).
 */
export async function retrainOnCrops(
  backbone: Backbone,
  examples: readonly Example[],
  previous: HeadDocument,
  previousState: HeadStateRecord | undefined,
  common: TrainAndGuardOptions,
): Promise<Retrained<CropRetraining>> {
  const setting = previous.crop;
  if (!setting) throw new Error(`head ${previous.id} has no crop`);
  const giveWay = (why: string): { report: CropRetraining } => ({ report: { kept: false, setting, reason: `${why}: retrained as a whole-frame head, as Train does` } });
  if (previous.backbone !== backbone.ref) return giveWay(`the crop head runs on ${previous.backbone}, not on the loaded ${backbone.ref}`);
  const made = cropSettingOf(backbone);
  if (!made) return giveWay(`the loaded backbone ${backbone.ref} makes no crops of the photos`);
  const crops = setting.method === 'detector' ? await detectorCrops(backbone, examples, setting) : await featureMapCrops(backbone, examples, setting, made);
  if (typeof crops === 'string') return giveWay(crops);

  const trained = await trainAndGuard(crops, {
    ...common,
    // Crops have no augmented views to average over.
    testTimeAugmentation: false,
    previous: previousHeadOf(previous, previousState),
    initial: previous,
  });
  if (trained.outcome === 'knn') return giveWay(knnBeatHead(trained, { knnOn: 'the crops', head: 'the head on them', model: 'a crop head' }));
  // The head and its judged twin predict crops, as the head they replace.
  trained.training.doc = withHeadCrop(trained.training.doc, { ...setting });
  if (trained.training.heldOutDoc) trained.training.heldOutDoc = withHeadCrop(trained.training.heldOutDoc, { ...setting });
  return { trained, report: { kept: true, setting } };
}

/** The photos' feature-map crops to retrain on, or why not. */
async function featureMapCrops(backbone: Backbone, examples: readonly Example[], setting: HeadCrop, made: HeadCrop): Promise<Example[] | string> {
  if (!sameHeadCrop(setting, made)) return `the head crops with ${JSON.stringify(setting)}, the photos' crops are cut with ${JSON.stringify(made)}`;
  // The corrected photo's crop (cut at its add) and any other still pending, embedded and stored.
  await completePendingCrops();
  return (await cropExamples(backbone, examples)) ?? 'not every photo has its crop on this backbone';
}

/**
 * The photos' detector crops to retrain on, or why not: the detector must be on (the head
 * predicts with it too); the corrected photo's is its prediction's (stored by correct()), any
 * photo still without one gets it first (client/lib/detector-crops.ts, usually done in the
 * background already).
 */
async function detectorCrops(backbone: Backbone, examples: readonly Example[], setting: DetectorCrop): Promise<Example[] | string> {
  if (!(await detectorChoice()).on) return 'the object detector is off (turn on "Find the object first" on the Models screen to keep its crops)';
  // One read of the records, as at Train: the scan that completed the crops serves the examples.
  const { scan } = await completeDetectorCrops(backbone);
  const detected = await detectorCropExamples(backbone, examples, scan);
  if (!detected) return 'not every photo has its detector crop on this backbone';
  if (!sameHeadCrop(setting, detected.setting)) return `the head crops with ${JSON.stringify(setting)}, the photos' detector crops are cut with ${JSON.stringify(detected.setting)}`;
  return detected.cropExamples;
}
