/**
 * The device's storage for tannerin: asking the browser to keep it (persistent storage), how much
 * is used of how much is allowed, and failed writes turned into messages a person can act on.
 *
 * Every write in this library is one IndexedDB transaction; when one fails (the quota is the
 * usual reason) the transaction is aborted as a whole, so whatever was stored before stays as it
 * was, and the caller gets a {@link StorageError} with a clear message.
 */

/** What {@link requestPersistence} got. */
export interface PersistenceResult {
  /** Whether the browser will keep the data under storage pressure. */
  persisted: boolean;
  /** False when the browser has no StorageManager (`navigator.storage`) at all. */
  supported: boolean;
}

/**
 * Asks the browser not to evict this origin's data under storage pressure. Browsers decide by
 * their own rules (Chromium grants it to installed or much-used sites and answers false
 * headless); a false answer is normal and the data is kept anyway unless space runs out.
 */
export async function requestPersistence(): Promise<PersistenceResult> {
  const storage = typeof navigator === 'undefined' ? undefined : navigator.storage;
  if (!storage || typeof storage.persist !== 'function') return { persisted: false, supported: false };
  if (typeof storage.persisted === 'function' && (await storage.persisted())) return { persisted: true, supported: true };
  return { persisted: await storage.persist(), supported: true };
}

/** Bytes used and allowed for this origin (all of its storage, not only tannerin's database). */
export interface StorageEstimate {
  usage: number;
  quota: number;
  /** `usage / quota`, 0 when the quota is unknown. */
  usedShare: number;
  supported: boolean;
}

/** This origin's storage usage and quota, as the browser estimates them. */
export async function storageEstimate(): Promise<StorageEstimate> {
  const storage = typeof navigator === 'undefined' ? undefined : navigator.storage;
  if (!storage || typeof storage.estimate !== 'function') return { usage: 0, quota: 0, usedShare: 0, supported: false };
  const { usage = 0, quota = 0 } = await storage.estimate();
  return { usage, quota, usedShare: quota > 0 ? usage / quota : 0, supported: true };
}

/**
 * True for a quota error however it reached us: a `QuotaExceededError` DOMException (the standard
 * name, thrown by IndexedDB, Cache and localStorage), Firefox's legacy
 * `NS_ERROR_DOM_QUOTA_REACHED`, or an error whose `cause` is one (as {@link StorageError} keeps it).
 */
export function isQuotaError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const name = (e as { name?: unknown }).name;
    if (name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED') return true;
    if (e instanceof StorageError) return e.quota;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** A write that failed; what was stored before is unchanged. */
export class StorageError extends Error {
  /** Whether the device ran out of the storage the browser allows this site. */
  readonly quota: boolean;

  constructor(message: string, options: { cause: unknown; quota: boolean }) {
    super(message, { cause: options.cause });
    this.name = 'StorageError';
    this.quota = options.quota;
  }
}

/**
 * A clear message for a failed write: what could not be stored (`what`, e.g. "the example",
 * "the model (2.7 MB)") and, for the quota, what to do; `consequence` says what happens now
 * (default: nothing stored before was changed).
 */
export function storageErrorMessage(err: unknown, what: string, consequence = 'Nothing stored before was changed.'): string {
  if (isQuotaError(err)) {
    return `Not enough storage on this device to keep ${what}. ${consequence} Free some space (delete examples or heads you no longer need, or other sites' data) and try again.`;
  }
  return `Could not store ${what} on this device (${err instanceof Error ? err.message : String(err)}). ${consequence}`;
}

/** Wraps a failed write in a {@link StorageError} with {@link storageErrorMessage}'s message. */
export function toStorageError(err: unknown, what: string, consequence?: string): StorageError {
  if (err instanceof StorageError) return err;
  return new StorageError(storageErrorMessage(err, what, consequence), { cause: err, quota: isQuotaError(err) });
}

/** A size for messages, e.g. `2.7 MB`. */
export function formatMegabytes(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MB`;
}
