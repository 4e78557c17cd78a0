/**
 * Opt-in sync of personal heads between a person's devices, through the Worker's accounts and
 * heads API (README "Accounts and tokens", "Heads").
 *
 * Off until the user turns it on ({@link enableSync}, {@link restoreWithToken},
 * {@link restoreWithPairingCode}); nothing here touches the network while it is off. When on:
 * - after each successful training the head is queued (`syncStates`, in IndexedDB, so the queue
 *   survives reloads) and pushed: `PUT` with `If-None-Match: *` for a new head, `If-Match` with the
 *   last synced ETag for an update;
 * - {@link startSync} (app start) and {@link syncNow} pull: `GET /v1/heads`, then each head that is
 *   new or changed, validated (shared/head/validate.ts) before it is stored;
 * - offline, pushes wait; the `online` event syncs again;
 * - a 412 (another device changed the head) keeps BOTH versions: the server's is saved as a second
 *   head named "... (from other device)", both are marked `conflict`, and
 *   {@link resolveConflict} lets the user pick;
 * - a 409 (the head is for another backbone) marks the head `error` with the server's message;
 * - a 429 is retried after its `Retry-After`;
 * - a 401 (the token is unknown: this device was signed out, or the account was deleted, by
 *   another device or by the server's sweep after 13 months unused) turns sync off on this device,
 *   with a message in the status ({@link SYNC_ENDED_MESSAGE}); the heads stored here stay.
 *
 * Only head documents are sent: never photos, examples or embeddings.
 */
import type { HeadsResponse, HeadSummary as ServerHead, PairingCodeResponse, TokenResponse, AccountResponse } from '../../shared/api.ts';
import { HEAD_TYPE } from '../../shared/api.ts';
import { TannerinError, type ErrorCode } from '../../shared/errors.ts';
import { isFineTuned, type HeadDocument } from '../../shared/head/document.ts';
import { parseHeadDocument, validateHeadDocument } from '../../shared/head/validate.ts';
import { sha256Hex } from '../../shared/util/hash.ts';
import { currentBackbone } from './current-backbone.ts';
import { openTannerinDb, type HeadSyncStatus, type HeadStateRecord, type SyncAccountRecord, type SyncStateRecord } from './db.ts';
import { backboneModelJson, deleteHead, storeHead } from './heads.ts';

export type { HeadSyncStatus, SyncStateRecord, SyncAccountRecord } from './db.ts';

/** Suffix of the name of a head saved from another device's conflicting version. */
export const CONFLICT_SUFFIX = ' (from other device)';
/**
 * The status message after the server stopped knowing this device's token (a 401): sync is off,
 * the models on this device are untouched.
 */
export const SYNC_ENDED_MESSAGE =
  'Sync was turned off: the server no longer knows this device (the account was deleted, or this device was signed out). The models on this device are untouched; turn sync on again to back them up.';
/** How many times a rate-limited (429) request is retried. */
const MAX_RATE_LIMIT_RETRIES = 5;
/** Longest wait honoured from one `Retry-After`, in seconds. */
const MAX_RETRY_AFTER_SECONDS = 120;

/** Overall sync state: `off` until turned on; otherwise the worst of the heads' states. */
export type OverallSyncStatus = 'off' | HeadSyncStatus;

/** One head's sync status as the app shows it. */
export interface HeadSyncInfo {
  id: string;
  status: HeadSyncStatus;
  /** Why (`error`, `conflict`), or null. */
  message: string | null;
  /** On a conflict: the other local head of the pair. */
  conflictWith: string | null;
}

/** What {@link getSyncStatus} and {@link onSyncStatus} report. */
export interface SyncStatus {
  status: OverallSyncStatus;
  /** Account id while sync is on. */
  accountId: string | null;
  apiBase: string | null;
  /**
   * Last problem not tied to one head (offline, server error), or null. While `off`: why sync was
   * turned off, when the server ended it ({@link SYNC_ENDED_MESSAGE}), until it is turned on again.
   */
  message: string | null;
  /**
   * True while sync is `off` because the server stopped knowing this device (its account was
   * deleted, or this device was signed out elsewhere), until sync is turned on again on this page;
   * the models on this device are untouched. The app tells the person and offers to pair again.
   */
  ended: boolean;
  heads: HeadSyncInfo[];
}

