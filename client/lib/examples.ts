/**
 * The classes a person teaches and their examples, kept in IndexedDB (client/lib/db.ts) and never
 * sent anywhere.
 *
 * An example is one photo: a small JPEG copy (shorter side 224 px) plus the embeddings of the photo
 * and of a few augmented views of it (shared/image/augment.ts: mirrored, cropped, lighter or darker), all
 * tagged with the backbone `id@version` that computed them. `addExample` stores the photo with its
 * own embedding, so it counts for training at once; its augmented views are embedded in the
 * background and added to the record (client/lib/pending-views.ts). The embeddings come from the photo's
 * own pixels (at most 448 px on the shorter side), as `predict` sees photos; the copy is what a
 * re-embed uses after a backbone upgrade ({@link reembedAll}), and what the app shows. (Embedding
 * the JPEG copy instead cost ~4 accuracy points on emoji at quality 0.92, measured.) Examples
 * tagged with another backbone than the loaded one are stale: training leaves them out until they
 * are re-embedded.
 *
 * Every change is one IndexedDB transaction and is announced to the other tabs
 * (`classes-changed`, `examples-changed`).
 */
import { augmentedViews } from '../../shared/image/augment.ts';
import type { Example } from '../../shared/learn/examples.ts';
import type { RgbaPixels } from '../../shared/image/preprocess.ts';
import { notifyChange } from './changes.ts';
import { currentBackbone } from './current-backbone.ts';
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
import { toStorageError } from './storage.ts';
import { yieldToEventLoop } from '../../shared/util/yield.ts';

/** The shorter side of the stored photo copy: the backbone's input side. */
export const PHOTO_COPY_SIDE = 224;
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
  const tx = db.transaction(['classes', 'examples'], 'readwrite');
  const keys = await tx.objectStore('examples').index('by-class').getAllKeys(id);
  await Promise.all([tx.objectStore('classes').delete(id), ...keys.map((key) => tx.objectStore('examples').delete(key)), tx.done]);
  cancelPendingViews(keys);
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

/**
 * Teaches one photo to a class: embeds the photo as it is, makes the 224-px JPEG copy, and stores
 * the example, which counts for training from then on. Returns the stored record; its augmented
 * views are embedded in the background after that (`pendingViews` in the record until they are
 * stored, client/lib/pending-views.ts): they wait while another photo is being added, so a burst
 * is not held up, and Train finishes any still pending before it trains. Throws a `StorageError`
 * when the device is out of space (nothing is stored then), a RangeError for an unknown class.
 */
