/**
 * Sync status: what {@link getSyncStatus} and {@link onSyncStatus} report, the messages kept
 * between runs, this device's account record, and each head's sync state in IndexedDB
 * (`syncAccount`, `syncStates`). The layer every other sync module builds on (client/lib/sync/
 * loop.ts describes sync as a whole).
 */
import { openTannerinDb, type HeadSyncStatus, type SyncAccountRecord, type SyncStateRecord } from '../db.ts';

export type { HeadSyncStatus, SyncStateRecord, SyncAccountRecord } from '../db.ts';

/** Suffix of the name of a head saved from another device's conflicting version. */
export const CONFLICT_SUFFIX = ' (from other device)';
/**
 * The status message after the server stopped knowing this device's token (a 401): sync is off,
 * the models on this device are untouched.
 */
export const SYNC_ENDED_MESSAGE =
  'Sync was turned off: the server no longer knows this device (the account was deleted, or this device was signed out). The models on this device are untouched; turn sync on again to back them up.';

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

const listeners = new Set<(status: SyncStatus) => void>();
let lastMessage: string | null = null;

/** Sets the status's message not tied to one head (null: none). */
export function setSyncMessage(message: string | null): void {
  lastMessage = message;
}

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

/** Tells the {@link onSyncStatus} handlers the current status. */
export async function emit(): Promise<void> {
  if (!listeners.size) return;
  const status = await getSyncStatus();
  for (const l of [...listeners]) l(status);
}

/** This device's sync account, or undefined while sync is off. */
export async function getAccount(): Promise<SyncAccountRecord | undefined> {
  return (await openTannerinDb()).get('syncAccount', 'account');
}

/** Forgets the token and every head's sync state on this device (the heads stay); `message` is the status's. */
export async function forgetAccount(message: string | null): Promise<void> {
  const db = await openTannerinDb();
  const tx = db.transaction(['syncAccount', 'syncStates'], 'readwrite');
  await Promise.all([tx.objectStore('syncAccount').clear(), tx.objectStore('syncStates').clear(), tx.done]);
  setSyncMessage(message);
  await emit();
}

/** A head's sync state with defaults (`synced`, no ETag) under `fields`. */
export function newState(id: string, fields: Partial<SyncStateRecord>): SyncStateRecord {
  return { id, etag: null, pending: false, status: 'synced', message: null, conflictWith: null, remoteEtag: null, updated: new Date().toISOString(), ...fields };
}

/** Updates a head's sync state (creating it if absent). */
export async function setState(id: string, fields: Partial<SyncStateRecord>): Promise<void> {
  const db = await openTannerinDb();
  const tx = db.transaction('syncStates', 'readwrite');
  const state = (await tx.store.get(id)) ?? newState(id, {});
  await tx.store.put({ ...state, ...fields, updated: new Date().toISOString() });
  await tx.done;
}
