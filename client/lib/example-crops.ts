/**
 * Each example's crop (issue 17 point 2, second increment): the box around the object, found from
 * the feature map of the same backbone pass that embeds the photo, and the box cut from the
 * ORIGINAL photo at the backbone's input resolution, stored with the example (bytes and box), its
 * embedding computed in the background. Train then tries a head on the crops against the
 * whole-frame head (client/lib/train.ts, shared/learn/crop-choice.ts).
 *
 * When a photo becomes an example (`addExample`, client/lib/examples.ts):
 * - {@link embedWithBox}: one backbone pass gives the embedding and `crop.layer`'s map (MobileNetV2:
 *   `out_relu`, computed anyway on the way to the embedding), no extra pass; the box is
 *   shared/crop/feature-map-box.ts's arithmetic, exactly as the prediction layer's crop step
 *   (shared/crop/crop-step.ts) finds it for a crop head.
 * - {@link cutCrop}: the browser cuts the box from the decoded original and scales it to the input
 *   size (createImageBitmap, off the main thread), not awaited: the photo counts without it.
 * - The record gets `cropPending: 1` (database version 9, sparse index `by-crop-pending`);
 *   client/lib/pending-crops.ts embeds the crop after the photo is stored, like the augmented views.
 *
 * Where crops are made: a single backbone whose graph computes the crop's layer as a feature map:
 * MobileNetV2 (`out_relu`, 7x7x1280). InceptionV3 (cut at mixed7, no `out_relu`) and the pair
 * MobileNetV2 + InceptionV3 (no single graph: which member's map would find the box?) get none in
 * this increment; their examples stay pending and are done once MobileNetV2 is loaded again.
 *
 * Storage: the crop's JPEG, its size and box in the example record ({@link ExampleCrop}); its
 * embedding in the `embeddingPacks` store under its own pack key {@link cropPackRef}(backbone), so
 * the pack code (client/lib/embedding-packs.ts) is reused as is and a delete removes it with the
 * example's other embeddings.
 */
import type { Box } from '../../shared/crop/box.ts';
import { featureMapCropBox, featureMapShape } from '../../shared/crop/crop-step.ts';
import { boxPixels } from '../../shared/crop/box.ts';
import { DEFAULT_FEATURE_MAP_CROP, type FeatureMapCrop } from '../../shared/head/crop.ts';
import { preprocess, type RgbaPixels } from '../../shared/image/preprocess.ts';
import type { Backbone } from '../../shared/model/backbone.ts';
import type { Example } from '../../shared/learn/examples.ts';
import { openTannerinDb, type PhotoBytes } from './db.ts';
import { readEmbeddings } from './embedding-packs.ts';
import { notifyChange } from './changes.ts';

/** The crop an example stores (database version 9). */
export interface ExampleCrop {
  /** The crop setting the box was found with (shared/head/crop.ts); a crop head records it. */
  setting: FeatureMapCrop;
  /** `<backbone id>@<version>` whose feature map found the box; the crop's embedding is under {@link cropPackRef} of it. */
  backbone: string;
  /** Where the object is: [0, 1] fractions of the photo (shared/crop/box.ts). */
  box: Box;
  /** The box cut from the original photo, at the backbone's input resolution, as a JPEG. */
  photo: PhotoBytes;
  width: number;
  height: number;
  /** Set when the person turned the crop off for this photo (the Teach screen): Train uses its whole frame as its crop. */
  off?: true;
  /**
   * Set when the person placed `box` (moved or resized it on the Teach screen, {@link import('./pending-crops.ts').setCropBox}):
   * the box is theirs, not found, and every crop method uses it for this photo as it is (a re-cut
   * after a backbone switch keeps it). Absent: the box was found (`setting`).
   */
  byPerson?: true;
  /** With `byPerson`: the box that was found, which "Reset" puts back. */
  found?: Box;
}

/** The key the crops' embeddings on `backbone` are packed under in `embeddingPacks` (never a backbone's own ref: those have no `#`). */
export function cropPackRef(backbone: string): string {
  return `${backbone}#crop`;
}

/**
 * The crop setting examples get on `backbone`, or undefined where this increment makes no crops:
 * a pair, or a backbone whose graph has no feature map named as the default crop's layer.
 */
