/**
 * Rate limits: the 429 itself, with Retry-After, from apps given low limits (the suite's own
 * configuration raises them all). The D1 rules run on an injected clock, so their window
 * boundaries are exact; the per-address limits are real miniflare rate limiting bindings
 * (TEST_RATE_LIMITER_2, 2 per 60 s, bound in place of the deployed ones), whose windows follow
 * the wall clock: a sequence that straddles a minute boundary is run again.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../worker/app.ts';
import { clientAddress } from '../../worker/http/client-address.ts';
import { EDGE_RATE_RULES, edgeBucket, type EdgeLimiterName } from '../../worker/rate-limit/edge-config.ts';
import { DEFAULT_RATE_LIMITS, rateLimitConfig } from '../../worker/rate-limit/d1-config.ts';
import { countedD1, newStorageCounts } from '../../worker/store/storage-counts.ts';
import { BASE, bearer, expectError, float32Body, freshAddress, signUp, testEnv } from './helpers.ts';

/** The low-limit binding of the test configuration (vitest.config.ts): 2 per 60 s. */
const LOW_LIMITER = (env as unknown as { TEST_RATE_LIMITER_2: RateLimit }).TEST_RATE_LIMITER_2;

/**
 * An app with every D1 rule at `limit` per minute, a clock the test sets, the `low` bindings
 * replaced by the 2-per-minute limiter, and its D1 queries counted.
 */
function limitedApp(limit: number, low: EdgeLimiterName[] = []) {
  let now = Date.UTC(2030, 0, 1, 12, 0, 10); // 10 s into a minute
  const app = createApp({ now: () => now });
  const RATE_LIMITS = Object.fromEntries(Object.keys(DEFAULT_RATE_LIMITS).map((k) => [k, { limit, windowSeconds: 60 }]));
  const counts = newStorageCounts();
  const base = testEnv(env);
  const bindings = { ...base, RATE_LIMITS, DB: countedD1(base.DB, counts), ...Object.fromEntries(low.map((name) => [name, LOW_LIMITER])) };
  return {
    fetch: (path: string, init: RequestInit = {}) => app.fetch(new Request(`${BASE}${path}`, init), bindings),
    advance: (ms: number) => (now += ms),
    counts,
  };
}

/**
 * Runs `sequence` (given a fresh client address) until one run falls inside one wall-clock minute,
 * the window of the 60 s limiter (at most three runs; two boundaries in a row cannot happen).
 */
