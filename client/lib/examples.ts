/**
 * The classes a person teaches and their examples, kept in IndexedDB (client/lib/db.ts) and never
 * sent anywhere.
 *
 * An example is one photo: a small JPEG copy (shorter side 299 px; 224 px before database version 7)
 * plus the embeddings of the photo and of a few augmented views of it (shared/image/augment.ts:
 * mirrored, cropped, lighter or darker), per backbone `id@version`, kept packed in the backbone's
 * embedding packs (client/lib/embedding-packs.ts), apart from the record. `addExample` stores the photo with its
 * own embedding, so it counts for training at once; its augmented views are embedded in the
 * background and added to the record (client/lib/pending-views.ts). The embeddings come from the photo's
 * own pixels (at most 448 px on the shorter side), as `predict` sees photos; the copy is what a
 * re-embed uses for another backbone (client/lib/reembed.ts), and what the app shows. (Embedding
 * the JPEG copy instead cost ~4 accuracy points on emoji at quality 0.92, measured.) Examples
 * without embeddings on the loaded backbone are stale: Train embeds them first.
 *
 * Every change is one IndexedDB transaction and is announced to the other tabs
 * (`classes-changed`, `examples-changed`).
 */
import { augmentedViews } from '../../shared/image/augment.ts';
import type { Example } from '../../shared/learn/examples.ts';
import type { RgbaPixels } from '../../shared/image/preprocess.ts';
import type { Backbone } from '../../shared/model/backbone.ts';
import type { Box } from '../../shared/crop/box.ts';
import { notifyChange } from './changes.ts';
import { currentBackbone, currentBackboneOrNull, withBackboneLease } from './current-backbone.ts';
import {
  openTannerinDb,
  readPhotoBytes,
  type ClassRecord,
  type ExampleRecord,
  type ExampleView,
  type PhotoBytes,
  type StoredExampleRecord,
  type StoredPhoto,
} from './db.ts';
import { encodeJpeg, pixelsOf, pixelsOfBytes, type EmbedSource } from './embed.ts';
import { cancelPendingViews, holdViewsForPhoto, queuePendingViews } from './pending-views.ts';
import { cancelPendingCrops, queuePendingCrop, type MadeCrop } from './pending-crops.ts';
import { cropSettingOf, cutCrop, embedWithBox } from './example-crops.ts';
import { queueDetectorCrop } from './detector-crops.ts';
import { appendToPacks, deleteEmbeddings, embeddedIds, readEmbeddings, readExampleEmbeddings } from './embedding-packs.ts';
import { toStorageError } from './storage.ts';
import { yieldToEventLoop } from '../../shared/util/yield.ts';
import { forgetCorrections, rememberCorrection } from './corrections.ts';

/**
 * The shorter side of the stored photo copy: the largest backbone input (InceptionV3's 299;
 * MobileNetV2's preprocessing resizes it to 224). Copies stored before database version 7 are
 * 224 px and are upscaled when re-embedded for a larger input.
 */
export const PHOTO_COPY_SIDE = 299;
/**
 * Photos are embedded at most this large (shorter side): twice the backbone's input keeps every
 * detail its bilinear resize can use, and keeps the augmentations (plain JS on every pixel) cheap
 * for a 12-megapixel photo.
 */
const WORKING_SIDE = 448;
/**
 * JPEG quality of the stored copy. It only matters after a backbone upgrade (re-embedding from the
 * copy); on flat-coloured emoji, 0.92 costs a few accuracy points against the PNG, on photos
 * (already JPEG) much less.
 */
const PHOTO_COPY_QUALITY = 0.92;
/** Augmented views per photo by default (besides the photo itself). */
export const DEFAULT_AUGMENTED_VIEWS = 3;

// ---------------------------------------------------------------------------------------------
// Classes

/** The classes, in display order. */
export async function listClasses(): Promise<ClassRecord[]> {
  const db = await openTannerinDb();
  return db.getAllFromIndex('classes', 'by-order');
}

/** Trims and checks a class name; names must be unique (ignoring case), because they are labels. */
function checkName(name: string, classes: readonly ClassRecord[], self?: string): string {
  const trimmed = name.trim();
  if (!trimmed) throw new RangeError('a class needs a name');
  const clash = classes.find((c) => c.id !== self && c.name.toLocaleLowerCase() === trimmed.toLocaleLowerCase());
  if (clash) throw new RangeError(`there is already a class named "${clash.name}"`);
  return trimmed;
}

