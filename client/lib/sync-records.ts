/**
 * The sync records of the database (client/lib/db.ts, version 3): the account and each head's
 * state, moved out of db.ts (its 600-line limit) unchanged; db.ts re-exports them.
 */

/** The sync account of this device (client/lib/sync/); absent while sync was never turned on. */
export interface SyncAccountRecord {
  /** Always `account`: one record. */
  key: 'account';
  /** The API base URL the account lives on. */
  apiBase: string;
  accountId: string;
  tokenId: string;
  /** This device's bearer token (the server keeps only its hash). */
  token: string;
  /** ISO 8601, when sync was turned on here. */
  since: string;
}

/** Sync status of one head. */
export type HeadSyncStatus = 'synced' | 'pending' | 'conflict' | 'error';

/** Where one head stands with the server; `pending` records are the push queue. */
export interface SyncStateRecord {
  /** The head's UUID. */
  id: string;
  /** Quoted ETag of the version last pushed or pulled (the server's SHA-256 of the bytes); null if never synced. */
  etag: string | null;
  /** A local change waits to be pushed (survives reloads; pushed when online). */
  pending: boolean;
  status: HeadSyncStatus;
  /** What went wrong (`error`) or what conflicts (`conflict`); null otherwise. */
  message: string | null;
  /** On a conflict: the local head holding the other device's version (this head's copy, or the original). */
  conflictWith: string | null;
  /** On a conflict: the server's ETag when the conflict was found (what `keep-local` overwrites). */
  remoteEtag: string | null;
  /** ISO 8601. */
  updated: string;
}
