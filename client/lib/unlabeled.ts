/**
 * Unlabeled photos: photos without a class, kept (as a 299-px JPEG copy, like examples) for
 * self-training in "Improve further" (client/lib/improve.ts) and for the app to ask about
 * (client/lib/asking.ts `photosToAsk`). The pool holds the photos a person added to it (`from:
 * 'person'`, the Improve screen) and the photos picked or frozen on Predict (`from: 'predict'`).
 *
 * The policy ({@link unlabeledPolicy}, a setting on the device):
 * - `keep` (default true): false stops keeping photos from Predict (`addUnlabeled` with `from:
 *   'predict'` stores nothing and resolves to id null); a person's explicit adds are still kept, since
 *   adding is asking to keep. Photos kept before stay until deleted.
 * - `cap` (default 200): at most this many photos. Enforced when a photo is added and when the cap
 *   is lowered, in the same transaction: the oldest photos from Predict go first, then the oldest of
 *   the others (a photo from Predict added to a pool full of a person's photos is not kept).
 *
 * The same photo (same key, client/lib/photo-key.ts) is kept once.
 */
import { notifyChange } from './changes.ts';
import { openTannerinDb, readPhotoBytes, type PhotoBytes, type TannerinSchema, type UnlabeledRecord } from './db.ts';
import type { IDBPObjectStore, StoreNames } from 'idb';
import { pixelsOf, type EmbedSource } from './embed.ts';
import { correctedExample } from './corrections.ts';
import { photoCopy } from './examples.ts';
import { photoKeyOf } from './photo-key.ts';
import type { PredictResult } from './predict.ts';
import { toStorageError } from './storage.ts';

/** Whether photos from Predict are kept, and how many photos the pool keeps at most. */
export interface UnlabeledPolicy {
  keep: boolean;
  cap: number;
}

/** The policy until the person changes it. */
export const DEFAULT_UNLABELED_POLICY: Readonly<UnlabeledPolicy> = { keep: true, cap: 200 };

/** Options of {@link addUnlabeled}. */
export interface AddUnlabeledOptions {
  /** Where the photo comes from (default `person`): see the module comment. */
  from?: 'predict' | 'person';
  /** The photo's prediction, if it has one: its key and embedding are kept, not computed again. */
  prediction?: PredictResult;
}

/** The policy in force (module comment). */
export async function unlabeledPolicy(): Promise<UnlabeledPolicy> {
  const stored = await (await openTannerinDb()).get('settings', 'unlabeledPolicy');
  return stored?.key === 'unlabeledPolicy' ? { keep: stored.keep, cap: stored.cap } : { ...DEFAULT_UNLABELED_POLICY };
}

/**
 * Changes the policy (the fields given). Lowering the cap drops the photos over it at once (module
 * comment). Throws a RangeError for a cap that is not a whole number of at least 1.
 */
export async function setUnlabeledPolicy(policy: { keep?: boolean; cap?: number }): Promise<void> {
  if (policy.cap !== undefined && !(Number.isInteger(policy.cap) && policy.cap >= 1)) throw new RangeError(`the cap must be a whole number of at least 1, got ${policy.cap}`);
  const db = await openTannerinDb();
  const tx = db.transaction(['settings', 'unlabeled'], 'readwrite');
  const read = await tx.objectStore('settings').get('unlabeledPolicy');
  const stored = read?.key === 'unlabeledPolicy' ? read : undefined;
  const next: UnlabeledPolicy = { keep: policy.keep ?? stored?.keep ?? DEFAULT_UNLABELED_POLICY.keep, cap: policy.cap ?? stored?.cap ?? DEFAULT_UNLABELED_POLICY.cap };
  await tx.objectStore('settings').put({ key: 'unlabeledPolicy', ...next });
  const dropped = await dropOverCap(tx.objectStore('unlabeled'), next.cap);
  await tx.done;
  if (dropped.length) notifyChange({ type: 'unlabeled-changed' });
}

/**
 * Keeps a photo without a class (a 299-px JPEG copy, as for examples), within the policy (module
 * comment): resolves to its id (an earlier one's for the same photo); from Predict, to id null
 * when it is not kept (keeping is off, or the cap dropped it).
 */