/** Adds a class at the end of the list. Throws a RangeError on an empty or duplicate name. */
export async function addClass(name: string): Promise<ClassRecord> {
  const db = await openTannerinDb();
  const tx = db.transaction('classes', 'readwrite');
  const classes = await tx.store.getAll();
  const now = new Date().toISOString();
  const record: ClassRecord = {
    id: crypto.randomUUID(),
    name: checkName(name, classes),
    order: classes.reduce((max, c) => Math.max(max, c.order + 1), 0),
    created: now,
    updated: now,
  };
  try {
    await Promise.all([tx.store.add(record), tx.done]);
  } catch (err) {
    throw toStorageError(err, 'the new class');
  }
  notifyChange({ type: 'classes-changed' });
  return record;
}

/**
 * Renames a class. Heads already trained keep the name they were trained with (a head document
 * is immutable once saved) until they are retrained.
 */
export async function renameClass(id: string, name: string): Promise<ClassRecord> {
  const db = await openTannerinDb();
  const tx = db.transaction('classes', 'readwrite');
  const classes = await tx.store.getAll();
  const current = classes.find((c) => c.id === id);
  if (!current) throw new RangeError(`no class ${id}`);
  const record: ClassRecord = { ...current, name: checkName(name, classes, id), updated: new Date().toISOString() };
  try {
    await Promise.all([tx.store.put(record), tx.done]);
  } catch (err) {
    throw toStorageError(err, 'the new name');
  }
  notifyChange({ type: 'classes-changed' });
  return record;
}

/** Deletes a class and all of its examples, in one transaction. Returns how many examples went. */
export async function deleteClass(id: string): Promise<{ examplesDeleted: number }> {
  const db = await openTannerinDb();
  const tx = db.transaction(['classes', 'examples', 'embeddingPacks', 'corrections'], 'readwrite');
  const keys = await tx.objectStore('examples').index('by-class').getAllKeys(id);
  await Promise.all([
    tx.objectStore('classes').delete(id),
    ...keys.map((key) => tx.objectStore('examples').delete(key)),
    deleteEmbeddings(tx.objectStore('embeddingPacks'), keys),
    forgetCorrections(tx.objectStore('corrections'), keys),
    tx.done,
  ]);
  cancelPendingViews(keys);
  cancelPendingCrops(keys);
  notifyChange({ type: 'classes-changed' });
  notifyChange({ type: 'examples-changed', classId: id });
  return { examplesDeleted: keys.length };
}

// ---------------------------------------------------------------------------------------------
// Examples

/** Options for {@link addExample}. */
export interface AddExampleOptions {
  /** Embed augmented views too (default true). */
  augment?: boolean;
  /** How many augmented views (default {@link DEFAULT_AUGMENTED_VIEWS}). */
  views?: number;
  /** Seeds the augmented views (default: random). Stored, so a re-embed makes the same views. */
  seed?: number;
  /**
   * Stops before the photo is stored; nothing is stored then. Its augmented views, once it is
   * stored, stop only when the photo or its class is deleted.
   */
  signal?: AbortSignal;
}

/** An example with its embeddings on one backbone (view 0 the photo as is), as `addExample` and `getExample` give it. */
export type ExampleWithEmbeddings = ExampleRecord & { embeddings: Float32Array[] };

/** What a correction or a labelled unlabeled photo brings to {@link addExampleWith} (client/lib/correct.ts). */
export interface TeachExtras {
  /** The photo's own embedding on the loaded backbone, computed already (by `predict`): not computed again. */
  embedding?: Float32Array;
  /**
   * The photo's crop as a crop head's prediction found it (client/lib/correct.ts): its box and the
   * crop's embedding on the loaded backbone, with the examples' crop setting. The crop is cut at
   * that box and its embedding is not computed again (client/lib/pending-crops.ts).
   */
  crop?: { box: Box; embedding: Float32Array };
  /** The stored copy, made already (an unlabeled photo's): not encoded again. */
  copy?: { photo: PhotoBytes; width: number; height: number };
  /** Remember the photo by this key (client/lib/corrections.ts), in the example's transaction. */
  rememberAs?: string;
  /** Delete this unlabeled photo in the example's transaction (it moves to the examples). */
  fromUnlabeled?: string;
}

