/**
 * What Train knows of a stored crop head it would replace (a head kept with a crop, issue 17), for
 * shared/learn/crop-previous.ts to judge it as it predicts: each photo's crop cut with the head's
 * own setting, and whether it can predict here at all.
 *
 * Its crops: those of the crop step's candidate with its setting when there is one (every photo's);
 * else, for the feature map's setting, each photo's stored crop embedding that exists (a photo
 * whose crop the person turned off: its whole frame; a photo still without one: left out, not the
 * whole set refused as training must: client/lib/example-crops.ts `cropExamples` with `partial`). A detector-crop head's crops come only from the candidate (fresh ones for the
 * detector and backbone in use; client/lib/detector-crops.ts decides that).
 */
import { sameHeadCrop } from '../../shared/head/crop.ts';
import type { CropCandidate, PreviousCropHead } from '../../shared/learn/crop-choice.ts';
import type { Example } from '../../shared/learn/examples.ts';
import type { PreviousHead } from '../../shared/learn/train-app.ts';
import type { Backbone } from '../../shared/model/backbone.ts';
import { detectorChoice } from './detector.ts';
import { cropExamples, cropSettingOf } from './example-crops.ts';

/**
 * `previous` (a crop head) with its crops of `examples`' photos on `backbone` and, for a
 * detector-crop head while the detector is off, why it cannot predict (module comment). `off`: the
 * photos whose crop the person turned off.
 */
export async function previousCropHead(
  backbone: Backbone,
  previous: PreviousHead,
  examples: readonly Example[],
  off: ReadonlySet<string>,
  candidates: readonly CropCandidate[],
): Promise<PreviousCropHead> {
  const setting = previous.doc.crop;
  if (!setting) throw new Error(`head ${previous.doc.id} has no crop`);
  if (setting.method === 'detector' && !(await detectorChoice()).on) {
    return { ...previous, unavailable: 'needs the object detector, which is turned off ("Find the object first" on the Models screen)' };
  }
  const own = candidates.find((c) => sameHeadCrop(c.setting, setting));
  if (own) return { ...previous, crops: new Map(own.cropExamples.filter((e) => !e.augmented).map((e) => [e.photoId, e.embedding])) };
  const made = cropSettingOf(backbone);
  if (setting.method === 'detector' || !made || !sameHeadCrop(setting, made)) return { ...previous, crops: new Map() };
  const stored = (await cropExamples(backbone, examples, off, { partial: true })) ?? [];
  return { ...previous, crops: new Map(stored.map((e) => [e.photoId, e.embedding])) };
}
