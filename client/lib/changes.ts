/**
 * Change notifications between the tabs of this origin, and within this page: a `BroadcastChannel`
 * ({@link broadcast}, {@link onBroadcast}) and the page's own listeners ({@link notifyChange},
 * {@link onChange}), so caches in every tab are dropped the same way when the stored data
 * (client/lib/db.ts) changes.
 */

export const CHANNEL_NAME = 'tannerin';

/** What one tab tells the others. */
export type TannerinMessage =
  | { type: 'models-updated'; backbone: string }
  | { type: 'classes-changed' }
  | { type: 'examples-changed'; classId: string | null }
  | { type: 'head-saved'; id: string }
  | { type: 'head-deleted'; id: string }
  | { type: 'active-head-changed'; id: string | null }
  | { type: 'unlabeled-changed' };

let channel: BroadcastChannel | null = null;

function getChannel(): BroadcastChannel | null {
  if (typeof BroadcastChannel === 'undefined') return null;
  channel ??= new BroadcastChannel(CHANNEL_NAME);
  return channel;
}

/** Tells the other tabs of this origin (not this one) that something changed. */
export function broadcast(message: TannerinMessage): void {
  getChannel()?.postMessage(message);
}

/** Calls `handler` for each message from other tabs; returns the unsubscribe function. */
export function onBroadcast(handler: (message: TannerinMessage) => void): () => void {
  const ch = getChannel();
  if (!ch) return () => undefined;
  const listener = (event: MessageEvent<unknown>): void => {
    if (isMessage(event.data)) handler(event.data);
  };
  ch.addEventListener('message', listener);
  return () => ch.removeEventListener('message', listener);
}

/** Where a change came from: this page (`local`) or another tab (`remote`). */
export type ChangeOrigin = 'local' | 'remote';

const localListeners = new Set<(message: TannerinMessage, origin: ChangeOrigin) => void>();

/**
 * Announces a change made by this page: to the other tabs (broadcast) and to this page's own
 * {@link onChange} listeners, so caches on both sides are dropped the same way.
 */
export function notifyChange(message: TannerinMessage): void {
  broadcast(message);
  for (const listener of [...localListeners]) listener(message, 'local');
}

/**
 * Calls `handler` for every change, made in this page ({@link notifyChange}) or in another tab;
 * returns the unsubscribe function.
 */
export function onChange(handler: (message: TannerinMessage, origin: ChangeOrigin) => void): () => void {
  localListeners.add(handler);
  const offRemote = onBroadcast((message) => handler(message, 'remote'));
  return () => {
    localListeners.delete(handler);
    offRemote();
  };
}

function isMessage(data: unknown): data is TannerinMessage {
  return typeof data === 'object' && data !== null && typeof (data as { type?: unknown }).type === 'string';
}