/**
 * Teaches one photo to a class: embeds the photo as it is, makes the 299-px JPEG copy, and stores
 * the example, which counts for training from then on. Returns the stored record with its
 * embedding on the loaded backbone; its augmented
 * views are embedded in the background after that (`pendingViews` in the record until they are
 * stored, client/lib/pending-views.ts): they wait while another photo is being added, so a burst
 * is not held up, and Train finishes any still pending before it trains. Throws a `StorageError`
 * when the device is out of space (nothing is stored then), a RangeError for an unknown class.
 */
export async function addExample(classId: string, source: EmbedSource, options: AddExampleOptions = {}): Promise<ExampleWithEmbeddings> {
  return addExampleWith(classId, source, options, {});
}

/** {@link addExample}, reusing what the caller computed already and storing more with it ({@link TeachExtras}). */
export async function addExampleWith(classId: string, source: EmbedSource, options: AddExampleOptions, extras: TeachExtras): Promise<ExampleWithEmbeddings> {
  const backbone = currentBackbone();
  // Leased until the photo is stored: a switch meanwhile disposes it only after (the record names it).
  return withBackboneLease(backbone, () => addExampleOn(backbone, classId, source, options, extras));
}

async function addExampleOn(backbone: Backbone, classId: string, source: EmbedSource, options: AddExampleOptions, extras: TeachExtras): Promise<ExampleWithEmbeddings> {
  const { augment = true, views = DEFAULT_AUGMENTED_VIEWS, signal } = options;
  const seed = options.seed ?? crypto.getRandomValues(new Uint32Array(1))[0] ?? 0;
  const pending = augment ? Math.max(0, views) : 0;
  // Background views of earlier photos wait until this one is stored.
  const endPhoto = holdViewsForPhoto();
  let record: ExampleRecord;
  let embeddings: Float32Array[];
  let working: RgbaPixels;
  let made: MadeCrop | undefined;
  try {
    const pixels = await pixelsOf(source);
    // The JPEG copy is encoded while the photo is embedded (the encoder runs off the main thread).
    const copying = extras.copy ? Promise.resolve(extras.copy) : photoCopy(pixels);
    copying.catch(() => undefined);
    working = await workingPixels(pixels);
    const given = extras.embedding;
    // On a backbone that makes crops, the same pass gives the crop's box (client/lib/example-crops.ts).
    const setting = cropSettingOf(backbone);
    let embedded: { embeddings: Float32Array[]; views: ExampleView[] };
    if (given || !setting) {
      embedded = given ? { embeddings: [given], views: [{ augmented: false, ops: [] }] } : await embedViews(working, 0, seed, signal, backbone);
    } else {
      await yieldToEventLoop();
      signal?.throwIfAborted();
      const { embedding, box: found } = await embedWithBox(backbone, working, setting);
      embedded = { embeddings: [embedding], views: [{ augmented: false, ops: [] }] };
      // The prediction's box, when given, is the one its crop embedding belongs to.
      const box = extras.crop?.box ?? found;
      // Cut from the original by the browser, not awaited: the background job stores it.
      const cut = cutCrop(pixels, box, backbone.manifest.normalization.width);
      cut.catch(() => undefined);
      made = { backbone: backbone.ref, box, cut, ...(extras.crop ? { embedding: extras.crop.embedding } : {}) };
    }
    signal?.throwIfAborted();
    const copy = await copying;

    const now = new Date().toISOString();
    record = {
      id: crypto.randomUUID(),
      classId,
      photo: copy.photo,
      width: copy.width,
      height: copy.height,
      backbone: backbone.ref,
      views: embedded.views,
      augmentSeed: seed,
      ...(pending ? { pendingViews: pending } : {}),
      cropPending: 1,
      created: now,
      updated: now,
    };
    embeddings = embedded.embeddings;
    const db = await openTannerinDb();
    const tx = db.transaction(['classes', 'examples', 'embeddingPacks', 'corrections', 'unlabeled'], 'readwrite');
    try {
      // Checked in the same transaction as the write: a class deleted meanwhile gets no orphan.
      if (!(await tx.objectStore('classes').get(classId))) {
        tx.abort();
        throw new RangeError(`no class ${classId}`);
      }
      await Promise.all([
        tx.objectStore('examples').add(record),
        appendToPacks(tx.objectStore('embeddingPacks'), backbone.ref, [{ id: record.id, embeddings }]),
        ...(extras.rememberAs === undefined ? [] : [rememberCorrection(tx.objectStore('corrections'), extras.rememberAs, record.id)]),
        ...(extras.fromUnlabeled === undefined ? [] : [tx.objectStore('unlabeled').delete(extras.fromUnlabeled)]),
        tx.done,
      ]);
    } catch (err) {
      if (err instanceof RangeError) {
        await tx.done.catch(() => undefined);
        throw err;
      }
      throw toStorageError(err, 'the example');
    }
  } finally {
    endPhoto();
  }
  notifyChange({ type: 'examples-changed', classId });
  if (extras.fromUnlabeled !== undefined) notifyChange({ type: 'unlabeled-changed' });
  // Queued before anything else can run: a delete that follows cancels it.
  if (pending) void queuePendingViews(record.id, working);
  // The crop after the views (a backbone without crops leaves it pending for MobileNetV2).
  void queuePendingCrop(record.id, made);
  // And its detector crop, while "find the object first" is on (client/lib/detector-crops.ts).
  void queueDetectorCrop(record.id);
  return { ...record, embeddings };
}