/** Options of {@link enableSync} and the restore functions. */
export interface EnableSyncOptions {
  /** Base URL of the API (default: this page's origin). */
  apiBase?: string;
  /** A name for this device's token (at most 100 characters). */
  label?: string;
}

// ---------------------------------------------------------------------------------------------
// Status

const listeners = new Set<(status: SyncStatus) => void>();
let lastMessage: string | null = null;

/** The current sync status, overall and per head. */
export async function getSyncStatus(): Promise<SyncStatus> {
  const db = await openTannerinDb();
  const [account, states] = await Promise.all([db.get('syncAccount', 'account'), db.getAll('syncStates')]);
  if (!account) return { status: 'off', accountId: null, apiBase: null, message: lastMessage, ended: lastMessage === SYNC_ENDED_MESSAGE, heads: [] };
  const heads = states.map((s) => ({ id: s.id, status: s.status, message: s.message, conflictWith: s.conflictWith }));
  const has = (st: HeadSyncStatus): boolean => heads.some((h) => h.status === st);
  const status: OverallSyncStatus = has('error') ? 'error' : has('conflict') ? 'conflict' : has('pending') ? 'pending' : 'synced';
  return { status, accountId: account.accountId, apiBase: account.apiBase, message: lastMessage, ended: false, heads };
}

/** Calls `handler` with the new status after every sync state change; returns the unsubscribe function. */
export function onSyncStatus(handler: (status: SyncStatus) => void): () => void {
  listeners.add(handler);
  return () => listeners.delete(handler);
}

async function emit(): Promise<void> {
  if (!listeners.size) return;
  const status = await getSyncStatus();
  for (const l of [...listeners]) l(status);
}

// ---------------------------------------------------------------------------------------------
// HTTP

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Seconds to wait from a `Retry-After` header (seconds or an HTTP date); 1 when absent. */
function retryAfterSeconds(value: string | null): number {
  if (!value) return 1;
  const n = Number(value);
  const s = Number.isFinite(n) ? n : (Date.parse(value) - Date.now()) / 1000;
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(0, Number.isFinite(s) ? s : 1));
}

/** A fetch to the API that waits out 429s (per `Retry-After`). Network failures throw `TypeError`. */
async function request(apiBase: string, path: string, init: { method?: string; token?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(new URL(path, apiBase), { method: init.method ?? 'GET', headers, ...(init.body === undefined ? {} : { body: init.body }) });
    if (res.status !== 429 || attempt >= MAX_RATE_LIMIT_RETRIES) return res;
    await res.body?.cancel();
    await sleep(retryAfterSeconds(res.headers.get('retry-after')) * 1000);
  }
}

/** The API's error for a non-OK response (`{"error": {code, message}}`), with its ETag header. */
async function apiError(res: Response): Promise<TannerinError> {
  let code: ErrorCode = res.status === 401 ? 'unauthorized' : 'internal_error';
  let message = `HTTP ${res.status}`;
  try {
    const body = (await res.json()) as { error?: { code?: ErrorCode; message?: string } };
    if (body.error?.code) code = body.error.code;
    if (body.error?.message) message = body.error.message;
  } catch {
    // Not JSON: keep the status.
  }
  const etag = res.headers.get('etag');
  return new TannerinError(code, message, etag ? { headers: { etag } } : {});
}

async function json<T>(res: Response): Promise<T> {
  if (!res.ok) throw await apiError(res);
  return (await res.json()) as T;
}

// ---------------------------------------------------------------------------------------------
// Account

async function getAccount(): Promise<SyncAccountRecord | undefined> {
  return (await openTannerinDb()).get('syncAccount', 'account');
}

/** True while sync is on. */
export async function isSyncEnabled(): Promise<boolean> {
  return (await getAccount()) !== undefined;
}

function defaultApiBase(): string {
  return globalThis.location.origin;
}

/** Stores the token, queues every local head never synced, listens for `online`, and syncs. */
async function signIn(apiBase: string, token: TokenResponse): Promise<SyncAccountRecord> {
  lastMessage = null;
  const db = await openTannerinDb();
  const account: SyncAccountRecord = { key: 'account', apiBase, accountId: token.accountId, tokenId: token.tokenId, token: token.token, since: new Date().toISOString() };
  const tx = db.transaction(['syncAccount', 'syncStates', 'heads'], 'readwrite');
  await tx.objectStore('syncAccount').put(account);
  const states = tx.objectStore('syncStates');
  for (const id of await tx.objectStore('heads').getAllKeys()) {
    if (!(await states.get(id))) await states.put(newState(id, { pending: true, status: 'pending' }));
  }
  await tx.done;
  listenOnline();
  await emit();
  await syncNow();
  return account;
}