async function inOneMinute(sequence: (ip: string) => Promise<void>): Promise<void> {
  for (let run = 0; ; run++) {
    const minute = Math.floor(Date.now() / 60_000);
    try {
      await sequence(freshAddress());
      return;
    } catch (err) {
      if (run >= 2 || Math.floor(Date.now() / 60_000) === minute) throw err;
    }
  }
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

  it('predictions and embeddings are limited per address by the binding, before any model work; per token in D1', async () => {
    const body = float32Body(new Float32Array(2816).fill(0.1));
    await inOneMinute(async (ip) => {
      const app = limitedApp(1_000, ['INFERENCE_RATE_LIMITER']);
      const predict = () => app.fetch('/v1/predict', { method: 'POST', body, headers: { 'content-type': 'application/octet-stream', 'cf-connecting-ip': ip } });
      expect((await predict()).status).toBe(200);
      // The embed route shares the bucket; a bad image still counts.
      await expectError(await app.fetch('/v1/embed', { method: 'POST', body: new Uint8Array(10), headers: { 'content-type': 'image/png', 'cf-connecting-ip': ip } }), 422, 'invalid_image');
      const limited = await predict();
      expect(limited.headers.get('retry-after')).toBe(String(EDGE_RATE_RULES.inference.periodSeconds));
      expect(await expectError(limited, 429, 'rate_limited')).toMatch(/predictions and embeddings from this address/);
      // Another address is counted on its own.
      expect((await app.fetch('/v1/predict', { method: 'POST', body, headers: { 'content-type': 'application/octet-stream', 'cf-connecting-ip': freshAddress() } })).status).toBe(200);
      // Anonymous predictions touch D1 only for the app's first read of the published-head index
      // (tests/worker/storage-counts.test.ts: none once warm).
      expect(app.counts.d1Queries).toBeLessThanOrEqual(1);
    });

    const app = limitedApp(1);
    const predict = (headers: Record<string, string>) =>
      app.fetch('/v1/predict', { method: 'POST', body, headers: { 'content-type': 'application/octet-stream', ...headers } });
    const { token } = await signUp();
    expect((await predict({ 'cf-connecting-ip': freshAddress(), ...bearer(token) })).status).toBe(200);
    const msg = await expectError(await predict({ 'cf-connecting-ip': freshAddress(), ...bearer(token) }), 429, 'rate_limited');
    expect(msg).toMatch(/for this token/);
  });

  it('unknown tokens and wrong operator tokens are counted per address before authentication (a 429 costs no D1 query)', async () => {
    const unknown = bearer(`tnr_${'A'.repeat(43)}`);
    await inOneMinute(async (ip) => {
      const app = limitedApp(1_000, ['WRITE_RATE_LIMITER', 'READ_RATE_LIMITER']);
      const put = () =>
        app.fetch(`/v1/heads/${crypto.randomUUID()}`, { method: 'PUT', body: '{}', headers: { 'content-type': 'application/json', 'if-none-match': '*', 'cf-connecting-ip': ip, ...unknown } });
      await expectError(await put(), 401, 'unauthorized');
      await expectError(await put(), 401, 'unauthorized');
      const queries = app.counts.d1Queries;
      expect(queries).toBeGreaterThan(0); // each 401 looked the token up
      const limited = await put();
      expect(limited.headers.get('retry-after')).toBe('60');
      await expectError(limited, 429, 'rate_limited');
      // Reads are counted the same way (from another address: both buckets use the one test limiter).
      const other = freshAddress();
      const get = () => app.fetch('/v1/accounts/me', { headers: { 'cf-connecting-ip': other, ...unknown } });
      await expectError(await get(), 401, 'unauthorized');
      await expectError(await get(), 401, 'unauthorized');
      const before = app.counts.d1Queries;
      await expectError(await get(), 429, 'rate_limited');
      expect(app.counts.d1Queries).toBe(before);
      expect(before - queries).toBe(2);
    });
    await inOneMinute(async (ip) => {
      const app = limitedApp(1_000, ['WRITE_RATE_LIMITER']);
      const wrong = { authorization: `Bearer ${'x'.repeat(40)}`, 'cf-connecting-ip': ip, 'content-type': 'application/json' };
      await expectError(await app.fetch('/v1/operator/heads/cats', { method: 'PUT', body: '{}', headers: wrong }), 401, 'unauthorized');
      await expectError(await app.fetch('/v1/operator/heads/cats', { method: 'DELETE', headers: wrong }), 401, 'unauthorized');
      await expectError(await app.fetch('/v1/operator/heads/cats', { method: 'PUT', body: '{}', headers: wrong }), 429, 'rate_limited');
    });
  });

  it('GET routes are limited per address too, /v1/models included', async () => {
    await inOneMinute(async (ip) => {
      const app = limitedApp(1_000, ['READ_RATE_LIMITER']);
      const models = () => app.fetch('/v1/models', { headers: { 'cf-connecting-ip': ip } });
      expect((await models()).status).toBe(200);
      expect((await app.fetch('/healthz', { headers: { 'cf-connecting-ip': ip } })).status).toBe(200);
      const limited = await models();
      expect(limited.headers.get('retry-after')).toBe('60');
      expect(await expectError(limited, 429, 'rate_limited')).toMatch(/reads from this address/);
    });
  });

  it('sorts requests into the binding buckets by method and path', () => {
    expect(edgeBucket('POST', '/v1/predict')).toBe('inference');
    expect(edgeBucket('POST', '/v1/embed')).toBe('inference');
    expect(edgeBucket('GET', '/v1/models')).toBe('reads');
    expect(edgeBucket('HEAD', '/v1/heads/x')).toBe('reads');
    expect(edgeBucket('GET', '/v1/predict')).toBe('reads');
    for (const [method, path] of [['POST', '/v1/accounts'], ['PUT', '/v1/heads/x'], ['DELETE', '/v1/tokens/x'], ['POST', '/v1/pairing-codes/redeem'], ['PUT', '/v1/operator/heads/x']]) {
      expect(edgeBucket(method as string, path as string)).toBe('writes');
    }
  });

  it('head writes, pairing codes and pairing-code redemptions are limited in D1 (per token; per address for redemptions)', async () => {
    const app = limitedApp(1);
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
    const one = { writesPerToken: { limit: 3, windowSeconds: 10 } };
    expect(rateLimitConfig({ RATE_LIMITS: one }).writesPerToken).toEqual({ limit: 3, windowSeconds: 10 });
    expect(rateLimitConfig({ RATE_LIMITS: JSON.stringify(one) }).inferencePerToken).toEqual(DEFAULT_RATE_LIMITS.inferencePerToken);
    expect(() => rateLimitConfig({ RATE_LIMITS: { nope: { limit: 1, windowSeconds: 1 } } })).toThrow(/unknown rule/);
    // The per-address minute limits are the bindings' now (wrangler.toml [[ratelimits]]).
    expect(() => rateLimitConfig({ RATE_LIMITS: { inferencePerIp: { limit: 1, windowSeconds: 60 } } })).toThrow(/unknown rule/);
    expect(() => rateLimitConfig({ RATE_LIMITS: { writesPerToken: { limit: -1, windowSeconds: 1 } } })).toThrow(/whole number/);
    expect(() => rateLimitConfig({ RATE_LIMITS: { writesPerToken: { limit: 1, windowSeconds: 0 } } })).toThrow(/whole number/);
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