/** The stored examples, of one class or all, oldest first; each photo as bytes (no embeddings: see {@link getExample}). */
export async function listExamples(classId?: string): Promise<ExampleRecord[]> {
  const db = await openTannerinDb();
  const records = classId === undefined ? await db.getAll('examples') : await db.getAllFromIndex('examples', 'by-class', classId);
  const sorted = records.sort((a, b) => a.created.localeCompare(b.created) || a.id.localeCompare(b.id));
  return Promise.all(sorted.map(withPhotoBytes));
}

/**
 * One stored example (its photo as bytes) with its embeddings on `backbone` (default: the loaded
 * backbone, else the one it was added on; empty when it has none there), or undefined.
 */
export async function getExample(id: string, backbone?: string): Promise<ExampleWithEmbeddings | undefined> {
  const tx = (await openTannerinDb()).transaction(['examples', 'embeddingPacks']);
  const record = await tx.objectStore('examples').get(id);
  if (!record) return undefined;
  const ref = backbone ?? currentBackboneOrNull()?.ref ?? record.backbone;
  const embeddings = (await readExampleEmbeddings(tx.objectStore('embeddingPacks'), ref, id)) ?? [];
  return { ...(await withPhotoBytes(record)), embeddings };
}

/** Deletes an example; false if there was none. */
export async function deleteExample(id: string): Promise<boolean> {
  const db = await openTannerinDb();
  const tx = db.transaction(['examples', 'embeddingPacks', 'corrections'], 'readwrite');
  const record = await tx.objectStore('examples').get(id);
  if (record) {
    await Promise.all([tx.objectStore('examples').delete(id), deleteEmbeddings(tx.objectStore('embeddingPacks'), [id]), forgetCorrections(tx.objectStore('corrections'), [id])]);
  }
  await tx.done;
  cancelPendingViews([id]);
  cancelPendingCrops([id]);
  if (record) notifyChange({ type: 'examples-changed', classId: record.classId });
  return record !== undefined;
}

/** Moves an example to another class (a photo taught to the wrong class). */
export async function moveExample(id: string, classId: string): Promise<ExampleRecord> {
  const db = await openTannerinDb();
  const tx = db.transaction(['classes', 'examples'], 'readwrite');
  const [record, target] = await Promise.all([tx.objectStore('examples').get(id), tx.objectStore('classes').get(classId)]);
  if (!record || !target) {
    tx.abort();
    await tx.done.catch(() => undefined);
    throw new RangeError(record ? `no class ${classId}` : `no example ${id}`);
  }
  // Written back in the shape it was read (a Blob photo is converted by `photoConversion`, not here).
  const moved: StoredExampleRecord = { ...record, classId, updated: new Date().toISOString() };
  try {
    await Promise.all([tx.objectStore('examples').put(moved), tx.done]);
  } catch (err) {
    throw toStorageError(err, 'the change');
  }
  notifyChange({ type: 'examples-changed', classId: record.classId });
  notifyChange({ type: 'examples-changed', classId });
  return withPhotoBytes(moved);
}

/** How many examples (photos) there are, and how many are stale (no embeddings on the loaded backbone). */
export interface ExampleCounts {
  total: number;
  stale: number;
  byClass: Record<string, { total: number; stale: number }>;
}

