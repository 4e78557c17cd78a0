/**
 * Quotas and the account lifecycle (issue 13, point 4): the byte quota per account, checked in the
 * statement that writes the index row (concurrent writes cannot pass it together); the limits on
 * published heads, refused before anything is stored; `last_used_at` written at most once a day
 * per token; account deletion in states (`deleting`, then objects, then rows) that a retry with
 * the same token or the scheduled sweep finishes after a failure half-way; the sweep removing idle
 * accounts and orphaned R2 objects, called in workerd (the Worker's `scheduled` export and the
 * handler factory).
 */
import { createScheduledController, env, SELF } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import type { HeadDocument } from '../../shared/head/document.ts';
import { validateHeadDocument } from '../../shared/head/validate.ts';
import type { BackboneManifest } from '../../shared/model/manifest.ts';
import { createApp } from '../../worker/app.ts';
import type { Env } from '../../worker/env.ts';
import { runMaintenance } from '../../worker/lifecycle/maintenance.ts';
import worker from '../../worker/index.ts';
import { createScheduledHandler } from '../../worker/lifecycle/scheduled.ts';
import { publishHead } from '../../worker/store/published.ts';
import { headBytes, makeTestHead } from '../helpers/heads.ts';
import { BASE, bearer, expectError, servedBackbone, signUp, storedState, testEnv } from './helpers.ts';

const bindings = testEnv(env);
const operator = { authorization: `Bearer ${bindings.OPERATOR_TOKEN as string}` };
let backbone: BackboneManifest;
beforeAll(async () => {
  backbone = await servedBackbone();
});

const smallHead = (seed = 1, id: string = crypto.randomUUID(), hidden = 0): HeadDocument =>
  makeTestHead(backbone, { id, seed, hidden, parts: ['flatten_1'], classes: ['yes', 'no'] });

/** An app of the test's own over `envOverride` (bindings replaced or added). */
function appWith(envOverride: Partial<Env> & Record<string, unknown>, now?: () => number) {
  const app = createApp(now ? { now } : {});
  const e = { ...bindings, ...envOverride };
  return (path: string, init: RequestInit = {}) => app.fetch(new Request(`${BASE}${path}`, init), e);
}

const putInit = (token: string, doc: HeadDocument, condition: Record<string, string>): RequestInit => ({
  method: 'PUT',
  body: headBytes(doc),
  headers: { 'content-type': 'application/json', ...bearer(token), ...condition },
});

/**
 * `bucket` whose `delete` removes only the first `allowed` keys in all (one call may be cut
 * half-way), then throws: an R2 failure in the middle of a deletion.
 */