function newState(id: string, fields: Partial<SyncStateRecord>): SyncStateRecord {
  return { id, etag: null, pending: false, status: 'synced', message: null, conflictWith: null, remoteEtag: null, updated: new Date().toISOString(), ...fields };
}

/**
 * Turns sync on for a new account (`POST /v1/accounts`): stores the token on this device, then
 * pushes every head stored here. Returns the account id.
 */
export async function enableSync(options: EnableSyncOptions = {}): Promise<string> {
  if (await getAccount()) throw new Error('sync is already on');
  const apiBase = options.apiBase ?? defaultApiBase();
  const res = await request(apiBase, '/v1/accounts', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(options.label ? { label: options.label } : {}) });
  const token = await json<TokenResponse>(res);
  return (await signIn(apiBase, token)).accountId;
}

/** Turns sync on with a token from another device (checked with `GET /v1/accounts/me`), then pulls. */
export async function restoreWithToken(token: string, options: Omit<EnableSyncOptions, 'label'> = {}): Promise<string> {
  if (await getAccount()) throw new Error('sync is already on');
  const apiBase = options.apiBase ?? defaultApiBase();
  const me = await json<AccountResponse>(await request(apiBase, '/v1/accounts/me', { token: token.trim() }));
  return (await signIn(apiBase, { accountId: me.accountId, tokenId: me.tokenId, token: token.trim() })).accountId;
}

/**
 * Turns sync on with a pairing code from a signed-in device (`POST /v1/pairing-codes/redeem`):
 * this device gets its own token; then pulls.
 */
export async function restoreWithPairingCode(code: string, options: EnableSyncOptions = {}): Promise<string> {
  if (await getAccount()) throw new Error('sync is already on');
  const apiBase = options.apiBase ?? defaultApiBase();
  const res = await request(apiBase, '/v1/pairing-codes/redeem', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code, ...(options.label ? { label: options.label } : {}) }),
  });
  return (await signIn(apiBase, await json<TokenResponse>(res))).accountId;
}

/** A pairing code for a new device (signed-in devices only); it works once and expires in minutes. */
export async function createPairingCode(): Promise<PairingCodeResponse> {
  const account = await getAccount();
  if (!account) throw new Error('sync is off: turn it on first');
  return json<PairingCodeResponse>(await request(account.apiBase, '/v1/pairing-codes', { method: 'POST', token: account.token }));
}

/** Forgets the token and every head's sync state on this device (the heads stay); `message` is the status's. */
async function forgetAccount(message: string | null): Promise<void> {
  const db = await openTannerinDb();
  const tx = db.transaction(['syncAccount', 'syncStates'], 'readwrite');
  await Promise.all([tx.objectStore('syncAccount').clear(), tx.objectStore('syncStates').clear(), tx.done]);
  lastMessage = message;
  await emit();
}

/**
 * Whether a failed `DELETE /v1/accounts/me` means the account is already gone: 401 (the token is
 * unknown: the deletion finished, from another device or an earlier try whose answer was lost)
 * or 404. Any other failure (5xx: the server resumes the deletion on the next try) is thrown.
 */
export function accountAlreadyDeleted(status: number): boolean {
  return status === 401 || status === 404;
}

/**
 * Turns sync off on this device: forgets the token and every head's sync state (the heads stay).
 * With `deleteAccount`, first deletes the account and all its heads on the server; if that fails
 * half-way, calling this again resumes it, and an account the server already deleted counts as
 * done.
 */
export async function disableSync(options: { deleteAccount?: boolean } = {}): Promise<void> {
  const account = await getAccount();
  if (!account) return;
  if (options.deleteAccount) {
    const res = await request(account.apiBase, '/v1/accounts/me', { method: 'DELETE', token: account.token });
    if (!res.ok && !accountAlreadyDeleted(res.status)) throw await apiError(res);
    await res.body?.cancel();
  } else {
    // Sign this device out; the account's last token cannot be revoked (409), which is fine.
    await request(account.apiBase, '/v1/tokens/current', { method: 'DELETE', token: account.token }).catch(() => undefined);
  }
  await forgetAccount(null);
}