/** Example counts against the loaded backbone (from the indexes: no photo or embedding is read). */
export async function exampleCounts(): Promise<ExampleCounts> {
  const ref = currentBackbone().ref;
  const db = await openTannerinDb();
  const tx = db.transaction(['classes', 'examples', 'embeddingPacks']);
  const [members, embedded] = await Promise.all([examplesByClass(tx.objectStore('classes'), tx.objectStore('examples')), embeddedIds(tx.objectStore('embeddingPacks'))]);
  const fresh = embedded.get(ref) ?? new Set<string>();
  const counts: ExampleCounts = { total: 0, stale: 0, byClass: {} };
  for (const [classId, ids] of members) {
    const stale = ids.filter((id) => !fresh.has(id)).length;
    counts.byClass[classId] = { total: ids.length, stale };
    counts.total += ids.length;
    counts.stale += stale;
  }
  return counts;
}

/**
 * Example ids by class id, for every class, from the `by-class` index's keys (no record is read:
 * reading 1,000 records costs far more than their keys).
 */
async function examplesByClass(
  classes: { getAllKeys(): Promise<string[]> },
  examples: { index(name: 'by-class'): { getAllKeys(query: string): Promise<string[]> } },
): Promise<Map<string, string[]>> {
  const ids = await classes.getAllKeys();
  const keys = await Promise.all(ids.map((id) => examples.index('by-class').getAllKeys(id)));
  return new Map(ids.map((id, i) => [id, keys[i] ?? []]));
}

/**
 * The stored embeddings on `backbone` of the examples of these classes (default: every class),
 * by class id and then example id in key order; rows are views into the packs' arrays. Reads the
 * backbone's few packs, not the example records.
 */
export async function storedEmbeddings(backbone: string, classIds?: readonly string[]): Promise<Map<string, Map<string, Float32Array[]>>> {
  const db = await openTannerinDb();
  const tx = db.transaction(['classes', 'examples', 'embeddingPacks']);
  const [members, embeddings] = await Promise.all([examplesByClass(tx.objectStore('classes'), tx.objectStore('examples')), readEmbeddings(tx.objectStore('embeddingPacks'), backbone)]);
  const out = new Map<string, Map<string, Float32Array[]>>();
  for (const [classId, ids] of members) {
    if (classIds && !classIds.includes(classId)) continue;
    const byId = new Map<string, Float32Array[]>();
    for (const id of ids) {
      const e = embeddings.get(id);
      if (e?.length) byId.set(id, e);
    }
    out.set(classId, byId);
  }
  return out;
}

/** The examples as training data (shared/learn/examples.ts), with what was left out. */
export interface TrainingSet {
  /** One `Example` per stored embedding of every fresh example; label = class name. */
  examples: Example[];
  /** Classes that have fresh examples, in display order (the head's class order). */
  classes: ClassRecord[];
  /** Photos (examples) used. */
  photos: number;
  /** Examples left out because another backbone computed them (re-embed them). */
  stale: number;
  /** Photos used with only some of their views: the rest are still pending (client/lib/pending-views.ts). */
  pendingViews: number;
}

/**
 * Loads every fresh example as training data (see {@link TrainingSet}): the classes, the example
 * ids of each from the `by-class` index, the embedding packs of backbone `ref` (default: the
 * loaded one) and the pending photos' ids; no example record (photo) is read.
 */
