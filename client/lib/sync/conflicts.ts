/**
 * Ending a conflict (two devices changed one head; client/lib/sync/transfer.ts kept both
 * versions): the user keeps this device's version or the other device's.
 */
import type { HeadDocument } from '../../../shared/head/document.ts';
import { openTannerinDb } from '../db.ts';
import { deleteHead, storeHead } from '../heads.ts';
import { syncNow } from './loop.ts';
import { CONFLICT_SUFFIX, emit, getAccount, setState } from './status.ts';
import { pulledState } from './transfer.ts';

/**
 * Ends a conflict: `keep-local` pushes this device's version over the server's (the other
 * device's copy is deleted here); `keep-remote` replaces this device's version with the other
 * device's. `headId` may be either head of the pair.
 */
export async function resolveConflict(headId: string, choice: 'keep-local' | 'keep-remote'): Promise<void> {
  const account = await getAccount();
  if (!account) throw new Error('sync is off');
  const db = await openTannerinDb();
  let state = await db.get('syncStates', headId);
  if (state?.status !== 'conflict') throw new Error(`head ${headId} is not in conflict`);
  // Find the original (the one synced under its id) and the copy of the other device's version.
  if (state.etag === null && state.conflictWith) {
    const other = await db.get('syncStates', state.conflictWith);
    if (other?.conflictWith === headId) state = other;
  }
  const originalId = state.id;
  const copyId = state.conflictWith;
  const remoteEtag = state.remoteEtag;
  if (choice === 'keep-local') {
    if (copyId) {
      await deleteHead(copyId);
      await db.delete('syncStates', copyId);
    }
    await setState(originalId, { status: 'pending', pending: true, message: null, conflictWith: null, ...(remoteEtag ? { etag: remoteEtag } : {}) });
  } else {
    const copy = copyId ? await db.get('heads', copyId) : undefined;
    if (!copy || !remoteEtag) throw new Error('the other device\'s version is not stored here');
    const name = copy.name.endsWith(CONFLICT_SUFFIX) ? copy.name.slice(0, -CONFLICT_SUFFIX.length) : copy.name;
    const restored: HeadDocument = { ...copy, id: originalId, name };
    await storeHead(restored, pulledState(restored, await db.get('headStates', originalId)));
    if (copyId) {
      await deleteHead(copyId);
      await db.delete('syncStates', copyId);
    }
    await setState(originalId, { status: 'synced', pending: false, message: null, conflictWith: null, etag: remoteEtag, remoteEtag: null });
  }
  await emit();
  await syncNow();
}