function failingBucket(bucket: R2Bucket, allowed: number): R2Bucket {
  let left = allowed;
  return new Proxy(bucket, {
    get(target, key) {
      if (key === 'delete') {
        return async (keys: string | string[]) => {
          const all = Array.isArray(keys) ? keys : [keys];
          const now = all.slice(0, left);
          left -= now.length;
          if (now.length) await target.delete(now);
          if (now.length < all.length) throw new Error('R2 failed (test)');
        };
      }
      const value: unknown = Reflect.get(target, key);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Everything left of an account: D1 rows in every table that names it, and its R2 objects. */
async function leftOf(accountId: string): Promise<{ rows: number; objects: number }> {
  let rows = 0;
  for (const [table, column] of [['accounts', 'id'], ['tokens', 'account_id'], ['heads', 'account_id'], ['pairing_codes', 'account_id']] as const) {
    rows += (await bindings.DB.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE ${column} = ?1`).bind(accountId).first<number>('n')) ?? 0;
  }
  const objects = (await bindings.HEADS.list({ prefix: `heads/${accountId}/` })).objects.length;
  return { rows, objects };
}

async function accountWithHeads(n: number): Promise<{ token: string; accountId: string }> {
  const { token, accountId } = await signUp();
  for (let i = 0; i < n; i++) {
    const doc = smallHead(i + 1);
    const res = await SELF.fetch(`${BASE}/v1/heads/${doc.id}`, putInit(token, doc, { 'if-none-match': '*' }));
    expect(res.status, await res.clone().text()).toBe(201);
  }
  await bindings.DB.prepare("INSERT INTO pairing_codes (lookup, hash, account_id, created_at, expires_at) VALUES (?1, 'x', ?2, 0, 1)").bind(crypto.randomUUID(), accountId).run();
  return { token, accountId };
}

describe('byte quota per account', () => {
  it('concurrent creates cannot pass it together; the 403 names the bytes used and the limit', async () => {
    const docs = [smallHead(1), smallHead(2), smallHead(3)];
    const sizes = docs.map((d) => headBytes(d).byteLength);
    const limit = sizes.reduce((a, b) => a + b) - 1; // any two fit, not all three
    const fetch = appWith({ MAX_ACCOUNT_BYTES: String(limit) });
    const { token, accountId } = await signUp();
    const results = await Promise.all(docs.map((d) => fetch(`/v1/heads/${d.id}`, putInit(token, d, { 'if-none-match': '*' }))));
    expect(results.map((r) => r.status).sort()).toEqual([201, 201, 403]);
    const refused = results.find((r) => r.status === 403) as Response;
    const message = await expectError(refused, 403, 'quota_exceeded');
    expect(message).toContain(`limit is ${limit.toLocaleString('en-US')} bytes`);
    const state = await storedState(bindings, accountId);
    expect(state.rows).toHaveLength(2);
    expect(state.objects).toHaveLength(2);
    const used = (state.rows as { bytes: number }[]).reduce((a, r) => a + r.bytes, 0);
    expect(message).toContain(`stores ${used.toLocaleString('en-US')} bytes`);

    // An update counts the new document in place of the old one.
    const stored = state.rows[0] as { id: string; etag: string; bytes: number };
    const bigger = smallHead(4, stored.id, 16);
    expect(headBytes(bigger).byteLength + used - stored.bytes).toBeGreaterThan(limit);
    const update = await fetch(`/v1/heads/${stored.id}`, putInit(token, bigger, { 'if-match': `"${stored.etag}"` }));
    expect(await expectError(update, 403, 'quota_exceeded')).toContain(`limit is ${limit.toLocaleString('en-US')} bytes`);
    expect(await storedState(bindings, accountId)).toEqual(state);
    // A same-size update still fits.
    const same = smallHead(5, stored.id);
    expect((await fetch(`/v1/heads/${stored.id}`, putInit(token, same, { 'if-match': `"${stored.etag}"` }))).status).toBe(200);
  });
});

describe('published heads', () => {
  it('over MAX_PUBLISHED_HEADS or MAX_PUBLISHED_HEAD_BYTES: refused before anything is stored', async () => {
    const objects = async () => (await bindings.HEADS.list({ prefix: 'published/quota-test' })).objects.length;
    const doc = smallHead(1);
    const publish = (override: Record<string, unknown>) =>
      appWith(override)('/v1/operator/heads/quota-test', { method: 'PUT', body: headBytes(doc), headers: { 'content-type': 'application/json', ...operator } });
    expect(await expectError(await publish({ MAX_PUBLISHED_HEADS: 0 }), 403, 'quota_exceeded')).toMatch(/limit is 0/);
    expect(await expectError(await publish({ MAX_PUBLISHED_HEAD_BYTES: 1000 }), 413, 'payload_too_large')).toMatch(/1000 bytes/);
    expect(await objects()).toBe(0);
    // The limit is checked again in the insert (concurrent publishes): the files written go.
    const err = await publishHead(bindings.DB, bindings.HEADS, 'quota-test', validateHeadDocument(doc, backbone).doc, null, 0, Date.now()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'quota_exceeded' });
    expect(await objects()).toBe(0);
    expect(await bindings.DB.prepare("SELECT COUNT(*) AS n FROM published_heads WHERE name = 'quota-test'").first('n')).toBe(0);
  });
});

describe('last used', () => {
  it('is written at most once a UTC day per token', async () => {
    let now = Date.UTC(2031, 4, 6, 0, 30);
    const fetch = appWith({}, () => now);
    const { token, tokenId } = await signUp();
    const lastUsed = () => bindings.DB.prepare('SELECT last_used_at FROM tokens WHERE id = ?1').bind(tokenId).first<number | null>('last_used_at');
    expect((await fetch('/v1/accounts/me', { headers: bearer(token) })).status).toBe(200);
    expect(await lastUsed()).toBe(now);
    const first = now;
    now += 23 * 3600_000; // still the same day
    expect((await fetch('/v1/tokens', { headers: bearer(token) })).status).toBe(200);
    expect(await lastUsed()).toBe(first);
    now += 3600_000; // the next day
    expect((await fetch('/v1/accounts/me', { headers: bearer(token) })).status).toBe(200);
    expect(await lastUsed()).toBe(now);
  });
});

describe('account deletion in states', () => {
  it('fails half-way: the account stays `deleting`, its token works only to retry, and the retry leaves nothing', async () => {
    const { token, accountId } = await accountWithHeads(3);
    const broken = appWith({ HEADS: failingBucket(bindings.HEADS, 1) });
    await expectError(await broken('/v1/accounts/me', { method: 'DELETE', headers: bearer(token) }), 500, 'internal_error');
    expect(await bindings.DB.prepare('SELECT status FROM accounts WHERE id = ?1').bind(accountId).first('status')).toBe('deleting');
    expect((await leftOf(accountId)).objects).toBe(2);
    // Every other route refuses the token; no head can be written.
    expect(await expectError(await SELF.fetch(`${BASE}/v1/accounts/me`, { headers: bearer(token) }), 401, 'unauthorized')).toMatch(/being deleted/);
    const doc = smallHead(9);
    await expectError(await SELF.fetch(`${BASE}/v1/heads/${doc.id}`, putInit(token, doc, { 'if-none-match': '*' })), 401, 'unauthorized');
    // The retry resumes it.
    expect((await SELF.fetch(`${BASE}/v1/accounts/me`, { method: 'DELETE', headers: bearer(token) })).status).toBe(204);
    expect(await leftOf(accountId)).toEqual({ rows: 0, objects: 0 });
    // Done: the token is unknown now (a client treats this 401 as "already deleted").
    await expectError(await SELF.fetch(`${BASE}/v1/accounts/me`, { method: 'DELETE', headers: bearer(token) }), 401, 'unauthorized');
  });

  it('fails half-way: the scheduled handler finishes it', async () => {
    const { token, accountId } = await accountWithHeads(3);
    const broken = appWith({ HEADS: failingBucket(bindings.HEADS, 2) });
    await expectError(await broken('/v1/accounts/me', { method: 'DELETE', headers: bearer(token) }), 500, 'internal_error');
    expect((await leftOf(accountId)).objects).toBe(1);
    // A sweep whose R2 fails too leaves it for the next run, and says so.
    const failing = await runMaintenance({ ...bindings, HEADS: failingBucket(bindings.HEADS, 0) }, { now: Date.now(), orphanPrefixes: [] });
    expect(failing.deletionFailures).toBeGreaterThanOrEqual(1);
    expect(await bindings.DB.prepare('SELECT status FROM accounts WHERE id = ?1').bind(accountId).first('status')).toBe('deleting');
    const handler = createScheduledHandler({ orphanPrefixes: [] });
    const report = await handler(createScheduledController({ scheduledTime: Date.now(), cron: '17 3 * * *' }), bindings);
    expect(report.accountsDeleted).toBeGreaterThanOrEqual(1);
    expect(await leftOf(accountId)).toEqual({ rows: 0, objects: 0 });
  });
});

describe('the scheduled sweep', () => {
  it('the Worker’s scheduled export removes accounts idle for 13 months, keeps those used since', async () => {
    const day = 86_400_000;
    const old = Date.now() - 14 * 31 * day;
    const idle = await accountWithHeads(1);
    const used = await accountWithHeads(1);
    await bindings.DB.batch([
      bindings.DB.prepare('UPDATE accounts SET created_at = ?1 WHERE id IN (?2, ?3)').bind(old, idle.accountId, used.accountId),
      bindings.DB.prepare('UPDATE tokens SET created_at = ?1, last_used_at = ?1 WHERE account_id = ?2').bind(old, idle.accountId),
      // Made long ago, used 12 months ago: not idle yet.
      bindings.DB.prepare('UPDATE tokens SET created_at = ?1, last_used_at = ?2 WHERE account_id = ?3').bind(old, Date.now() - 366 * day, used.accountId),
    ]);
    // The Worker's own export (SELF.scheduled() would need the service_binding_extra_handlers flag).
    await worker.scheduled(createScheduledController({ scheduledTime: new Date(), cron: '17 3 * * *' }), bindings);
    expect(await leftOf(idle.accountId)).toEqual({ rows: 0, objects: 0 });
    const kept = await leftOf(used.accountId);
    expect(kept.objects).toBe(1);
    expect(kept.rows).toBeGreaterThan(0);
  });

  it('deletes unreferenced R2 objects older than the grace period, and nothing else', async () => {
    const { token, accountId } = await accountWithHeads(1);
    const referenced = (await storedState(bindings, accountId)).objects.map((o) => (o as { key: string }).key);
    expect(referenced).toHaveLength(1);
    const ghost = crypto.randomUUID();
    const orphanKeys = [`heads/${accountId}/${crypto.randomUUID()}/${crypto.randomUUID()}`, `heads/${ghost}/${crypto.randomUUID()}/${crypto.randomUUID()}`, `published/sweep-test/${crypto.randomUUID()}/head.json`];
    for (const key of orphanKeys) await bindings.HEADS.put(key, '{}');
    const prefixes = [`heads/${accountId}/`, `heads/${ghost}/`, 'published/sweep-test/'];
    const keys = async () => (await Promise.all(prefixes.map(async (p) => (await bindings.HEADS.list({ prefix: p })).objects.map((o) => o.key)))).flat();

    // Young objects may belong to writes under way: kept.
    const young = await runMaintenance(bindings, { now: Date.now(), orphanPrefixes: prefixes });
    expect(young.orphansDeleted).toBe(0);
    expect((await keys()).sort()).toEqual([...orphanKeys, ...referenced].sort());
    // Past the grace period (one day): the orphans go, the referenced object stays.
    const later = await runMaintenance(bindings, { now: Date.now() + 2 * 86_400_000, orphanPrefixes: prefixes });
    expect(later.orphansDeleted).toBe(3);
    expect(await keys()).toEqual(referenced);
    expect((await SELF.fetch(`${BASE}/v1/heads`, { headers: bearer(token) })).status).toBe(200);
  });
});
