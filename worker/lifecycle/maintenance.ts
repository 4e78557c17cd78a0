/**
 * The daily sweep (the `scheduled` handler, worker/lifecycle/scheduled.ts; `[triggers] crons` in
 * wrangler.toml). In order:
 *
 * 1. idle accounts: an active account none of whose tokens was made or used in the last
 *    `IDLE_ACCOUNT_MONTHS` (13) months is marked `deleting` (one UPDATE that re-checks the
 *    condition, so an account used meanwhile stays);
 * 2. deletions: every account marked `deleting` (idle ones, and deletions a client started and
 *    that failed half-way) loses its R2 objects, then its rows (worker/lifecycle/account-deletion.ts);
 * 3. orphaned objects: an R2 object under `heads/` or `published/` that no D1 row references
 *    (left by an interrupted write, or a failed delete of a replaced version) is deleted once it
 *    is older than `ORPHAN_GRACE_SECONDS` (a day): a write puts its object before the row that
 *    points at it, so a younger object may belong to a write still under way.
 *
 * Each run does a bounded amount of work ({@link MaintenanceOptions}); what is left waits for the
 * next run. One account failing does not stop the others.
 */
import type { Env } from '../env.ts';
import { quotas } from '../store/quotas.ts';
import { finishDeletion } from './account-deletion.ts';
import { listPublished } from '../store/published.ts';

/** Options of {@link runMaintenance}. */
export interface MaintenanceOptions {
  /** The run's time, in ms since the epoch (the cron's scheduled time). */
  now: number;
  /** Most accounts marked idle, and most deletions finished, per run (default 100 each). */
  maxAccounts?: number;
  /** Most R2 list pages (1,000 keys each) read per prefix per run (default 100). */
  maxListPages?: number;
  /**
   * Prefixes swept for orphans (default `heads/` and `published/`); the tests narrow it to their
   * own objects.
   */
  orphanPrefixes?: readonly string[];
}

/** What one run did. */
export interface MaintenanceReport {
  /** Accounts marked `deleting` for being idle. */
  idleAccounts: number;
  /** Deletions finished (idle accounts, and deletions left half-way). */
  accountsDeleted: number;
  /** Deletions that failed this time (still `deleting`; the next run tries again). */
  deletionFailures: number;
  /** R2 objects looked at by the orphan sweep. */
  objectsScanned: number;
  /** Unreferenced R2 objects deleted. */
  orphansDeleted: number;
}

/** D1 allows 100 bound parameters per statement. */
const KEYS_PER_QUERY = 90;

/** `now` minus `months` calendar months (UTC). */
export function monthsBefore(now: number, months: number): number {
  const d = new Date(now);
  d.setUTCMonth(d.getUTCMonth() - months);
  return d.getTime();
}

/** Runs the sweep once; see the module comment. */
export async function runMaintenance(env: Pick<Env, 'DB' | 'HEADS' | 'IDLE_ACCOUNT_MONTHS' | 'ORPHAN_GRACE_SECONDS'>, options: MaintenanceOptions): Promise<MaintenanceReport> {
  const config = quotas(env);
  const maxAccounts = options.maxAccounts ?? 100;
  const report: MaintenanceReport = { idleAccounts: 0, accountsDeleted: 0, deletionFailures: 0, objectsScanned: 0, orphansDeleted: 0 };

  const cutoff = monthsBefore(options.now, config.idleAccountMonths);
  const idle = await env.DB.prepare(
    `UPDATE accounts SET status = 'deleting', deleting_since = ?2
     WHERE id IN (
       SELECT a.id FROM accounts a
       WHERE a.status = 'active' AND a.created_at < ?1
         AND NOT EXISTS (SELECT 1 FROM tokens t WHERE t.account_id = a.id AND MAX(t.created_at, COALESCE(t.last_used_at, 0)) >= ?1)
       LIMIT ?3)
     RETURNING id`,
  )
    .bind(cutoff, options.now, maxAccounts)
    .all<{ id: string }>();
  report.idleAccounts = idle.results.length;

  const { results: deleting } = await env.DB.prepare("SELECT id FROM accounts WHERE status = 'deleting' ORDER BY deleting_since, id LIMIT ?1")
    .bind(maxAccounts)
    .all<{ id: string }>();
  for (const { id } of deleting) {
    try {
      await finishDeletion(env.DB, env.HEADS, id);
      report.accountsDeleted++;
    } catch (err) {
      report.deletionFailures++;
      console.error(`tannerin: could not finish deleting account ${id} (the next run tries again):`, err);
    }
  }

  const before = options.now - config.orphanGraceMs;
  const published = new Set((await listPublished(env.DB)).map((r) => `published/${r.name}/${r.write_id}/`));
  for (const prefix of options.orphanPrefixes ?? ['heads/', 'published/']) {
    let cursor: string | undefined;
    for (let page = 0; page < (options.maxListPages ?? 100); page++) {
      const listed = await env.HEADS.list({ prefix, ...(cursor ? { cursor } : {}) });
      report.objectsScanned += listed.objects.length;
      const old = listed.objects.filter((o) => o.uploaded.getTime() <= before).map((o) => o.key);
      const orphans = [
        ...(await unreferencedHeadObjects(env.DB, old.filter((k) => k.startsWith('heads/')))),
        ...old.filter((k) => k.startsWith('published/') && !published.has(k.split('/').slice(0, 3).join('/') + '/')),
      ];
      if (orphans.length) {
        await env.HEADS.delete(orphans);
        report.orphansDeleted += orphans.length;
      }
      if (!listed.truncated) break;
      cursor = listed.cursor;
    }
  }
  return report;
}

/** Those of `keys` (objects under `heads/`) that no index row points at. */
async function unreferencedHeadObjects(db: D1Database, keys: string[]): Promise<string[]> {
  const referenced = new Set<string>();
  for (let i = 0; i < keys.length; i += KEYS_PER_QUERY) {
    const chunk = keys.slice(i, i + KEYS_PER_QUERY);
    const { results } = await db
      .prepare(`SELECT blob_key FROM heads WHERE blob_key IN (${chunk.map((_, j) => `?${j + 1}`).join(', ')})`)
      .bind(...chunk)
      .all<{ blob_key: string }>();
    for (const r of results) referenced.add(r.blob_key);
  }
  return keys.filter((k) => !referenced.has(k));
}
