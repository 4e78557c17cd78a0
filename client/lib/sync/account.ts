/**
 * The sync account on this device: turning sync on (a new account, a token from another device,
 * or a pairing code), pairing codes for other devices, and turning sync off (signing this device
 * out, or deleting the account and its heads on the server). The heads stored here always stay.
 */
import type { AccountResponse, PairingCodeResponse, TokenResponse } from '../../../shared/api/types.ts';
import { openTannerinDb, type SyncAccountRecord } from '../db.ts';
import { apiError, json, request } from './http.ts';
import { listenOnline, syncNow } from './loop.ts';
import { emit, forgetAccount, getAccount, newState, setSyncMessage } from './status.ts';

/** Options of {@link enableSync} and the restore functions. */
export interface EnableSyncOptions {
  /** Base URL of the API (default: this page's origin). */
  apiBase?: string;
  /** A name for this device's token (at most 100 characters). */
  label?: string;
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
  setSyncMessage(null);
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