// ---------------------------------------------------------------------------------------------
// Sync loop

let onlineListening = false;

function listenOnline(): void {
  if (onlineListening || typeof addEventListener !== 'function') return;
  onlineListening = true;
  addEventListener('online', () => {
    void syncNow().catch(() => undefined);
  });
}

/** Call on app start (after the models are loaded): when sync is on, listens for `online` and syncs. */
export async function startSync(): Promise<void> {
  if (!(await getAccount())) return;
  listenOnline();
  await syncNow();
}

/**
 * Queues a push of a head that changed on this device and syncs; does nothing while sync is off.
 * `train()` calls it after each stored training.
 */
export async function queueHeadPush(id: string): Promise<void> {
  const db = await openTannerinDb();
  if (!(await db.get('syncAccount', 'account'))) return;
  const tx = db.transaction('syncStates', 'readwrite');
  const state = await tx.store.get(id);
  // A head in conflict stays so until the user resolves it; its new version is pushed then.
  await tx.store.put(state ? { ...state, pending: true, ...(state.status === 'conflict' ? {} : { status: 'pending' as const, message: null }), updated: new Date().toISOString() } : newState(id, { pending: true, status: 'pending' }));
  await tx.done;
  await emit();
  await syncNow();
}

let running: Promise<void> | null = null;
let again = false;

/**
 * Pulls, then pushes the queue. One run at a time: a call during a run makes it run once more.
 * Network failures leave the queue for the next `online` event; they are reported in the status.
 */
export function syncNow(): Promise<void> {
  if (running) {
    again = true;
    return running;
  }
  running = (async () => {
    try {
      do {
        again = false;
        await syncOnce();
      } while (again);
    } finally {
      running = null;
    }
  })();
  return running;
}

async function syncOnce(): Promise<void> {
  const account = await getAccount();
  if (!account) return;
  try {
    await pull(account);
    await pushAll(account);
    lastMessage = null;
  } catch (err) {
    if (isUnauthorized(err)) {
      // The server no longer knows the token: sync ends here; the local models stay.
      await forgetAccount(SYNC_ENDED_MESSAGE);
      return;
    }
    lastMessage = err instanceof TypeError ? `offline: ${err.message}` : err instanceof Error ? err.message : String(err);
  }
  await emit();
}

async function setState(id: string, fields: Partial<SyncStateRecord>): Promise<void> {
  const db = await openTannerinDb();
  const tx = db.transaction('syncStates', 'readwrite');
  const state = (await tx.store.get(id)) ?? newState(id, {});
  await tx.store.put({ ...state, ...fields, updated: new Date().toISOString() });
  await tx.done;
}

/** Fetches and validates a head; throws `TannerinError` (e.g. `backbone_mismatch`) if it cannot be used here. */
async function fetchHead(account: SyncAccountRecord, id: string): Promise<{ doc: HeadDocument; etag: string }> {
  const res = await request(account.apiBase, `/v1/heads/${id}`, { token: account.token });
  if (!res.ok) throw await apiError(res);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const etag = res.headers.get('etag') ?? `"${await sha256Hex(bytes)}"`;
  const value = parseHeadDocument(bytes);
  // A fine-tuned model is checked against the loaded backbone's own layers, as the Worker did.
  const backbone = currentBackbone();
  const { doc } = validateHeadDocument(value, backbone.manifest, isFineTuned(value) ? { backboneModel: backboneModelJson(backbone.model) } : {});
  if (doc.id !== id) throw new TannerinError('invalid_head', `the server answered head ${doc.id} for ${id}`);
  return { doc, etag };
}

/** A head state for a document that came from the server (keeps class ids when the classes are unchanged). */
function pulledState(doc: HeadDocument, existing: HeadStateRecord | undefined): HeadStateRecord {
  const same = existing?.classIds && existing.classIds.length === doc.classes.length;
  return { id: doc.id, predictWith: 'head', classIds: same ? existing.classIds : null, trainedOn: null, training: null, updated: new Date().toISOString() };
}

/** A 401 from the API: the server does not know this device's token (any more). */
function isUnauthorized(err: unknown): boolean {
  return err instanceof TannerinError && err.code === 'unauthorized';
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Downloads heads that are new or changed on the server, unless this device has unpushed changes. */
async function pull(account: SyncAccountRecord): Promise<void> {
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

async function pushAll(account: SyncAccountRecord): Promise<void> {
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
