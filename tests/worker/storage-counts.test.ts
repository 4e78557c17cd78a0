/**
 * The anonymous hot path costs no storage: once an isolate is warm, a default-head prediction and
 * `GET /v1/models` make zero D1 queries and zero R2 reads (the rate limits per address are the
 * binding's; the published-head index is cached per isolate, worker/inference/published-index.ts). Counted
 * by wrapping the D1 and R2 bindings given to apps of the test's own (worker/store/storage-counts.ts);
 * the apps' clock is injected to cross the index's TTL. Two apps stand for two isolates. A personal
 * head costs its lookup each prediction, and one R2 read more only while it loads.
 */
import { env } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import type { ModelsResponse } from '../../shared/api/types.ts';
import { createApp } from '../../worker/app.ts';
import { PUBLISHED_INDEX_TTL_MS } from '../../worker/inference/published-index.ts';
import { countedD1, countedR2, newStorageCounts, type StorageCounts } from '../../worker/store/storage-counts.ts';
import { makeTestHead } from '../helpers/heads.ts';
import { BASE, bearer, expectError, float32Body, putHead, servedBackbone, signUp, testEnv } from './helpers.ts';

const reference = inject('reference');
const base = testEnv(env);

/** An app (an isolate) on the shared clock, its D1 and R2 calls counted. */
function countedApp(clock: { now: number }) {
  const counts = newStorageCounts();
  const app = createApp({ now: () => clock.now });
  const bindings = { ...base, DB: countedD1(base.DB, counts), HEADS: countedR2(base.HEADS, counts) };
  const fetch = (path: string, init: RequestInit = {}) => app.fetch(new Request(`${BASE}${path}`, init), bindings);
  return {
    counts,
    fetch,
    reset: () => Object.assign(counts, newStorageCounts()),
    predictEmbedding: (query = '') =>
      fetch(`/v1/predict${query}`, { method: 'POST', body: float32Body(reference.cases[0]?.embedding ?? []), headers: { 'content-type': 'application/octet-stream' } }),
    headIds: async () => ((await (await fetch('/v1/models')).json()) as ModelsResponse).heads.map((h) => h.id),
  };
}

/** Measured D1 queries per anonymous default-head prediction, once warm (the bench measures the same through wrangler dev). */
async function steadyState(app: ReturnType<typeof countedApp>, n: number): Promise<StorageCounts> {
  const img = reference.cases[0] as (typeof reference.cases)[number];
  app.reset();
  for (let i = 0; i < n; i++) {
    expect((await app.predictEmbedding()).status).toBe(200);
    expect((await app.predictEmbedding('?head=content-safety&top=2')).status).toBe(200);
    const byImage = await app.fetch('/v1/predict', { method: 'POST', body: new Uint8Array(img.bytes), headers: { 'content-type': img.type } });
    expect(byImage.status).toBe(200);
    expect((await app.fetch('/v1/models')).status).toBe(200);
  }
  return { ...app.counts };
}

describe('storage on the anonymous hot path', () => {
  it('a warm isolate answers default-head predictions and GET /v1/models with no D1 query and no R2 read', async () => {
    const clock = { now: Date.now() };
    const app = countedApp(clock);
    // Warm-up: the model loads, and the published-head index is read once.
    expect((await app.predictEmbedding()).status).toBe(200);
    expect(app.counts).toEqual({ d1Queries: 1, r2Operations: 0 });
    expect(await steadyState(app, 3)).toEqual({ d1Queries: 0, r2Operations: 0 });

    // Past the TTL the index is read again, once, then the isolate is quiet again.
    clock.now += PUBLISHED_INDEX_TTL_MS;
    app.reset();
    expect((await app.predictEmbedding()).status).toBe(200);
    expect((await app.fetch('/v1/models')).status).toBe(200);
    expect(app.counts).toEqual({ d1Queries: 1, r2Operations: 0 });
    expect(await steadyState(app, 2)).toEqual({ d1Queries: 0, r2Operations: 0 });
  });

  it('a personal head is looked up once a prediction: loading it reads its stored object with no second D1 query', async () => {
    const { token } = await signUp();
    const id = crypto.randomUUID();
    expect((await putHead(token, id, makeTestHead(await servedBackbone(), { id, seed: 52 }), { 'if-none-match': '*' })).status).toBe(201);
    const ask = (app: ReturnType<typeof countedApp>) =>
      app.fetch(`/v1/predict?head=${id}`, {
        method: 'POST',
        body: float32Body(reference.cases[0]?.embedding ?? []),
        headers: { 'content-type': 'application/octet-stream', ...bearer(token) },
      });
    // An isolate warmed by a default-head prediction loads the head (the head cache is the
    // isolate's, and this head is new), then answers from the loaded head.
    const app = countedApp({ now: Date.now() });
    expect((await app.predictEmbedding()).status).toBe(200);
    app.reset();
    const first = await ask(app);
    expect(first.status, await first.clone().text()).toBe(200);
    const loading = { ...app.counts };
    app.reset();
    expect((await ask(app)).status).toBe(200);
    const loaded = { ...app.counts };
    // Loading costs one R2 read more than a loaded head, and not one D1 query more: the row the
    // lookup found names the object.
    expect(loaded.r2Operations).toBe(0);
    expect(loading).toEqual({ d1Queries: loaded.d1Queries, r2Operations: 1 });
  });

  it('the publishing isolate sees its own publish and delete at once; another one within the TTL', async () => {
    const clock = { now: Date.now() };
    const publisher = countedApp(clock);
    const other = countedApp(clock);
    const name = `ttl-${Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => String.fromCharCode(97 + (b % 26))).join('')}`;
    expect(await other.headIds()).not.toContain(name);

    const doc = makeTestHead(await servedBackbone(), { id: crypto.randomUUID(), seed: 51 });
    const operator = { authorization: `Bearer ${base.OPERATOR_TOKEN as string}`, 'content-type': 'application/json' };
    expect((await publisher.headIds()).length).toBeGreaterThan(0); // its index is cached before the write
    const res = await publisher.fetch(`/v1/operator/heads/${name}`, { method: 'PUT', body: JSON.stringify(doc), headers: operator });
    expect(res.status, await res.clone().text()).toBe(201);
    expect(await publisher.headIds()).toContain(name);
    // The other isolate still has its copy from before the publish, until the TTL runs out.
    expect(await other.headIds()).not.toContain(name);
    await expectError(await other.predictEmbedding(`?head=${name}`), 404, 'not_found');
    clock.now += PUBLISHED_INDEX_TTL_MS;
    expect(await other.headIds()).toContain(name);

    expect((await publisher.fetch(`/v1/operator/heads/${name}`, { method: 'DELETE', headers: operator })).status).toBe(204);
    expect(await publisher.headIds()).not.toContain(name);
    // The other isolate's stale row points at deleted files (the head was never loaded into the
    // head cache here, which would keep serving it until the TTL): that request is a 404 ("try
    // again"), and the isolate reads the index afresh at once instead of waiting out the TTL.
    await expectError(await other.predictEmbedding(`?head=${name}`), 404, 'not_found');
    expect(await other.headIds()).not.toContain(name);
  });
});