export async function trainingSet(ref: string = currentBackbone().ref): Promise<TrainingSet> {
  const db = await openTannerinDb();
  const tx = db.transaction(['classes', 'examples', 'embeddingPacks']);
  const examplesStore = tx.objectStore('examples');
  const [classes, members, embeddings, pendingIds, addedHere] = await Promise.all([
    tx.objectStore('classes').index('by-order').getAll(),
    examplesByClass(tx.objectStore('classes'), examplesStore),
    readEmbeddings(tx.objectStore('embeddingPacks'), ref),
    examplesStore.index('by-pending').getAllKeys(),
    examplesStore.index('by-backbone').getAllKeys(ref),
  ]);
  // Pending views belong to the backbone a photo was added on (`ExampleRecord.backbone`).
  const onThisBackbone = new Set(addedHere);
  const pending = new Set(pendingIds.filter((id) => onThisBackbone.has(id)));
  const classOf = new Map<string, ClassRecord>();
  for (const c of classes) for (const id of members.get(c.id) ?? []) classOf.set(id, c);
  const examples: Example[] = [];
  const used = new Set<string>();
  let stale = 0;
  let pendingViews = 0;
  // Sorted by id (the examples store's key order): the same data gives the same order, hence the
  // same split and bit-identical weights, whatever order the packs hold them in.
  for (const id of [...classOf.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    const cls = classOf.get(id) as ClassRecord;
    const views = embeddings.get(id);
    if (!views?.length) {
      stale++;
      continue;
    }
    used.add(cls.id);
    if (pending.has(id)) pendingViews++;
    // View 0 is the photo as is, every later one augmented (client/lib/db.ts ExampleRecord.views).
    views.forEach((embedding, i) => examples.push({ photoId: id, label: cls.name, embedding, augmented: i > 0 }));
  }
  const withExamples = classes.filter((c) => used.has(c.id));
  return { examples, classes: withExamples, photos: new Set(examples.map((e) => e.photoId)).size, stale, pendingViews };
}

// ---------------------------------------------------------------------------------------------
// Internals

/**
 * The stored copy: JPEG, shorter side {@link PHOTO_COPY_SIDE} (never enlarged), as bytes (the
 * encoder's Blob is only read). Also used for unlabeled photos.
 */
export async function photoCopy(pixels: RgbaPixels): Promise<{ photo: PhotoBytes; width: number; height: number }> {
  const { bitmap, width, height } = await scaledBitmap(pixels, PHOTO_COPY_SIDE);
  try {
    const encoded = await encodeJpeg(bitmap, width, height, PHOTO_COPY_QUALITY);
    return { photo: await readPhotoBytes(encoded), width, height };
  } finally {
    bitmap.close();
  }
}

/** RGBA pixels of a stored photo copy, in either stored shape (client/lib/db.ts `StoredPhoto`). */
export async function photoPixels(photo: StoredPhoto): Promise<RgbaPixels> {
  const { bytes, type } = await readPhotoBytes(photo);
  return pixelsOfBytes(bytes, type);
}

/** The example with its photo as bytes (a Blob photo from before database version 5 is read). */
async function withPhotoBytes(record: StoredExampleRecord): Promise<ExampleRecord> {
  return { ...record, photo: await readPhotoBytes(record.photo) };
}

/** The photo with its shorter side at most {@link WORKING_SIDE}, as RGBA pixels. */
async function workingPixels(pixels: RgbaPixels): Promise<RgbaPixels> {
  if (Math.min(pixels.width, pixels.height) <= WORKING_SIDE) return pixels;
  const { bitmap } = await scaledBitmap(pixels, WORKING_SIDE);
  try {
    return await pixelsOf(bitmap);
  } finally {
    bitmap.close();
  }
}

/**
 * The pixels as an ImageBitmap whose shorter side is at most `side`, scaled by the browser's
 * high-quality (area-averaging) resize: better than bilinear for a large reduction.
 */
async function scaledBitmap(pixels: RgbaPixels, side: number): Promise<{ bitmap: ImageBitmap; width: number; height: number }> {
  const scale = Math.min(1, side / Math.min(pixels.width, pixels.height));
  const width = Math.max(1, Math.round(pixels.width * scale));
  const height = Math.max(1, Math.round(pixels.height * scale));
  const data = new Uint8ClampedArray(pixels.data.buffer as ArrayBuffer, pixels.data.byteOffset, pixels.data.length);
  const image = new ImageData(data, pixels.width, pixels.height);
  const bitmap = await createImageBitmap(image, scale < 1 ? { resizeWidth: width, resizeHeight: height, resizeQuality: 'high' } : {});
  return { bitmap, width, height };
}

/**
 * Embeds the pixels and `count` augmented views of them (seeded by `seed`) on `backbone` (default:
 * the loaded one), yielding to the page between views; `signal` is checked before each.
 */
export async function embedViews(
  pixels: RgbaPixels,
  count: number,
  seed: number,
  signal: AbortSignal | undefined,
  backbone: Backbone = currentBackbone(),
): Promise<{ embeddings: Float32Array[]; views: ExampleView[] }> {
  const sources: { pixels: RgbaPixels; view: ExampleView }[] = [
    { pixels, view: { augmented: false, ops: [] } },
    ...augmentedViews(pixels, { count: Math.max(0, count), seed }).map((v) => ({ pixels: v, view: { augmented: true, ops: v.ops } })),
  ];
  const embeddings: Float32Array[] = [];
  await withBackboneLease(backbone, async () => {
    for (const s of sources) {
      await yieldToEventLoop();
      signal?.throwIfAborted();
      embeddings.push(await backbone.embed(s.pixels));
    }
  });
  return { embeddings, views: sources.map((s) => s.view) };
}