export async function addExample(classId: string, source: EmbedSource, options: AddExampleOptions = {}): Promise<ExampleRecord> {
  const backbone = currentBackbone();
  const { augment = true, views = DEFAULT_AUGMENTED_VIEWS, signal } = options;
  const seed = options.seed ?? crypto.getRandomValues(new Uint32Array(1))[0] ?? 0;
  const pending = augment ? Math.max(0, views) : 0;
  // Background views of earlier photos wait until this one is stored.
  const endPhoto = holdViewsForPhoto();
  let record: ExampleRecord;
  let working: RgbaPixels;
  try {
    const pixels = await pixelsOf(source);
    // The JPEG copy is encoded while the photo is embedded (the encoder runs off the main thread).
    const copying = photoCopy(pixels);
    copying.catch(() => undefined);
    working = await workingPixels(pixels);
    const embedded = await embedViews(working, 0, seed, signal);
    const copy = await copying;

    const now = new Date().toISOString();
    record = {
      id: crypto.randomUUID(),
      classId,
      photo: copy.photo,
      width: copy.width,
      height: copy.height,
      backbone: backbone.ref,
      embeddings: embedded.embeddings,
      views: embedded.views,
      augmentSeed: seed,
      ...(pending ? { pendingViews: pending } : {}),
      created: now,
      updated: now,
    };
    const db = await openTannerinDb();
    const tx = db.transaction(['classes', 'examples'], 'readwrite');
    try {
      // Checked in the same transaction as the write: a class deleted meanwhile gets no orphan.
      if (!(await tx.objectStore('classes').get(classId))) {
        tx.abort();
        throw new RangeError(`no class ${classId}`);
      }
      await Promise.all([tx.objectStore('examples').add(record), tx.done]);
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
  // Queued before anything else can run: a delete that follows cancels it.
  if (pending) void queuePendingViews(record.id, working);
  return record;
}

/** The stored examples, of one class or all, oldest first; each photo as bytes. */
export async function listExamples(classId?: string): Promise<ExampleRecord[]> {
  const db = await openTannerinDb();
  const records = classId === undefined ? await db.getAll('examples') : await db.getAllFromIndex('examples', 'by-class', classId);
  const sorted = records.sort((a, b) => a.created.localeCompare(b.created) || a.id.localeCompare(b.id));
  return Promise.all(sorted.map(withPhotoBytes));
}

/** One stored example (its photo as bytes), or undefined. */
export async function getExample(id: string): Promise<ExampleRecord | undefined> {
  const record = await (await openTannerinDb()).get('examples', id);
  return record && withPhotoBytes(record);
}

/** Deletes an example; false if there was none. */
export async function deleteExample(id: string): Promise<boolean> {
  const db = await openTannerinDb();
  const tx = db.transaction('examples', 'readwrite');
  const record = await tx.store.get(id);
  if (record) await tx.store.delete(id);
  await tx.done;
  cancelPendingViews([id]);
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

/** How many examples (photos) there are, and how many are stale (another backbone). */
export interface ExampleCounts {
  total: number;
  stale: number;
  byClass: Record<string, { total: number; stale: number }>;
}

/** Example counts against the loaded backbone. */
export async function exampleCounts(): Promise<ExampleCounts> {
  const ref = currentBackbone().ref;
  const db = await openTannerinDb();
  const counts: ExampleCounts = { total: 0, stale: 0, byClass: {} };
  for (let cursor = await db.transaction('examples').store.openCursor(); cursor; cursor = await cursor.continue()) {
    const { classId, backbone } = cursor.value;
    const c = (counts.byClass[classId] ??= { total: 0, stale: 0 });
    c.total++;
    counts.total++;
    if (backbone !== ref) {
      c.stale++;
      counts.stale++;
    }
  }
  return counts;
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

/** Loads every fresh example as training data (see {@link TrainingSet}). */
export async function trainingSet(): Promise<TrainingSet> {
  const ref = currentBackbone().ref;
  const db = await openTannerinDb();
  const tx = db.transaction(['classes', 'examples']);
  const [classes, records] = await Promise.all([tx.objectStore('classes').index('by-order').getAll(), tx.objectStore('examples').getAll()]);
  const byId = new Map(classes.map((c) => [c.id, c]));
  const examples: Example[] = [];
  const used = new Set<string>();
  let stale = 0;
  let pendingViews = 0;
  // Sorted by id (the store's key order) already: the same data gives the same order, hence the
  // same split and bit-identical weights.
  for (const r of records) {
    const cls = byId.get(r.classId);
    if (!cls) continue;
    if (r.backbone !== ref) {
      stale++;
      continue;
    }
    used.add(cls.id);
    if (r.pendingViews) pendingViews++;
    r.embeddings.forEach((embedding, i) => {
      examples.push({ photoId: r.id, label: cls.name, embedding, augmented: r.views[i]?.augmented ?? i > 0 });
    });
  }
  const withExamples = classes.filter((c) => used.has(c.id));
  return { examples, classes: withExamples, photos: new Set(examples.map((e) => e.photoId)).size, stale, pendingViews };
}

/** Options for {@link reembedAll}. */
export interface ReembedOptions {
  /** Called after each example with (done, total). */
  onProgress?: (done: number, total: number) => void;
  /** Stops between examples; those done so far stay re-embedded. */
  signal?: AbortSignal;
  /** Re-embed fresh examples too (default: only stale ones). */
  all?: boolean;
}

/**
 * After a backbone upgrade: re-embeds every stale example (or every one, with `all`) from its
 * stored copy, with the same augmented views (same seed and count), and tags it with the loaded
 * backbone. Each example is written as it is done, so an interrupted run loses nothing. Returns how
 * many were re-embedded.
 */
export async function reembedAll(options: ReembedOptions = {}): Promise<{ reembedded: number }> {
  const ref = currentBackbone().ref;
  const db = await openTannerinDb();
  const ids = (await db.getAll('examples')).filter((r) => options.all || r.backbone !== ref).map((r) => r.id);
  let done = 0;
  let reembedded = 0;
  const touched = new Set<string>();
  for (const id of ids) {
    options.signal?.throwIfAborted();
    const record = await db.get('examples', id);
    if (record) {
      const pixels = await photoPixels(record.photo);
      // Views still pending are made too; the background's write then finds nothing left to do.
      const count = record.views.length - 1 + (record.pendingViews ?? 0);
      const embedded = { ...(await embedViews(pixels, count, record.augmentSeed, options.signal)), width: pixels.width, height: pixels.height };
      const tx = db.transaction('examples', 'readwrite');
      // Written only if the example is still there and unchanged (not moved or deleted meanwhile).
      const now = await tx.store.get(id);
      if (now && now.updated === record.updated) {
        const { pendingViews: _pending, ...complete } = now;
        try {
          await Promise.all([
            tx.store.put({ ...complete, ...embedded, backbone: ref, updated: new Date().toISOString() }),
            tx.done,
          ]);
        } catch (err) {
          throw toStorageError(err, 'the re-embedded example', 'The examples done so far are kept.');
        }
        touched.add(now.classId);
        reembedded++;
      } else {
        await tx.done;
      }
    }
    options.onProgress?.(++done, ids.length);
  }
  for (const classId of touched) notifyChange({ type: 'examples-changed', classId });
  return { reembedded };
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

/** Embeds the pixels and `count` augmented views of them, yielding to the page between views. */
async function embedViews(
  pixels: RgbaPixels,
  count: number,
  seed: number,
  signal: AbortSignal | undefined,
): Promise<{ embeddings: Float32Array[]; views: ExampleView[] }> {
  const backbone = currentBackbone();
  const sources: { pixels: RgbaPixels; view: ExampleView }[] = [
    { pixels, view: { augmented: false, ops: [] } },
    ...augmentedViews(pixels, { count: Math.max(0, count), seed }).map((v) => ({ pixels: v, view: { augmented: true, ops: v.ops } })),
  ];
  const embeddings: Float32Array[] = [];
  for (const s of sources) {
    await yieldToEventLoop();
    signal?.throwIfAborted();
    embeddings.push(await backbone.embed(s.pixels));
  }
  return { embeddings, views: sources.map((s) => s.view) };
}
