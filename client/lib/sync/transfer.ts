/**
 * Moving heads: pulling what is new or changed on the server, and pushing this device's queue,
 * conditionally on the last synced ETag. A head changed on both sides keeps both versions (the
 * other device's as a second head, both marked `conflict`; client/lib/sync/conflicts.ts ends it).
 */
import type { HeadsResponse, HeadSummary as ServerHead } from '../../../shared/api/types.ts';
import { HEAD_TYPE } from '../../../shared/api/types.ts';
import type { HeadDocument } from '../../../shared/head/document.ts';
import { sha256Hex } from '../../../shared/util/hash.ts';
import { openTannerinDb, type HeadStateRecord, type SyncAccountRecord, type SyncStateRecord } from '../db.ts';
import { storeHead } from '../heads.ts';
import { apiError, errorMessage, fetchHead, isUnauthorized, json, request } from './http.ts';
import { CONFLICT_SUFFIX, emit, setState } from './status.ts';

/** A head state for a document that came from the server (keeps class ids when the classes are unchanged). */
export function pulledState(doc: HeadDocument, existing: HeadStateRecord | undefined): HeadStateRecord {
  const same = existing?.classIds && existing.classIds.length === doc.classes.length;
  return { id: doc.id, predictWith: 'head', classIds: same ? existing.classIds : null, trainedOn: null, training: null, updated: new Date().toISOString() };
}

/** Downloads heads that are new or changed on the server, unless this device has unpushed changes. */
export async function pull(account: SyncAccountRecord): Promise<void> {
  const list = await json<HeadsResponse>(await request(account.apiBase, '/v1/heads', { token: account.token }));
  const db = await openTannerinDb();
  for (const remote of list.heads) {
    const [state, local] = await Promise.all([db.get('syncStates', remote.id), db.get('heads', remote.id)]);
    if (state?.etag === remote.etag) continue;
    // Local changes not pushed yet, or an open conflict: the push (412) or the user decides.
    if (state?.pending || state?.status === 'conflict') continue;
    await pullOne(account, remote, state, local);
    await emit();
  }
}

async function pullOne(account: SyncAccountRecord, remote: ServerHead, state: SyncStateRecord | undefined, local: HeadDocument | undefined): Promise<void> {
  let fetched: { doc: HeadDocument; etag: string };
  try {
    fetched = await fetchHead(account, remote.id);
  } catch (err) {
    if (err instanceof TypeError || isUnauthorized(err)) throw err;
    await setState(remote.id, { etag: remote.etag, pending: false, status: 'error', message: errorMessage(err) });
    return;
  }
  const db = await openTannerinDb();
  if (local && !state) {
    // The same id exists here but was never synced: keep both.
    if (JSON.stringify(local) === JSON.stringify(fetched.doc)) {
      await setState(remote.id, { etag: fetched.etag, pending: false, status: 'synced', message: null });
    } else {
      await keepBoth(local.id, fetched.doc, fetched.etag, null);
    }
    return;
  }
  await storeHead(fetched.doc, pulledState(fetched.doc, await db.get('headStates', remote.id)));
  await setState(remote.id, { etag: fetched.etag, pending: false, status: 'synced', message: null, conflictWith: null, remoteEtag: null });
}

/**
 * Saves the server's version of `localId` as a second head (new id, name suffixed) and marks both
 * `conflict`. Neither is dropped.
 */
async function keepBoth(localId: string, remote: HeadDocument, remoteEtag: string, baseEtag: string | null): Promise<string> {
  const copyId = crypto.randomUUID();
  const copy: HeadDocument = { ...remote, id: copyId, name: `${remote.name}${CONFLICT_SUFFIX}` };
  const db = await openTannerinDb();
  await storeHead(copy, pulledState(copy, await db.get('headStates', localId)));
  const message = 'another device changed this head: both versions are kept; pick one (resolveConflict)';
  await setState(copyId, { etag: null, pending: false, status: 'conflict', message, conflictWith: localId, remoteEtag });
  await setState(localId, { etag: baseEtag, pending: false, status: 'conflict', message, conflictWith: copyId, remoteEtag });
  return copyId;
}

/** Pushes every queued head (not those in conflict). */
export async function pushAll(account: SyncAccountRecord): Promise<void> {
  const db = await openTannerinDb();
  for (const state of await db.getAll('syncStates')) {
    if (!state.pending || state.status === 'conflict') continue;
    await pushOne(account, state.id);
    await emit();
  }
}

/** Pushes one head; on 412 keeps both versions; on other refusals marks it `error`. */
async function pushOne(account: SyncAccountRecord, id: string, options: { ifMatch?: string } = {}): Promise<void> {
  const db = await openTannerinDb();
  const [doc, state] = await Promise.all([db.get('heads', id), db.get('syncStates', id)]);
  if (!doc) {
    // Deleted here before it was pushed: nothing to send (the server's copy, if any, stays).
    await db.delete('syncStates', id);
    return;
  }
  const body = JSON.stringify(doc);
  const base = options.ifMatch ?? state?.etag ?? null;
  const res = await request(account.apiBase, `/v1/heads/${id}`, {
    method: 'PUT',
    token: account.token,
    headers: { 'content-type': HEAD_TYPE, ...(base ? { 'if-match': base } : { 'if-none-match': '*' }) },
    body,
  });
  const mine = `"${await sha256Hex(body)}"`;
  // The document may have changed again while the request was in flight: then stay pending.
  const stillSame = async (): Promise<boolean> => JSON.stringify(await db.get('heads', id)) === body;
  if (res.ok) {
    await res.body?.cancel();
    const etag = res.headers.get('etag') ?? mine;
    const same = await stillSame();
    await setState(id, { etag, pending: !same, status: same ? 'synced' : 'pending', message: null, conflictWith: null, remoteEtag: null });
    return;
  }
  const err = await apiError(res);
  if (res.status === 412) {
    const current = err.headers.etag ?? null;
    if (current === mine) {
      // An earlier write of these very bytes landed.
      await setState(id, { etag: mine, pending: !(await stillSame()), status: 'synced', message: null });
      return;
    }
    try {
      const remote = await fetchHead(account, id);
      await keepBoth(id, remote.doc, remote.etag, base);
    } catch (fetchErr) {
      if (fetchErr instanceof TypeError || isUnauthorized(fetchErr)) throw fetchErr;
      await setState(id, { pending: false, status: 'conflict', message: `another device changed this head, and its version cannot be used here: ${errorMessage(fetchErr)}`, remoteEtag: current });
    }
    return;
  }
  if (res.status === 404 && base) {
    // Deleted on the server: push it again as a new head.
    await setState(id, { etag: null });
    await pushOne(account, id, {});
    return;
  }
  if (res.status === 401) throw err;
  if (res.status >= 500) throw new Error(`the server failed: ${err.message}`);
  const message = err.code === 'backbone_mismatch' ? `${err.message} (re-embed the photos and retrain, then it syncs)` : err.message;
  await setState(id, { pending: false, status: 'error', message });
}
