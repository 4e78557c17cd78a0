/**
 * Deleting an account, in states that survive a failure half-way (README "Accounts and tokens"):
 *
 * 1. the account is marked `deleting` (D1): from then on its tokens work only for
 *    `DELETE /v1/accounts/me`, and no head can be written for it (worker/store/heads.ts checks
 *    the status in the same statement that writes the index row);
 * 2. every R2 object under its prefix is deleted, a page at a time, including objects left over
 *    from interrupted writes;
 * 3. its rows go, in one D1 transaction: index rows, pairing codes, tokens, the account.
 *
 * A failure in 2 or 3 leaves the account `deleting`: a retry with the same token resumes it, and
 * the scheduled handler (worker/lifecycle/maintenance.ts) finishes any account left in that state. Every
 * step is idempotent, so running it twice at once is harmless.
 */
import { headPrefix } from '../store/accounts.ts';

/** Marks the account `deleting` (kept if it already is). False if there is no such account. */
export async function markDeleting(db: D1Database, accountId: string, now: number): Promise<boolean> {
  const { meta } = await db
    .prepare("UPDATE accounts SET status = 'deleting', deleting_since = COALESCE(deleting_since, ?2) WHERE id = ?1")
    .bind(accountId, now)
    .run();
  return meta.changes === 1;
}

/** Steps 2 and 3 for an account already marked `deleting`. */
export async function finishDeletion(db: D1Database, bucket: R2Bucket, accountId: string): Promise<void> {
  await deletePrefix(bucket, headPrefix(accountId));
  await db.batch(
    ['heads', 'pairing_codes', 'tokens']
      .map((table) => db.prepare(`DELETE FROM ${table} WHERE account_id = ?1`).bind(accountId))
      .concat(db.prepare("DELETE FROM accounts WHERE id = ?1 AND status = 'deleting'").bind(accountId)),
  );
}

/** The whole deletion: mark, then objects, then rows. Resumes one left half-way. */
export async function deleteAccount(db: D1Database, bucket: R2Bucket, accountId: string, now: number): Promise<void> {
  if (await markDeleting(db, accountId, now)) await finishDeletion(db, bucket, accountId);
}

/** Deletes every object under `prefix`, a page (up to 1000 keys) at a time. */
async function deletePrefix(bucket: R2Bucket, prefix: string): Promise<void> {
  for (;;) {
    // Always the first page: the previous one was deleted, so a cursor would skip nothing new.
    const page = await bucket.list({ prefix });
    if (page.objects.length) await bucket.delete(page.objects.map((o) => o.key));
    if (!page.truncated || !page.objects.length) return;
  }
}