export async function addUnlabeled(photo: EmbedSource, options: AddUnlabeledOptions & { from: 'predict' }): Promise<{ id: string | null }>;
export async function addUnlabeled(photo: EmbedSource, options?: AddUnlabeledOptions & { from?: 'person' }): Promise<{ id: string }>;
export async function addUnlabeled(photo: EmbedSource, options: AddUnlabeledOptions = {}): Promise<{ id: string | null }> {
  const from = options.from ?? 'person';
  const { prediction } = options;
  const policy = await unlabeledPolicy();
  if (from === 'predict' && !policy.keep) return { id: null };
  const pixels = await pixelsOf(photo);
  const [copy, photoKey] = await Promise.all([photoCopy(pixels), prediction?.photoKey ?? photoKeyOf(photo, pixels)]);
  // A photo the person already labelled (correct, labelUnlabeled) is an example: nothing to ask.
  if (from === 'predict' && (await correctedExample(photoKey))) return { id: null };
  const record: UnlabeledRecord = {
    id: crypto.randomUUID(),
    photo: copy.photo,
    width: copy.width,
    height: copy.height,
    createdAt: Date.now(),
    from,
    photoKey,
    // Copied: the prediction's array may be a view into a larger buffer.
    ...(prediction?.embedding ? { embedding: { backbone: prediction.head.backbone, data: Float32Array.from(prediction.embedding) } } : {}),
  };
  const db = await openTannerinDb();
  const tx = db.transaction('unlabeled', 'readwrite');
  let kept: string | null;
  try {
    const same = await tx.store.index('by-photo').getKey(photoKey);
    if (same !== undefined) {
      await tx.done;
      return { id: same };
    }
    await tx.store.add(record);
    const dropped = await dropOverCap(tx.store, policy.cap);
    kept = dropped.includes(record.id) ? null : record.id;
    await tx.done;
  } catch (err) {
    throw toStorageError(err, 'the unlabeled photo');
  }
  notifyChange({ type: 'unlabeled-changed' });
  return { id: kept };
}

/** An unlabeled photo as {@link listUnlabeled} lists it. */
export interface UnlabeledPhoto {
  id: string;
  /** The stored copy, as bytes. */
  photo: PhotoBytes;
  createdAt: number;
  from: 'predict' | 'person';
  /** The person skipped it when asked (`skipAsked`): not asked again. */
  skipped: boolean;
}

/** The unlabeled photos, oldest first. */
export async function listUnlabeled(): Promise<UnlabeledPhoto[]> {
  const db = await openTannerinDb();
  const records = await db.getAllFromIndex('unlabeled', 'by-created');
  return Promise.all(
    records.map(async (r) => ({ id: r.id, photo: await readPhotoBytes(r.photo), createdAt: r.createdAt, from: r.from ?? 'person', skipped: r.skipped === true })),
  );
}

/**
 * Drops the photo `photoKey` from the pool, if it is there: it has a label now (`correct`), so it
 * is an example, not a photo to ask about.
 */
export async function forgetUnlabeledPhoto(photoKey: string): Promise<void> {
  const db = await openTannerinDb();
  const tx = db.transaction('unlabeled', 'readwrite');
  const keys = await tx.store.index('by-photo').getAllKeys(photoKey);
  await Promise.all(keys.map((key) => tx.store.delete(key)));
  await tx.done;
  if (keys.length) notifyChange({ type: 'unlabeled-changed' });
}

/** Deletes an unlabeled photo (nothing happens for an unknown id). */
export async function deleteUnlabeled(id: string): Promise<void> {
  const db = await openTannerinDb();
  await db.delete('unlabeled', id);
  notifyChange({ type: 'unlabeled-changed' });
}

type UnlabeledStore = IDBPObjectStore<TannerinSchema, ArrayLike<StoreNames<TannerinSchema>>, 'unlabeled', 'readwrite'>;

/** Deletes the photos over `cap` (module comment: the oldest from Predict first, then the oldest); their ids. */
async function dropOverCap(store: UnlabeledStore, cap: number): Promise<string[]> {
  const excess = (await store.count()) - cap;
  if (excess <= 0) return [];
  const fromPredict = await store.index('by-source').getAllKeys(IDBKeyRange.bound(['predict', -Infinity], ['predict', Infinity]), excess);
  await Promise.all(fromPredict.map((id) => store.delete(id)));
  const rest = excess - fromPredict.length;
  const oldest = rest > 0 ? await store.index('by-created').getAllKeys(null, rest) : [];
  await Promise.all(oldest.map((id) => store.delete(id)));
  return [...fromPredict, ...oldest];
}