export function cropSettingOf(backbone: Backbone): FeatureMapCrop | undefined {
  if (backbone.members?.length) return undefined;
  try {
    featureMapShape(backbone.graph, DEFAULT_FEATURE_MAP_CROP.layer);
    return DEFAULT_FEATURE_MAP_CROP;
  } catch {
    return undefined;
  }
}

/**
 * The embedding of `pixels` and the crop box `setting` finds in them, from ONE backbone pass (the
 * map is an output of the pass the embedding needs anyway). `run` disposes its tensors.
 */
export async function embedWithBox(backbone: Backbone, pixels: RgbaPixels, setting: FeatureMapCrop): Promise<{ embedding: Float32Array; box: Box }> {
  const shape = featureMapShape(backbone.graph, setting.layer);
  const [embedding, map] = await backbone.run(preprocess(pixels, backbone.manifest.normalization), [backbone.graph.output, setting.layer]);
  return { embedding: embedding as Float32Array, box: featureMapCropBox(map as Float32Array, shape, setting, pixels) };
}

/**
 * The box cut from `original` (the decoded photo, full size) and scaled to `side` x `side` (the box
 * is square in the photo's pixels), by the browser's high-quality resize. The caller closes it.
 */
export function cutCrop(original: RgbaPixels, box: Box, side: number): Promise<ImageBitmap> {
  const r = boxPixels(box, original.width, original.height);
  const data = new Uint8ClampedArray(original.data.buffer as ArrayBuffer, original.data.byteOffset, original.data.length);
  return createImageBitmap(new ImageData(data, original.width, original.height), r.x, r.y, r.width, r.height, { resizeWidth: side, resizeHeight: side, resizeQuality: 'high' });
}

/**
 * The crops as training examples (one per photo, the photo's id and label), for the photos of
 * `examples` (the whole frames' training set on `backbone`; a photo whose crop is turned off gives
 * its whole frame), or null unless every photo has a crop embedding there and the backbone makes
 * crops: the guard pairs the same photos. `off`: the photos whose crop is off, when the caller has
 * read them already (Train: from completePendingCrops' scan, so the records are read once);
 * without it they are read here. `partial`: a photo without its crop is left out instead of
 * refusing the set (a stored crop head judged on the photos it can see: client/lib/previous-crop.ts).
 */
export async function cropExamples(
  backbone: Backbone,
  examples: readonly Example[],
  off?: ReadonlySet<string>,
  options: { partial?: boolean } = {},
): Promise<Example[] | null> {
  if (!cropSettingOf(backbone)) return null;
  const db = await openTannerinDb();
  const tx = db.transaction(off ? ['embeddingPacks'] : ['examples', 'embeddingPacks']);
  const packs = readEmbeddings(tx.objectStore('embeddingPacks'), cropPackRef(backbone.ref));
  if (!off) off = cropsOff(await tx.objectStore('examples').getAll());
  const crops = await packs;
  const out: Example[] = [];
  for (const e of examples) {
    if (e.augmented) continue;
    // Turned off for this photo: the whole photo is what to look at.
    const embedding = off.has(e.photoId) ? e.embedding : crops.get(e.photoId)?.[0];
    if (!embedding) {
      if (options.partial) continue;
      return null;
    }
    out.push({ photoId: e.photoId, label: e.label, embedding, augmented: false });
  }
  return out;
}

/** The ids of the records whose crop the person turned off. */
export function cropsOff(records: Iterable<{ id: string; crop?: ExampleCrop }>): Set<string> {
  const off = new Set<string>();
  for (const r of records) if (r.crop?.off) off.add(r.id);
  return off;
}

/**
 * Turns example `id`'s crop off (`off`: Train then uses the whole photo as its crop) or on again;
 * false when it has no stored crop (still pending, or none on this backbone).
 */
export async function setCropOff(id: string, off: boolean): Promise<boolean> {
  const db = await openTannerinDb();
  const tx = db.transaction('examples', 'readwrite');
  const record = await tx.store.get(id);
  if (!record?.crop) {
    await tx.done;
    return false;
  }
  const { off: _was, ...crop } = record.crop;
  await Promise.all([tx.store.put({ ...record, crop: off ? { ...crop, off: true } : crop, updated: new Date().toISOString() }), tx.done]);
  notifyChange({ type: 'examples-changed', classId: record.classId });
  return true;
}
