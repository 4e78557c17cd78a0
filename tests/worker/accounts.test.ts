/**
 * Accounts and tokens, called as a client would: creation, the token shown once and stored only
 * as a hash, rotation, revocation, and deleting an account with everything it stored.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { AccountResponse, HeadsResponse, TokensResponse } from '../../shared/api/types.ts';
import { sha256Hex } from '../../shared/util/hash.ts';
import { makeTestHead } from '../helpers/heads.ts';
import { bearer, call, expectError, putHead, servedBackbone, signUp, storedState, testEnv } from './helpers.ts';

const db = () => testEnv(env).DB;

/** Every row of every table of ours (D1's own `_cf_*` tables are not readable), as text. */
async function dumpDatabase(): Promise<string> {
  const { results: tables } = await db()
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, 4) <> '_cf_' AND substr(name, 1, 7) <> 'sqlite_'")
    .all<{ name: string }>();
  expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['accounts', 'tokens', 'pairing_codes', 'heads', 'rate_limits']));
  const dumps = await Promise.all(tables.map(async (t) => JSON.stringify((await db().prepare(`SELECT * FROM "${t.name}"`).all()).results)));
  return dumps.join('\n');
}

const me = (token: string) => call('/v1/accounts/me', { headers: bearer(token) });

describe('POST /v1/accounts', () => {
  it('returns an account id and a prefixed token once; the token signs requests in', async () => {
    const created = await signUp('laptop');
    expect(created.accountId).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.token).toMatch(/^tnr_[A-Za-z0-9_-]{43}$/);
    const res = await me(created.token);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as AccountResponse;
    expect(body).toMatchObject({ accountId: created.accountId, tokenId: created.tokenId, heads: 0 });
  });

  it('stores only a SHA-256 hash of the token: the token appears nowhere in D1', async () => {
    const { token, tokenId } = await signUp();
    const dump = await dumpDatabase();
    expect(dump).not.toContain(token);
    expect(dump).not.toContain(token.slice(4)); // nor its random part
    const row = await db().prepare('SELECT hash FROM tokens WHERE id = ?1').bind(tokenId).first<{ hash: string }>();
    expect(row?.hash).toBe(await sha256Hex(token));
  });

  it('refuses a bad label', async () => {
    const res = await call('/v1/accounts', { method: 'POST', body: JSON.stringify({ label: 'x'.repeat(101) }), headers: { 'content-type': 'application/json' } });
    await expectError(res, 400, 'invalid_request');
  });
});

describe('authentication', () => {
  it('a missing token is a 401 with a Bearer challenge', async () => {
    const res = await call('/v1/heads');
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="tannerin"');
    await expectError(res, 401, 'unauthorized');
  });

  for (const [name, header] of [
    ['unknown token', `Bearer tnr_${'A'.repeat(43)}`],
    ['malformed token', 'Bearer hello'],
    ['other scheme', 'Basic dXNlcjpwYXNz'],
  ] as const) {
    it(`${name}: 401 invalid_token, also on routes that allow anonymous calls`, async () => {
      const res = await call('/v1/heads', { headers: { authorization: header } });
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
      await expectError(res, 401, 'unauthorized');
      const predict = await call('/v1/predict', { method: 'POST', headers: { authorization: header, 'content-type': 'application/octet-stream' }, body: new Uint8Array(4) });
      await expectError(predict, 401, 'unauthorized');
    });
  }
});

