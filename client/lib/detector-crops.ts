/**
 * Each example's detector crop (issue 17: detectors are opt-in, and only then does the guard try
 * them): while "find the object first" is on (client/lib/detector.ts), Train first gives every
 * photo on a backbone that makes crops (MobileNetV2) the box the detector finds in it, the box cut
 * and embedded like its feature-map crop, so that the guard can judge the detector's crops on the
 * same held-out photos (shared/learn/crop-choice.ts `tryCrops`).
 *
 * - Made at Train ({@link completeDetectorCrops}, with progress), from the stored copy (shorter side
 *   299 px; the full-size photo is never kept): one detector pass for the box (shared/crop/crop-step.ts's
 *   rule, `detectorCropBox`: the whole frame below the minimum score), the box cut at the backbone's
 *   input size (example-crops.ts `cutCrop`) and embedded. About a detector pass and a backbone pass a
 *   photo, once: later Trains reuse it.
 * - The person's word wins: a photo whose crop box the person moved (`ExampleCrop.byPerson`) uses
 *   that box for this method too; a photo whose crop they turned off gives its whole frame.
 * - Stored: the box and the detection's score in the record (`detectorCrop`, {@link ExampleDetectorCrop},
 *   no JPEG: the box is cut again from the copy if ever needed), the embedding in `embeddingPacks`
 *   under {@link detectorPackRef}, so a delete removes it with the example's other embeddings. It is
 *   made again when the backbone, the detector's version or the person's box changes.
 */
import type { Box } from '../../shared/crop/box.ts';
import { DEFAULT_DETECTOR_CROP, detectorCropBox } from '../../shared/crop/detector-box.ts';
import type { DetectorCrop } from '../../shared/head/crop.ts';
import type { Example } from '../../shared/learn/examples.ts';
import type { Backbone } from '../../shared/model/backbone.ts';
import { yieldToEventLoop } from '../../shared/util/yield.ts';
import { openTannerinDb, readPhotoBytes, type StoredExampleRecord } from './db.ts';
import { detectBox, detectorStatus } from './detector.ts';
import { pixelsOf, pixelsOfBytes } from './embed.ts';
import { cropSettingOf, cutCrop } from './example-crops.ts';
import { putEmbeddings, readEmbeddings } from './embedding-packs.ts';

/** A photo's detector crop as its record stores it (module comment). */
export interface ExampleDetectorCrop {
  /** The crop setting the box was found with (a head kept on these crops records it). */
  setting: DetectorCrop;
  /** `<id>@<version>` of the detector that found it. */
  detector: string;
  /** `<backbone id>@<version>` that embedded the crop (its embedding is under {@link detectorPackRef} of it). */
  backbone: string;
  /** The box cut: [0, 1] fractions of the photo. */
  box: Box;
  /** The best detection's score (null: none); below the setting's minimum the box is the whole frame. */
  score: number | null;
  /** Set when the box is the person's (their moved crop box), not the detector's. */
  byPerson?: true;
}

/** The key the detector crops' embeddings on `backbone` are packed under (never a backbone's own ref: those have no `#`). */
export function detectorPackRef(backbone: string): string {
  return `${backbone}#detector`;
}

const sameBox = (a: Box, b: Box): boolean => a.x === b.x && a.y === b.y && a.width === b.width && a.height === b.height;

/** Whether `record`'s detector crop is missing or stale for this backbone and detector (module comment). */
function needsCrop(record: StoredExampleRecord, backbone: string, detector: string): boolean {
  const d = record.detectorCrop;
  if (!d || d.backbone !== backbone || d.detector !== detector) return true;
  const person = record.crop?.byPerson ? record.crop.box : undefined;
  return person ? !d.byPerson || !sameBox(d.box, person) : d.byPerson === true;
}

/**
 * Makes the detector crop of every example that lacks an up-to-date one (module comment), with
 * progress (done, total). Nothing when the detector is off or the backbone makes no crops.
 * Resolves with how many were made; abort stops between photos (those done stay).
 */
export async function completeDetectorCrops(backbone: Backbone, options: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {}): Promise<{ made: number }> {
  const status = await detectorStatus().catch(() => null);
  if (!status?.on || !cropSettingOf(backbone)) return { made: 0 };
  const db = await openTannerinDb();
  const todo = (await db.getAll('examples')).filter((r) => needsCrop(r, backbone.ref, status.ref));
  if (!todo.length) return { made: 0 };
  const side = backbone.manifest.normalization.width;
  const setting: DetectorCrop = { ...DEFAULT_DETECTOR_CROP };
  let made = 0;
  options.onProgress?.(0, todo.length);
  for (const record of todo) {
    options.signal?.throwIfAborted();
    const { bytes, type } = await readPhotoBytes(record.photo);
    const copy = await pixelsOfBytes(bytes, type);
    const person = record.crop?.byPerson ? record.crop.box : undefined;
    const detection = person ? null : await detectBox(copy);
    const box = person ?? detectorCropBox(detection, setting, copy);
    const bitmap = await cutCrop(copy, box, side);
    let embedding: Float32Array;
    try {
      embedding = await backbone.embed(await pixelsOf(bitmap));
    } finally {
      bitmap.close();
    }
    const crop: ExampleDetectorCrop = { setting, detector: status.ref, backbone: backbone.ref, box, score: detection?.score ?? null, ...(person ? { byPerson: true as const } : {}) };
    const tx = db.transaction(['examples', 'embeddingPacks'], 'readwrite');
    tx.done.catch(() => undefined);
    const now = await tx.objectStore('examples').get(record.id);
    if (now) await Promise.all([tx.objectStore('examples').put({ ...now, detectorCrop: crop }), putEmbeddings(tx.objectStore('embeddingPacks'), detectorPackRef(backbone.ref), [{ id: record.id, embeddings: [embedding] }])]);
    await tx.done;
    made++;
    options.onProgress?.(made, todo.length);
    await yieldToEventLoop();
  }
  return { made };
}

/**
 * The detector crops as training examples (one per photo, its id and label) for the photos of
 * `examples` (the whole frames' training set on `backbone`; a photo whose crop the person turned
 * off gives its whole frame), with the setting they were cut with; null unless the detector is on
 * and every photo has an up-to-date detector crop there.
 */
export async function detectorCropExamples(backbone: Backbone, examples: readonly Example[]): Promise<{ setting: DetectorCrop; cropExamples: Example[] } | null> {
  const status = await detectorStatus().catch(() => null);
  if (!status?.on || !cropSettingOf(backbone)) return null;
  const db = await openTannerinDb();
  const tx = db.transaction(['examples', 'embeddingPacks']);
  const [crops, records] = await Promise.all([readEmbeddings(tx.objectStore('embeddingPacks'), detectorPackRef(backbone.ref)), tx.objectStore('examples').getAll()]);
  const byId = new Map(records.map((r) => [r.id, r]));
  const out: Example[] = [];
  let setting: DetectorCrop | undefined;
  for (const e of examples) {
    if (e.augmented) continue;
    const record = byId.get(e.photoId);
    if (!record || needsCrop(record, backbone.ref, status.ref)) return null;
    setting ??= record.detectorCrop?.setting;
    // Turned off for this photo: the whole photo is what to look at.
    const embedding = record.crop?.off ? e.embedding : crops.get(e.photoId)?.[0];
    if (!embedding) return null;
    out.push({ photoId: e.photoId, label: e.label, embedding, augmented: false });
  }
  return setting ? { setting, cropExamples: out } : null;
}
