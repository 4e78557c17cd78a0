/**
 * Unlabeled photos: photos without a class, kept (as a 299-px JPEG copy, like examples) for
 * self-training in "Improve further" (client/lib/improve.ts).
 */
import { notifyChange } from './changes.ts';
import { openTannerinDb, readPhotoBytes, type PhotoBytes, type UnlabeledRecord } from './db.ts';
import { pixelsOf } from './embed.ts';
import { photoCopy } from './examples.ts';
import { toStorageError } from './storage.ts';

/** Stores a photo without a class (a 299-px JPEG copy, as for examples) for self-training. */
export async function addUnlabeled(photo: Blob | ImageBitmap | HTMLCanvasElement): Promise<{ id: string }> {
  const copy = await photoCopy(await pixelsOf(photo));
  const record: UnlabeledRecord = { id: crypto.randomUUID(), photo: copy.photo, width: copy.width, height: copy.height, createdAt: Date.now() };
  const db = await openTannerinDb();
  try {
    await db.add('unlabeled', record);
  } catch (err) {
    throw toStorageError(err, 'the unlabeled photo');
  }
  notifyChange({ type: 'unlabeled-changed' });
  return { id: record.id };
}

/** The unlabeled photos, oldest first; `photo` is the stored copy, as bytes. */
export async function listUnlabeled(): Promise<Array<{ id: string; photo: PhotoBytes; createdAt: number }>> {
  const db = await openTannerinDb();
  const records = await db.getAllFromIndex('unlabeled', 'by-created');
  return Promise.all(records.map(async (r) => ({ id: r.id, photo: await readPhotoBytes(r.photo), createdAt: r.createdAt })));
}

/** Deletes an unlabeled photo (nothing happens for an unknown id). */
export async function deleteUnlabeled(id: string): Promise<void> {
  const db = await openTannerinDb();
  await db.delete('unlabeled', id);
  notifyChange({ type: 'unlabeled-changed' });
}
