/**
 * Making and storing one example's detector crop (client/lib/detector-crops.ts says when and why):
 * the detector's box in the stored copy (or the person's moved box, which wins), cut at the
 * backbone's input size and embedded; or the crop a detector-crop head's prediction found and
 * embedded, when that photo is corrected (no second pass).
 */
import type { Box } from '../../shared/crop/box.ts';
import { DEFAULT_DETECTOR_CROP, detectorCropBox } from '../../shared/crop/detector-box.ts';
import { sameHeadCrop, type DetectorCrop } from '../../shared/head/crop.ts';
import type { Backbone } from '../../shared/model/backbone.ts';
import { notifyChange } from './changes.ts';
import { openTannerinDb, readPhotoBytes, type StoredExampleRecord } from './db.ts';
import type { ExampleDetectorCrop } from './detector-crops.ts';
import { activeDetectorRef, detectBox } from './detector.ts';
import { pixelsOf, pixelsOfBytes } from './embed.ts';
import { putEmbeddings } from './embedding-packs.ts';
import { cropSettingOf, cutCrop } from './example-crops.ts';
import { getHead } from './heads.ts';
import type { PredictResult } from './predict.ts';

/** The key the detector crops' embeddings on `backbone` are packed under (never a backbone's own ref: those have no `#`). */
export function detectorPackRef(backbone: string): string {
  return `${backbone}#detector`;
}

/** The box the person set on this record's crop (Teach screen), if they did. */
export function personBoxOf(record: Pick<StoredExampleRecord, 'crop'>): Box | undefined {
  return record.crop?.byPerson ? record.crop.box : undefined;
}

/** Whether two boxes (or two absences) are the same. */
export const sameBox = (a: Box | undefined, b: Box | undefined): boolean =>
  a === b || (!!a && !!b && a.x === b.x && a.y === b.y && a.width === b.width && a.height === b.height);

/** Whether `record`'s detector crop is missing or stale for this backbone and detector (`<id>@<version>`). */
export function needsDetectorCrop(record: Pick<StoredExampleRecord, 'crop' | 'detectorCrop'>, backbone: string, detector: string): boolean {
  const d = record.detectorCrop;
  if (!d || d.backbone !== backbone || d.detector !== detector) return true;
  const person = personBoxOf(record);
  return person ? !d.byPerson || !sameBox(d.box, person) : d.byPerson === true;
}

/**
 * `record`'s detector crop on `backbone` by detector `detector` (`<id>@<version>`, on): the
 * person's box if they moved it, else one detector pass over the stored copy (the whole frame
 * below the setting's minimum score), the box cut from the copy and embedded. Tensors: the
 * detector's and the backbone's passes dispose their own.
 */
export async function makeDetectorCrop(backbone: Backbone, detector: string, record: StoredExampleRecord): Promise<{ crop: ExampleDetectorCrop; embedding: Float32Array }> {
  const setting: DetectorCrop = { ...DEFAULT_DETECTOR_CROP };
  const { bytes, type } = await readPhotoBytes(record.photo);
  const copy = await pixelsOfBytes(bytes, type);
  const person = personBoxOf(record);
  const detection = person ? null : await detectBox(copy);
  const box = person ?? detectorCropBox(detection, setting, copy);
  const bitmap = await cutCrop(copy, box, backbone.manifest.normalization.width);
  let embedding: Float32Array;
  try {
    embedding = await backbone.embed(await pixelsOf(bitmap));
  } finally {
    bitmap.close();
  }
  const crop: ExampleDetectorCrop = { setting, detector, backbone: backbone.ref, box, score: detection?.score ?? null, ...(person ? { byPerson: true as const } : {}) };
  return { crop, embedding };
}

/**
 * Stores example `id`'s detector crop and its embedding in one transaction, if the record is
 * still there and `keep` says the crop still fits it (read again in the write). Resolves whether
 * it stored.
 */
export async function storeDetectorCrop(id: string, made: { crop: ExampleDetectorCrop; embedding: Float32Array }, keep: (now: StoredExampleRecord) => boolean): Promise<boolean> {
  const db = await openTannerinDb();
  const tx = db.transaction(['examples', 'embeddingPacks'], 'readwrite');
  tx.done.catch(() => undefined);
  const now = await tx.objectStore('examples').get(id);
  const fits = !!now && keep(now);
  if (now && fits) {
    await Promise.all([
      tx.objectStore('examples').put({ ...now, detectorCrop: made.crop }),
      putEmbeddings(tx.objectStore('embeddingPacks'), detectorPackRef(made.crop.backbone), [{ id, embeddings: [made.embedding] }]),
    ]);
  }
  await tx.done;
  // The Teach screen shows the detector's box.
  if (now && fits) notifyChange({ type: 'examples-changed', classId: now.classId });
  return fits;
}

/**
 * A correction's photo (example `id`, just stored on `backbone`) gets, as its detector crop, the
 * box and crop embedding its prediction by a detector-crop head found (`PredictResult.crop`,
 * `cropEmbedding`: no second detector or backbone pass), when they are what the examples' detector
 * crops are: a personal head on this backbone with the examples' detector setting, the detector on.
 * Its score is not known then (null). Resolves whether it stored one.
 */
export async function storePredictedDetectorCrop(id: string, prediction: PredictResult, backbone: Backbone): Promise<boolean> {
  const { crop, cropEmbedding, head } = prediction;
  if (crop?.method !== 'detector' || !cropEmbedding || head.kind !== 'personal' || head.backbone !== backbone.ref || !cropSettingOf(backbone)) return false;
  const setting = (await getHead(head.id))?.crop;
  if (setting?.method !== 'detector' || !sameHeadCrop(setting, DEFAULT_DETECTOR_CROP)) return false;
  const detector = await activeDetectorRef().catch(() => null);
  if (!detector) return false;
  const made: ExampleDetectorCrop = { setting: { ...setting }, detector, backbone: backbone.ref, box: { ...crop.box }, score: null };
  // A new record: the person has not moved its box (if they did meanwhile, their box wins).
  return storeDetectorCrop(id, { crop: made, embedding: cropEmbedding }, (now) => !personBoxOf(now));
}
