/**
 * Rate limits: the 429 itself, with Retry-After, from an app given low limits (the suite's own
 * configuration raises them all). The clock is injected, so window boundaries are exact.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../worker/app.ts';
import { clientAddress } from '../../worker/client-address.ts';
import { DEFAULT_RATE_LIMITS, rateLimitConfig } from '../../worker/rate-limit-config.ts';
import { BASE, bearer, expectError, float32Body, freshAddress, signUp, testEnv } from './helpers.ts';

/** An app with every rule at `limit` per minute and a clock the test sets. */
function limitedApp(limit: number) {
  let now = Date.UTC(2030, 0, 1, 12, 0, 10); // 10 s into a minute
  const app = createApp({ now: () => now });
  const RATE_LIMITS = Object.fromEntries(Object.keys(DEFAULT_RATE_LIMITS).map((k) => [k, { limit, windowSeconds: 60 }]));
  const bindings = { ...testEnv(env), RATE_LIMITS };
  return {
    fetch: (path: string, init: RequestInit = {}) => app.fetch(new Request(`${BASE}${path}`, init), bindings),
    advance: (ms: number) => (now += ms),
  };
}

describe('rate limits', () => {
  it('account creation: the third from one address in a window is a 429 with Retry-After', async () => {
    const app = limitedApp(2);
    const ip = freshAddress();
    const create = () => app.fetch('/v1/accounts', { method: 'POST', headers: { 'cf-connecting-ip': ip } });
    expect((await create()).status).toBe(201);
    expect((await create()).status).toBe(201);
    const res = await create();
    expect(res.headers.get('retry-after')).toBe('50'); // the window ends 50 s after 12:00:10
    const msg = await expectError(res, 429, 'rate_limited');
    expect(msg).toMatch(/limit is 2 per 60 s/);
    // Another address is counted on its own.
    expect((await app.fetch('/v1/accounts', { method: 'POST', headers: { 'cf-connecting-ip': freshAddress() } })).status).toBe(201);
    // The next window starts afresh.
    app.advance(50_000);
    expect((await create()).status).toBe(201);
  });

  it('predictions are limited per address before any model work, and per token across addresses', async () => {
    const app = limitedApp(1);
    const body = float32Body(new Float32Array(2816).fill(0.1));
    const predict = (headers: Record<string, string>) =>
      app.fetch('/v1/predict', { method: 'POST', body, headers: { 'content-type': 'application/octet-stream', ...headers } });
    const ip = freshAddress();
    expect((await predict({ 'cf-connecting-ip': ip })).status).toBe(200);
    const limited = await predict({ 'cf-connecting-ip': ip });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    await expectError(limited, 429, 'rate_limited');

    const { token } = await signUp();
    expect((await predict({ 'cf-connecting-ip': freshAddress(), ...bearer(token) })).status).toBe(200);
    const msg = await expectError(await predict({ 'cf-connecting-ip': freshAddress(), ...bearer(token) }), 429, 'rate_limited');
    expect(msg).toMatch(/for this token/);
  });

  it('embeddings, head writes and pairing-code redemptions are limited too', async () => {
    const app = limitedApp(1);
    const ip = freshAddress();
    const embed = () => app.fetch('/v1/embed', { method: 'POST', body: new Uint8Array(10), headers: { 'content-type': 'image/png', 'cf-connecting-ip': ip } });
    await embed(); // the first counts (and fails as a bad image)
    await expectError(await embed(), 429, 'rate_limited');

    const { token } = await signUp();
    const write = () => app.fetch('/v1/pairing-codes', { method: 'POST', headers: { ...bearer(token), 'cf-connecting-ip': freshAddress() } });
    expect((await write()).status).toBe(201);
    await expectError(await write(), 429, 'rate_limited');
    const del = await app.fetch('/v1/heads/3f2b8c1e-7a4d-4e9b-9c2f-5d6e7f8a9b0c', { method: 'DELETE', headers: { ...bearer(token), 'cf-connecting-ip': freshAddress() } });
    await expectError(del, 429, 'rate_limited');

    const redeemIp = freshAddress();
    const redeem = () =>
      app.fetch('/v1/pairing-codes/redeem', { method: 'POST', body: JSON.stringify({ code: 'AAAA-AAAA' }), headers: { 'content-type': 'application/json', 'cf-connecting-ip': redeemIp } });
    await expectError(await redeem(), 400, 'invalid_pairing_code');
    await expectError(await redeem(), 429, 'rate_limited');
  });

  it('reads the configuration from RATE_LIMITS (object or JSON text) over the defaults, and refuses nonsense', () => {
    expect(rateLimitConfig({})).toEqual(DEFAULT_RATE_LIMITS);
    const one = { writesPerIp: { limit: 3, windowSeconds: 10 } };
    expect(rateLimitConfig({ RATE_LIMITS: one }).writesPerIp).toEqual({ limit: 3, windowSeconds: 10 });
    expect(rateLimitConfig({ RATE_LIMITS: JSON.stringify(one) }).inferencePerIp).toEqual(DEFAULT_RATE_LIMITS.inferencePerIp);
    expect(() => rateLimitConfig({ RATE_LIMITS: { nope: { limit: 1, windowSeconds: 1 } } })).toThrow(/unknown rule/);
    expect(() => rateLimitConfig({ RATE_LIMITS: { writesPerIp: { limit: -1, windowSeconds: 1 } } })).toThrow(/whole number/);
    expect(() => rateLimitConfig({ RATE_LIMITS: { writesPerIp: { limit: 1, windowSeconds: 0 } } })).toThrow(/whole number/);
  });

  it('counts IPv6 clients by /64 and IPv4 clients by address', () => {
    const at = (ip: string) => clientAddress(new Request(BASE, { headers: { 'cf-connecting-ip': ip } }));
    expect(at('203.0.113.7')).toBe('203.0.113.7');
    expect(at('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(at('2001:0db8:0001:0002:ffff:0:0:9')).toBe('2001:db8:1:2::/64');
    expect(at('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientAddress(new Request(BASE))).toBe('unknown');
  });
});
