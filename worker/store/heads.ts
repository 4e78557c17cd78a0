/**
 * The head index (D1) and head documents (R2). Every stored version of a document is its own R2
 * object under a fresh key, written completely before the index points at it; the index row is
 * switched by a compare-and-swap on `version`; the object it replaced is deleted only after the
 * switch. So the index never points at a missing or half-written object, a writer that loses a
 * race deletes only its own object, and an interrupted write leaves at worst an unreferenced
 * object (never served; swept by the scheduled handler, worker/lifecycle/maintenance.ts, or with the
 * account).
 *
 * Quotas (head count and stored bytes per account) and the account's status are checked in the
 * very statement that writes the index row: D1 runs statements one at a time, so two concurrent
 * writes cannot both pass a quota that only one of them fits in.
 */
import type { HeadSummary } from '../../shared/api/types.ts';
import { TannerinError } from '../../shared/errors.ts';
import type { ValidatedHead } from '../../shared/head/validate.ts';
import { headPrefix } from './accounts.ts';
import { quoteEtag } from '../http/etag.ts';
import { formatBytes } from './quotas.ts';

/** A row of the `heads` table. */
export interface HeadRow {
  account_id: string;
  id: string;
  version: number;
  etag: string;
  blob_key: string;
  name: string;
  backbone: string;
  classes: string;
  bytes: number;
  fine_tuned: number;
  created_at: number;
  updated_at: number;
}

/** The index entry as the API shows it. */
export function headSummary(row: HeadRow): HeadSummary {
  return {
    id: row.id,
    name: row.name,
    etag: quoteEtag(row.etag),
    version: row.version,
    backbone: row.backbone,
    classes: JSON.parse(row.classes) as string[],
    bytes: row.bytes,
    fineTuned: row.fine_tuned === 1,
    created: new Date(row.created_at).toISOString(),
    updated: new Date(row.updated_at).toISOString(),
  };
}

/** The account's head with this id, or null: another account's head of the same id is not seen. */
export function findHead(db: D1Database, accountId: string, id: string): Promise<HeadRow | null> {
  return db.prepare('SELECT * FROM heads WHERE account_id = ?1 AND id = ?2').bind(accountId, id).first<HeadRow>();
}

/**
 * The account's head with this id (its index row) and a reader of its stored document for when it
 * is needed, or null. A prediction looks its head up here once: the row answers 404 / 409 at
 * once, the document is read only if the head is not loaded yet. The reader reads the row's own
 * object (the version the row names, with no second D1 query); only if a newer write has
 * replaced it since does it look the head up again ({@link readHead}).
 */
export async function openHead(db: D1Database, bucket: R2Bucket, accountId: string, id: string): Promise<{ row: HeadRow; readDocument(): Promise<R2ObjectBody | null> } | null> {
  const row = await findHead(db, accountId, id);
  if (!row) return null;
  return { row, readDocument: async () => (await bucket.get(row.blob_key)) ?? (await readHead(db, bucket, accountId, id))?.body ?? null };
}

/** The account's heads, most recently updated first. */
export async function listHeads(db: D1Database, accountId: string): Promise<HeadRow[]> {
  const { results } = await db.prepare('SELECT * FROM heads WHERE account_id = ?1 ORDER BY updated_at DESC, id').bind(accountId).all<HeadRow>();
  return results;
}

/** A 412 carrying the head's current ETag. */
export function preconditionFailed(current: HeadRow, message: string): TannerinError {
  return new TannerinError('precondition_failed', `${message} The current ETag is ${quoteEtag(current.etag)}.`, {
    headers: { etag: quoteEtag(current.etag) },
  });
}

/** A document ready to store: validated, with its bytes and their digest. */
export interface HeadUpload {
  head: ValidatedHead;
  bytes: Uint8Array;
  /** Hex SHA-256 of `bytes`. */
  etag: string;
}

/** Writes the document to a fresh R2 key (R2 verifies the SHA-256 on arrival). */
async function putBlob(bucket: R2Bucket, accountId: string, upload: HeadUpload): Promise<string> {
  const key = `${headPrefix(accountId)}${upload.head.doc.id}/${crypto.randomUUID()}`;
  await bucket.put(key, upload.bytes, {
    sha256: upload.etag,
    httpMetadata: { contentType: 'application/json' },
    customMetadata: { etag: upload.etag },
  });
  return key;
}

/** Deletes an object no index row points at (any more); a failure only leaves garbage behind. */
async function dropBlob(bucket: R2Bucket, key: string): Promise<void> {
  try {
    await bucket.delete(key);
  } catch (err) {
    console.error(`tannerin: could not delete unreferenced head object ${key}:`, err);
  }
}

const indexValues = (upload: HeadUpload) =>
  [upload.head.doc.name, upload.head.doc.backbone, JSON.stringify(upload.head.doc.classes), upload.bytes.byteLength, upload.head.doc.backboneTail ? 1 : 0] as const;

/** The per-account quotas a write is checked against (worker/store/quotas.ts). */
export interface AccountQuota {
  maxHeads: number;
  maxBytes: number;
}

/** The account's status and usage, read after a refused write to say why. */
async function usage(db: D1Database, accountId: string): Promise<{ status: string; heads: number; bytes: number } | null> {
  return db
    .prepare('SELECT status, (SELECT COUNT(*) FROM heads WHERE account_id = ?1) AS heads, (SELECT COALESCE(SUM(bytes), 0) FROM heads WHERE account_id = ?1) AS bytes FROM accounts WHERE id = ?1')
    .bind(accountId)
    .first<{ status: string; heads: number; bytes: number }>();
}

const accountGone = () => new TannerinError('unauthorized', 'The account no longer exists, or is being deleted.');

