/**
 * The memory of corrected photos (database version 8, store `corrections`): when a person says
 * "wrong: it is <class>" (client/lib/correct.ts) or labels a photo the app asked about
 * (client/lib/asking.ts), the photo's key (client/lib/photo-key.ts) is kept with the example it
 * became. `predict()` looks the key up, and the same photo is then named as corrected whatever
 * the retrained model says (the guard may keep the previous model, or the model may still get it
 * wrong).
 *
 * The record names the example, not the class: moving the example moves the answer, and the
 * class is read from the example at lookup. Deleting the example or its class deletes the record
 * in the same transaction (client/lib/examples.ts), so no memory outlives its photo.
 *
 * Lookups read an in-page map of every key (a few dozen short records), loaded on first use and
 * dropped whenever examples or classes change, here or in another tab.
 */
import type { IDBPObjectStore, StoreNames } from 'idb';
import { onChange } from './changes.ts';
import { openTannerinDb, type TannerinSchema } from './db.ts';

/** A corrected photo (the `corrections` store, keyed by `photoKey`). */
export interface CorrectionRecord {
  /** The photo's key (client/lib/photo-key.ts): SHA-256 of its bytes or pixels. */
  photoKey: string;
  /** The example the photo became (indexed `by-example`, so deleting it deletes this). */
  exampleId: string;
  /** ISO 8601. */
  created: string;
}

/** The `corrections` store in a transaction that writes it. */
export type WritableCorrectionsStore = IDBPObjectStore<TannerinSchema, ArrayLike<StoreNames<TannerinSchema>>, 'corrections', 'readwrite'>;

/** Remembers that the photo `photoKey` is example `exampleId` (replacing what it was before). */
export async function rememberCorrection(store: WritableCorrectionsStore, photoKey: string, exampleId: string): Promise<void> {
  await store.put({ photoKey, exampleId, created: new Date().toISOString() });
}

/** Forgets every correction that became one of these examples (they are being deleted). */
export async function forgetCorrections(store: WritableCorrectionsStore, exampleIds: readonly string[]): Promise<void> {
  const keys = (await Promise.all(exampleIds.map((id) => store.index('by-example').getAllKeys(id)))).flat();
  await Promise.all(keys.map((key) => store.delete(key)));
}

let known: Promise<Map<string, string>> | null = null;
let watching = false;

/** Every correction's example id by photo key (module comment: cached, dropped on changes). */
function correctedPhotos(): Promise<Map<string, string>> {
  if (!watching) {
    watching = true;
    onChange((message) => {
      if (message.type === 'examples-changed' || message.type === 'classes-changed') known = null;
    });
  }
  if (!known) {
    const loading = openTannerinDb().then(async (db) => new Map((await db.getAll('corrections')).map((r) => [r.photoKey, r.exampleId])));
    loading.catch(() => {
      if (known === loading) known = null;
    });
    known = loading;
  }
  return known;
}

/** The example the photo `photoKey` became when it was corrected, if it still exists. */
export async function correctedExample(photoKey: string): Promise<{ exampleId: string; classId: string } | null> {
  const exampleId = (await correctedPhotos()).get(photoKey);
  if (exampleId === undefined) return null;
  const example = await (await openTannerinDb()).get('examples', exampleId);
  return example ? { exampleId, classId: example.classId } : null;
}

/** The class the photo `photoKey` was corrected to (its example's class now), or null. */
export async function correctedClass(photoKey: string): Promise<{ classId: string; className: string } | null> {
  const example = await correctedExample(photoKey);
  if (!example) return null;
  const cls = await (await openTannerinDb()).get('classes', example.classId);
  return cls ? { classId: cls.id, className: cls.name } : null;
}