describe('tokens: rotate and revoke', () => {
  it('rotating replaces the token: the old one stops working, the new one works', async () => {
    const { token, tokenId, accountId } = await signUp('phone');
    const res = await call('/v1/accounts/me/token', { method: 'POST', headers: bearer(token) });
    expect(res.status).toBe(201);
    const rotated = (await res.json()) as { token: string; tokenId: string; accountId: string };
    expect(rotated.accountId).toBe(accountId);
    expect(rotated.token).not.toBe(token);
    expect(rotated.tokenId).not.toBe(tokenId);
    await expectError(await me(token), 401, 'unauthorized');
    expect((await me(rotated.token)).status).toBe(200);
    const list = (await (await call('/v1/tokens', { headers: bearer(rotated.token) })).json()) as TokensResponse;
    expect(list.tokens).toEqual([expect.objectContaining({ id: rotated.tokenId, label: 'phone', current: true })]);
  });

  it('revoking: one device signs out, another revokes a lost device, the last token cannot be revoked', async () => {
    const first = await signUp('laptop');
    const codeRes = await call('/v1/pairing-codes', { method: 'POST', headers: bearer(first.token) });
    const { code } = (await codeRes.json()) as { code: string };
    const redeem = (c: string, label: string) =>
      call('/v1/pairing-codes/redeem', { method: 'POST', body: JSON.stringify({ code: c, label }), headers: { 'content-type': 'application/json' } });
    const second = (await (await redeem(code, 'phone')).json()) as { token: string; tokenId: string };
    const code2 = ((await (await call('/v1/pairing-codes', { method: 'POST', headers: bearer(first.token) })).json()) as { code: string }).code;
    const third = (await (await redeem(code2, 'tablet')).json()) as { token: string; tokenId: string };

    const tokens = ((await (await call('/v1/tokens', { headers: bearer(first.token) })).json()) as TokensResponse).tokens;
    expect(tokens.map((t) => t.label).sort()).toEqual(['laptop', 'phone', 'tablet']);
    expect(JSON.stringify(tokens)).not.toContain(second.token);

    // The phone signs itself out.
    expect((await call('/v1/tokens/current', { method: 'DELETE', headers: bearer(second.token) })).status).toBe(204);
    await expectError(await me(second.token), 401, 'unauthorized');
    // The laptop revokes the (lost) tablet.
    expect((await call(`/v1/tokens/${third.tokenId}`, { method: 'DELETE', headers: bearer(first.token) })).status).toBe(204);
    await expectError(await me(third.token), 401, 'unauthorized');
    // Another account's token id is unknown here.
    const other = await signUp();
    await expectError(await call(`/v1/tokens/${other.tokenId}`, { method: 'DELETE', headers: bearer(first.token) }), 404, 'not_found');
    expect((await me(other.token)).status).toBe(200);
    // The laptop's is the last token now.
    await expectError(await call('/v1/tokens/current', { method: 'DELETE', headers: bearer(first.token) }), 409, 'conflict');
    expect((await me(first.token)).status).toBe(200);
  });
});

describe('DELETE /v1/accounts/me', () => {
  it('deletes the account, its tokens, index rows and R2 objects; other accounts keep theirs', async () => {
    const backbone = await servedBackbone();
    const owner = await signUp();
    const other = await signUp();
    for (const [who, seed] of [[owner, 1], [owner, 2], [other, 3]] as const) {
      const id = crypto.randomUUID();
      const res = await putHead(who.token, id, makeTestHead(backbone, { id, seed, hidden: 0, parts: ['flatten_1'] }), { 'if-none-match': '*' });
      expect(res.status, await res.clone().text()).toBe(201);
    }
    const before = await storedState(testEnv(env), owner.accountId);
    expect(before.rows.length).toBe(2);
    expect(before.objects.length).toBe(2);

    expect((await call('/v1/accounts/me', { method: 'DELETE', headers: bearer(owner.token) })).status).toBe(204);
    await expectError(await me(owner.token), 401, 'unauthorized');
    expect(await storedState(testEnv(env), owner.accountId)).toEqual({ rows: [], objects: [] });
    for (const table of ['accounts', 'tokens']) {
      const column = table === 'accounts' ? 'id' : 'account_id';
      expect(await db().prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE ${column} = ?1`).bind(owner.accountId).first('n')).toBe(0);
    }
    const theirs = (await (await call('/v1/heads', { headers: bearer(other.token) })).json()) as HeadsResponse;
    expect(theirs.heads.length).toBe(1);
    expect((await storedState(testEnv(env), other.accountId)).objects.length).toBe(1);
  });
});
