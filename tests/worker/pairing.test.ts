/**
 * Pairing a new device: a code from a signed-in device gives the new device its own token, once,
 * for minutes, with only a few wrong tries per code. Time is controlled by an app with an
 * injected clock.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { AccountResponse, PairingCodeResponse, TokenResponse } from '../../shared/api/types.ts';
import { createApp } from '../../worker/app.ts';
import { PAIRING } from '../../worker/store/pairing.ts';
import { BASE, bearer, call, expectError, freshAddress, signUp, testEnv } from './helpers.ts';

const newCode = async (token: string): Promise<PairingCodeResponse> => {
  const res = await call('/v1/pairing-codes', { method: 'POST', headers: bearer(token) });
  expect(res.status).toBe(201);
  return (await res.json()) as PairingCodeResponse;
};
const redeem = (code: string, ip = freshAddress()) =>
  call('/v1/pairing-codes/redeem', { method: 'POST', body: JSON.stringify({ code }), headers: { 'content-type': 'application/json', 'cf-connecting-ip': ip } });

/** A code with one character changed (same lookup half, wrong secret half). */
const wrongSecret = (code: string) => code.slice(0, -1) + (code.endsWith('0') ? '1' : '0');

describe('pairing codes', () => {
  it('a code is short, typable, expires in minutes, and gives the new device a token for the same account', async () => {
    const owner = await signUp();
    const { code, expiresAt, expiresInSeconds } = await newCode(owner.token);
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    expect(expiresInSeconds).toBe(PAIRING.ttlMs / 1000);
    expect(Date.parse(expiresAt) - Date.now()).toBeLessThanOrEqual(PAIRING.ttlMs);
    // Typed loosely: lower case, spaces instead of the hyphen.
    const res = await redeem(` ${code.toLowerCase().replace('-', ' ')} `);
    expect(res.status).toBe(201);
    const device = (await res.json()) as TokenResponse;
    expect(device.accountId).toBe(owner.accountId);
    expect(device.token).not.toBe(owner.token);
    const me = (await (await call('/v1/accounts/me', { headers: bearer(device.token) })).json()) as AccountResponse;
    expect(me.accountId).toBe(owner.accountId);
    // Both devices stay signed in.
    expect((await call('/v1/accounts/me', { headers: bearer(owner.token) })).status).toBe(200);
  });

  it('works once', async () => {
    const owner = await signUp();
    const { code } = await newCode(owner.token);
    const [a, b] = await Promise.all([redeem(code), redeem(code)]);
    expect([a.status, b.status].sort()).toEqual([201, 400]);
    await expectError(await redeem(code), 400, 'invalid_pairing_code');
  });

  it('is stored hashed', async () => {
    const owner = await signUp();
    const { code } = await newCode(owner.token);
    const rows = JSON.stringify((await testEnv(env).DB.prepare('SELECT * FROM pairing_codes').all()).results);
    expect(rows).not.toContain(code.replace('-', ''));
    expect(rows).not.toContain(code);
  });

  it('a new code replaces the account’s earlier one', async () => {
    const owner = await signUp();
    const first = await newCode(owner.token);
    const second = await newCode(owner.token);
    await expectError(await redeem(first.code), 400, 'invalid_pairing_code');
    expect((await redeem(second.code)).status).toBe(201);
  });

  it('expires', async () => {
    let now = Date.now();
    const app = createApp({ now: () => now });
    const bindings = testEnv(env);
    const fetch = (path: string, init: RequestInit) => app.fetch(new Request(`${BASE}${path}`, init), bindings);
    const owner = await signUp();
    const { code } = (await (await fetch('/v1/pairing-codes', { method: 'POST', headers: bearer(owner.token) })).json()) as PairingCodeResponse;
    now += PAIRING.ttlMs;
    const res = await fetch('/v1/pairing-codes/redeem', { method: 'POST', body: JSON.stringify({ code }), headers: { 'content-type': 'application/json' } });
    await expectError(res, 400, 'invalid_pairing_code');
    now -= 1; // one millisecond before expiry it would still have worked
    const ok = await fetch('/v1/pairing-codes/redeem', { method: 'POST', body: JSON.stringify({ code }), headers: { 'content-type': 'application/json' } });
    expect(ok.status).toBe(201);
  });

  it(`allows ${PAIRING.maxAttempts} tries per code; a burnt code then answers exactly as an unknown one, even to the right code`, async () => {
    const owner = await signUp();
    const { code } = await newCode(owner.token);
    const unknownMessage = await expectError(await redeem('ZZZZ-ZZZZ'), 400, 'invalid_pairing_code');
    for (let i = 0; i < PAIRING.maxAttempts; i++) {
      // From different addresses: the per-code limit holds whoever guesses.
      expect(await expectError(await redeem(wrongSecret(code)), 400, 'invalid_pairing_code')).toBe(unknownMessage);
    }
    const res = await redeem(code);
    expect(res.headers.get('retry-after')).toBeNull();
    expect(await expectError(res, 400, 'invalid_pairing_code')).toBe(unknownMessage);
  });

  it(`concurrent wrong guesses get at most ${PAIRING.maxAttempts} tries between them`, async () => {
    const owner = await signUp();
    const { code } = await newCode(owner.token);
    const guesses = await Promise.all(Array.from({ length: 3 * PAIRING.maxAttempts }, () => redeem(wrongSecret(code))));
    for (const res of guesses) await expectError(res, 400, 'invalid_pairing_code');
    // Every try is counted in one atomic update before the code is compared: never past the limit.
    const attempts = (await testEnv(env).DB.prepare('SELECT attempts FROM pairing_codes WHERE account_id = ?1').bind(owner.accountId).first<{ attempts: number }>())?.attempts;
    expect(attempts).toBe(PAIRING.maxAttempts);
    await expectError(await redeem(code), 400, 'invalid_pairing_code');
  });

  it('refuses malformed codes and bodies', async () => {
    await expectError(await redeem('not-a-code'), 400, 'invalid_pairing_code');
    await expectError(await redeem('UUUU-UUUU'), 400, 'invalid_pairing_code'); // U is not in the alphabet
    const noCode = await call('/v1/pairing-codes/redeem', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    await expectError(noCode, 400, 'invalid_request');
    const notJson = await call('/v1/pairing-codes/redeem', { method: 'POST', body: 'code', headers: { 'content-type': 'text/plain' } });
    await expectError(notJson, 415, 'unsupported_media_type');
    await expectError(await call('/v1/pairing-codes', { method: 'POST' }), 401, 'unauthorized');
  });
});