/** The 403 for a write of `adding` bytes that would take the account over its byte quota. */
function bytesExceeded(used: number, adding: number, limit: number): TannerinError {
  return new TannerinError(
    'quota_exceeded',
    `The account stores ${formatBytes(used)} of head documents; its limit is ${formatBytes(limit)}, and this write would add ${formatBytes(adding)}. Delete heads first.`,
  );
}

/**
 * Creates the head (the caller sent `If-None-Match: *`). The insert checks in one statement that
 * the id is free, that the account is active, and that it stays within its head and byte quotas.
 */
export async function createHead(db: D1Database, bucket: R2Bucket, accountId: string, upload: HeadUpload, quota: AccountQuota, now: number): Promise<HeadRow> {
  const id = upload.head.doc.id;
  const key = await putBlob(bucket, accountId, upload);
  let row: HeadRow | null;
  try {
    row = await db
      .prepare(
        `INSERT INTO heads (account_id, id, version, etag, blob_key, name, backbone, classes, bytes, fine_tuned, created_at, updated_at)
         SELECT ?1, ?2, 1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10
         WHERE (SELECT status FROM accounts WHERE id = ?1) = 'active'
           AND (SELECT COUNT(*) FROM heads WHERE account_id = ?1) < ?11
           AND (SELECT COALESCE(SUM(bytes), 0) FROM heads WHERE account_id = ?1) + ?8 <= ?12
         ON CONFLICT (account_id, id) DO NOTHING
         RETURNING *`,
      )
      .bind(accountId, id, upload.etag, key, ...indexValues(upload), now, quota.maxHeads, quota.maxBytes)
      .first<HeadRow>();
  } catch (err) {
    await dropBlob(bucket, key);
    // The account was deleted while this write was under way (foreign key).
    if (String(err).includes('FOREIGN KEY')) throw accountGone();
    throw err;
  }
  if (row) return row;
  await dropBlob(bucket, key);
  const current = await findHead(db, accountId, id);
  if (current) throw preconditionFailed(current, `Head ${id} already exists (If-None-Match: * failed).`);
  const used = await usage(db, accountId);
  if (used?.status !== 'active') throw accountGone();
  if (used.heads >= quota.maxHeads) throw new TannerinError('quota_exceeded', `The account already holds ${used.heads} heads; its limit is ${quota.maxHeads}. Delete one first.`);
  throw bytesExceeded(used.bytes, upload.bytes.byteLength, quota.maxBytes);
}

/**
 * Replaces the document of `current` (whose ETag the caller's `If-Match` named). Succeeds only if
 * nobody wrote the head since `current` was read: of two concurrent updates from the same
 * version, exactly one wins and the other gets a 412. The byte quota counts the new document in
 * place of the one it replaces.
 */
export async function updateHead(db: D1Database, bucket: R2Bucket, current: HeadRow, upload: HeadUpload, quota: AccountQuota, now: number): Promise<HeadRow> {
  const key = await putBlob(bucket, current.account_id, upload);
  const row = await db
    .prepare(
      `UPDATE heads SET version = version + 1, etag = ?1, blob_key = ?2, name = ?3, backbone = ?4, classes = ?5, bytes = ?6, fine_tuned = ?7, updated_at = ?8
       WHERE account_id = ?9 AND id = ?10 AND version = ?11
         AND (SELECT status FROM accounts WHERE id = ?9) = 'active'
         AND (SELECT COALESCE(SUM(bytes), 0) FROM heads WHERE account_id = ?9 AND id != ?10) + ?6 <= ?12
       RETURNING *`,
    )
    .bind(upload.etag, key, ...indexValues(upload), now, current.account_id, current.id, current.version, quota.maxBytes)
    .first<HeadRow>()
    .catch(async (err: unknown) => {
      await dropBlob(bucket, key);
      throw err;
    });
  if (row) {
    await dropBlob(bucket, current.blob_key);
    return row;
  }
  await dropBlob(bucket, key);
  const now412 = await findHead(db, current.account_id, current.id);
  if (!now412) throw new TannerinError('not_found', `Head ${current.id} was deleted while this update was under way.`);
  if (now412.version !== current.version) throw preconditionFailed(now412, `Head ${current.id} was changed by another write while this one was under way.`);
  const used = await usage(db, current.account_id);
  if (used?.status !== 'active') throw accountGone();
  throw bytesExceeded(used.bytes - now412.bytes, upload.bytes.byteLength, quota.maxBytes);
}

/** Deletes `current` if it is still the version read; the object goes after the index row. */
export async function deleteHead(db: D1Database, bucket: R2Bucket, current: HeadRow): Promise<void> {
  const { meta } = await db
    .prepare('DELETE FROM heads WHERE account_id = ?1 AND id = ?2 AND version = ?3')
    .bind(current.account_id, current.id, current.version)
    .run();
  if (meta.changes !== 1) {
    const now = await findHead(db, current.account_id, current.id);
    if (!now) throw new TannerinError('not_found', `Head ${current.id} was already deleted.`);
    throw preconditionFailed(now, `Head ${current.id} was changed by another write while it was being deleted.`);
  }
  await dropBlob(bucket, current.blob_key);
}

/**
 * The stored document of the account's head, with the index row it belongs to. An update may
 * delete the object a just-read row points at; the row is then read again.
 */
export async function readHead(db: D1Database, bucket: R2Bucket, accountId: string, id: string): Promise<{ row: HeadRow; body: R2ObjectBody } | null> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const row = await findHead(db, accountId, id);
    if (!row) return null;
    const body = await bucket.get(row.blob_key);
    if (body) return { row, body };
  }
  throw new Error(`head ${accountId}/${id}: the index points at a missing object`);
}
