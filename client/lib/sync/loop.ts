/**
 * Opt-in sync of personal heads between a person's devices, through the Worker's accounts and
 * heads API (README "Accounts and tokens", "Heads").
 *
 * Off until the user turns it on (account.ts `enableSync`, `restoreWithToken`,
 * `restoreWithPairingCode`); nothing here touches the network while it is off. When on:
 * - after each successful training the head is queued (`syncStates`, in IndexedDB, so the queue
 *   survives reloads) and pushed: `PUT` with `If-None-Match: *` for a new head, `If-Match` with the
 *   last synced ETag for an update;
 * - {@link startSync} (app start) and {@link syncNow} pull: `GET /v1/heads`, then each head that is
 *   new or changed, validated (shared/head/validate.ts) before it is stored;
 * - offline, pushes wait; the `online` event syncs again;
 * - a 412 (another device changed the head) keeps BOTH versions: the server's is saved as a second
 *   head named "... (from other device)", both are marked `conflict`, and
 *   `resolveConflict` (conflicts.ts) lets the user pick;
 * - a 409 (the head is for another backbone) marks the head `error` with the server's message;
 * - a 429 is retried after its `Retry-After`;
 * - a 401 (the token is unknown: this device was signed out, or the account was deleted, by
 *   another device or by the server's sweep after 13 months unused) turns sync off on this device,
 *   with a message in the status ({@link SYNC_ENDED_MESSAGE}); the heads stored here stay.
 *
 * Only head documents are sent: never photos, examples or embeddings.
 *
 * The parts, each its own module in client/lib/sync/: status.ts (what the app is told, and the
 * stored account and per-head states), http.ts (the API client), account.ts (turning sync on and
 * off, pairing codes), this file (when sync runs: one run at a time, the push queue, `online`),
 * transfer.ts (pull and push, keeping both versions on a conflict) and conflicts.ts (ending one).
 */
import { openTannerinDb } from '../db.ts';
import { isUnauthorized } from './http.ts';
import { emit, forgetAccount, getAccount, newState, setSyncMessage, SYNC_ENDED_MESSAGE } from './status.ts';
import { pull, pushAll } from './transfer.ts';

let onlineListening = false;

/** Syncs again whenever the browser comes back online (one listener per page). */
export function listenOnline(): void {
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
    setSyncMessage(null);
  } catch (err) {
    if (isUnauthorized(err)) {
      // The server no longer knows the token: sync ends here; the local models stay.
      await forgetAccount(SYNC_ENDED_MESSAGE);
      return;
    }
    setSyncMessage(err instanceof TypeError ? `offline: ${err.message}` : err instanceof Error ? err.message : String(err));
  }
  await emit();
}
