/**
 * The operator API: publishing default heads into R2 + D1 with the operator secret. Auth (no
 * secret configured: 404; missing or forged token: 401), validation before any write, the
 * replace rules (shipped and published names are 409 without replace=1), listing in /v1/models
 * with verifiable files, predictions with a published head through the shared head runner, and
 * rejected writes leaving D1 and R2 exactly as they were.
 */
import { env } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import type { ModelsResponse, PredictResponse, PublishedHeadSummary, PublishedHeadsResponse } from '../../shared/api/types.ts';
import { sha256Hex } from '../../shared/util/hash.ts';
import { importHeadFiles, type HeadDocument } from '../../shared/head/document.ts';
import { createApp } from '../../worker/app.ts';
import { makeTestHead } from '../helpers/heads.ts';
import { call, expectError, float32Body, maxAbsDiff, post, servedBackbone, testEnv } from './helpers.ts';

const bindings = testEnv(env);
const TOKEN = bindings.OPERATOR_TOKEN as string;
const operator = { authorization: `Bearer ${TOKEN}` };
const reference = inject('reference');
const personalHeads = inject('personalHeads');
const fineTuned = inject('fineTuned');

const publish = (name: string, doc: unknown, query = '', headers: Record<string, string> = operator) =>
  call(`/v1/operator/heads/${name}${query}`, {
    method: 'PUT',
    body: doc instanceof Uint8Array ? doc : JSON.stringify(doc),
    headers: { 'content-type': 'application/json', ...headers },
  });
const unpublish = (name: string, headers: Record<string, string> = operator) => call(`/v1/operator/heads/${name}`, { method: 'DELETE', headers });
const models = async () => (await (await call('/v1/models')).json()) as ModelsResponse;

/** Everything the operator API stores: its D1 rows and its R2 objects. */
async function publishedState(): Promise<{ rows: unknown[]; objects: string[] }> {
  const { results } = await bindings.DB.prepare('SELECT * FROM published_heads ORDER BY name').all();
  const listed = await bindings.HEADS.list({ prefix: 'published/' });
  return { rows: results, objects: listed.objects.map((o) => o.key).sort() };
}

describe('operator auth', () => {
  it('without the secret configured the operator API does not exist (404, never 500)', async () => {
    const app = createApp();
    for (const secret of [undefined, '', 'too-short']) {
      const env2 = { ...bindings, OPERATOR_TOKEN: secret };
      const res = await app.fetch(new Request('https://tannerin.test/v1/operator/heads/x', { method: 'PUT', body: '{}', headers: { 'content-type': 'application/json', authorization: `Bearer ${String(secret)}` } }), env2);
      expect(await expectError(res, 404, 'not_found')).toMatch(/OPERATOR_TOKEN/);
      await expectError(await app.fetch(new Request('https://tannerin.test/v1/operator/heads'), env2), 404, 'not_found');
    }
  });

  it('a missing, forged or malformed token is a 401 with a challenge, before the body is looked at', async () => {
    const before = await publishedState();
    const doc = makeTestHead(await servedBackbone(), { id: crypto.randomUUID() });
    for (const headers of [{} as Record<string, string>, { authorization: `Bearer ${TOKEN}x` }, { authorization: `Bearer ${TOKEN.slice(0, -1)}` }, { authorization: TOKEN }, { authorization: 'Bearer tnr_notatoken' }]) {
      const res = await publish('tiny-cats', doc, '', headers);
      await expectError(res, 401, 'unauthorized');
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      await expectError(await unpublish('tiny-cats', headers), 401, 'unauthorized');
    }
    await expectError(await call('/v1/operator/heads'), 401, 'unauthorized');
    expect(await publishedState()).toEqual(before);
  });
});

describe('publishing', () => {
  it('validates before writing anything: bad name, type, JSON, document, backbone, fine-tuned model', async () => {
    const backbone = await servedBackbone();
    const good = makeTestHead(backbone, { id: crypto.randomUUID() });
    const before = await publishedState();
    await expectError(await publish('Bad_Name', good), 400, 'invalid_request');
    await expectError(await publish(crypto.randomUUID(), good), 400, 'invalid_request');
    await expectError(await publish('ok-name', good, '?replace=maybe'), 400, 'invalid_request');
    await expectError(await call('/v1/operator/heads/ok-name', { method: 'PUT', body: JSON.stringify(good), headers: { 'content-type': 'text/plain', ...operator } }), 415, 'unsupported_media_type');
    expect(await expectError(await publish('ok-name', new TextEncoder().encode('{not json')), 422, 'invalid_head')).toMatch(/not JSON/);
    expect(await expectError(await publish('ok-name', { ...good, classes: ['only'] }), 422, 'invalid_head')).toMatch(/classes/);
    await expectError(await publish('ok-name', { ...good, backbone: `${backbone.id}@0000000000000000` }), 409, 'backbone_mismatch');
    expect(await expectError(await publish('ok-name', JSON.parse(fineTuned.document)), 422, 'invalid_head')).toMatch(/fine-tuned/);
    expect(await publishedState()).toEqual(before);
    expect((await models()).heads.map((h) => h.id)).not.toContain('ok-name');
  });

  it('publishes a head: listed in /v1/models with files that verify, predicts as the Node path (1e-6), survives in D1/R2', async () => {
    const doc = JSON.parse(personalHeads[0]?.document as string) as HeadDocument;
    const res = await publish('pets', doc);
    expect(res.status, await res.clone().text()).toBe(201);
    const summary = (await res.json()) as PublishedHeadSummary;
    expect(summary).toMatchObject({ name: 'pets', displayName: doc.name, sourceId: doc.id, version: 1, classes: doc.classes, shadowsShipped: false });
    expect(res.headers.get('location')).toBe('/v1/operator/heads/pets');

    const entry = (await models()).heads.find((h) => h.id === 'pets');
    expect(entry).toBeDefined();
    expect(entry?.classes).toEqual(doc.classes);
    const fetched: Uint8Array[] = [];
    for (const f of [entry?.document, ...(entry?.files ?? [])]) {
      const r = await call(new URL(f?.url as string).pathname);
      expect(r.status).toBe(200);
      expect(r.headers.get('cache-control')).toMatch(/immutable/);
      const bytes = new Uint8Array(await r.arrayBuffer());
      expect(bytes.byteLength).toBe(f?.bytes);
      expect(await sha256Hex(bytes)).toBe(f?.sha256);
      fetched.push(bytes);
    }
    // The standard TF.js files import back to the document served under the name.
    const served = JSON.parse(new TextDecoder().decode(fetched[0])) as HeadDocument;
    expect(served.id).toBe('pets');
    const imported = importHeadFiles(JSON.parse(new TextDecoder().decode(fetched[1])) as Record<string, unknown>, fetched[2] as Uint8Array);
    expect(imported).toEqual(served);

    for (const [i, c] of reference.cases.entries()) {
      const p = await post('/v1/predict?head=pets', float32Body(c.embedding), 'application/octet-stream');
      expect(p.status).toBe(200);
      const body = (await p.json()) as PredictResponse;
      expect(body.head).toBe('pets');
      const expected = personalHeads[0]?.predictions[i] ?? [];
      expect(body.predictions.map((x) => x.label)).toEqual(expected.map((x) => x.label));
      expect(maxAbsDiff(body.predictions.map((x) => x.score), expected.map((x) => x.score))).toBeLessThanOrEqual(1e-6);
    }
    const img = reference.cases[2] as (typeof reference.cases)[number];
    expect((await post('/v1/predict?head=pets&top=1', new Uint8Array(img.bytes), img.type)).status).toBe(200);

    const list = (await (await call('/v1/operator/heads', { headers: operator })).json()) as PublishedHeadsResponse;
    expect(list.heads.map((h) => h.name)).toContain('pets');
    const state = await publishedState();
    expect(state.objects.filter((k) => k.startsWith('published/pets/'))).toHaveLength(3);
  });

  it('an already published name is a 409 without replace=1 (nothing changes); with it, a new version replaces the old files', async () => {
    const backbone = await servedBackbone();
    const first = makeTestHead(backbone, { id: crypto.randomUUID(), seed: 21, classes: ['a', 'b'] });
    const second = makeTestHead(backbone, { id: crypto.randomUUID(), seed: 22, classes: ['x', 'y', 'z'] });
    expect((await publish('letters', first)).status).toBe(201);
    const before = await publishedState();
    expect(await expectError(await publish('letters', second), 409, 'conflict')).toMatch(/replace/);
    expect(await publishedState()).toEqual(before);

    const embedding = float32Body(reference.cases[0]?.embedding ?? []);
    const old = (await (await post('/v1/predict?head=letters', embedding, 'application/octet-stream')).json()) as PredictResponse;
    expect(old.predictions.map((p) => p.label).sort()).toEqual(['a', 'b']);

    const res = await publish('letters', second, '?replace=1');
    expect(res.status, await res.clone().text()).toBe(200);
    expect(((await res.json()) as PublishedHeadSummary).version).toBe(2);
    const now = (await (await post('/v1/predict?head=letters', embedding, 'application/octet-stream')).json()) as PredictResponse;
    expect(now.predictions.map((p) => p.label).sort()).toEqual(['x', 'y', 'z']);
    const objects = (await publishedState()).objects.filter((k) => k.startsWith('published/letters/'));
    expect(objects).toHaveLength(3); // the first version's files are gone
    expect((await models()).heads.find((h) => h.id === 'letters')?.classes).toEqual(['x', 'y', 'z']);
  });

  it('a shipped head is a 409 without replace=1; with it the published head takes its place until deleted', async () => {
    const backbone = await servedBackbone();
    const shipped = (await models()).heads.find((h) => h.id === 'content-safety');
    expect(shipped).toBeDefined();
    const doc = makeTestHead(backbone, { id: crypto.randomUUID(), seed: 31, classes: ['safe', 'unsafe'] });
    const before = await publishedState();
    expect(await expectError(await publish('content-safety', doc), 409, 'conflict')).toMatch(/shipped/);
    expect(await publishedState()).toEqual(before);
    await expectError(await unpublish('content-safety'), 409, 'conflict');

    const res = await publish('content-safety', doc, '?replace=1');
    expect(res.status).toBe(201);
    expect(((await res.json()) as PublishedHeadSummary).shadowsShipped).toBe(true);
    const listed = (await models()).heads.filter((h) => h.id === 'content-safety');
    expect(listed).toHaveLength(1);
    expect(listed[0]?.classes).toEqual(['safe', 'unsafe']);
    const embedding = float32Body(reference.cases[0]?.embedding ?? []);
    const shadowed = (await (await post('/v1/predict', embedding, 'application/octet-stream')).json()) as PredictResponse;
    expect(shadowed.predictions.map((p) => p.label).sort()).toEqual(['safe', 'unsafe']);

    expect((await unpublish('content-safety')).status).toBe(204);
    expect((await models()).heads.find((h) => h.id === 'content-safety')).toEqual(shipped);
    const back = (await (await post('/v1/predict', embedding, 'application/octet-stream')).json()) as PredictResponse;
    expect(back.predictions.map((p) => p.label)).toEqual(reference.cases[0]?.predictions.map((p) => p.label));
  });

  it('DELETE: 204 and gone (404 after, and for a name never published); its files are deleted', async () => {
    const doc = makeTestHead(await servedBackbone(), { id: crypto.randomUUID(), seed: 41 });
    expect((await publish('short-lived', doc)).status).toBe(201);
    expect((await unpublish('short-lived')).status).toBe(204);
    await expectError(await unpublish('short-lived'), 404, 'not_found');
    await expectError(await unpublish('never-was'), 404, 'not_found');
    await expectError(await post('/v1/predict?head=short-lived', float32Body(reference.cases[0]?.embedding ?? []), 'application/octet-stream'), 404, 'not_found');
    expect((await publishedState()).objects.filter((k) => k.startsWith('published/short-lived/'))).toEqual([]);
    expect((await models()).heads.map((h) => h.id)).not.toContain('short-lived');
  });

  it('a database without the published_heads table (migration not applied) still serves the shipped heads', async () => {
    const missing = () => Promise.reject(new Error('D1_ERROR: no such table: published_heads: SQLITE_ERROR'));
    const statement = { bind: () => statement, first: missing, all: missing, run: missing };
    const db = new Proxy(bindings.DB, {
      get: (target, key) => (key === 'prepare' ? (sql: string) => (sql.includes('published_heads') ? statement : target.prepare(sql)) : Reflect.get(target, key)),
    });
    const app = createApp();
    const env2 = { ...bindings, DB: db };
    const listed = await app.fetch(new Request('https://tannerin.test/v1/models'), env2);
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as ModelsResponse).heads.map((h) => h.id)).toEqual(['content-safety']);
    const predicted = await app.fetch(new Request('https://tannerin.test/v1/predict', { method: 'POST', body: float32Body(reference.cases[0]?.embedding ?? []), headers: { 'content-type': 'application/octet-stream' } }), env2);
    expect(predicted.status, await predicted.clone().text()).toBe(200);
  });

  it('wrong methods are 405; a published file that does not exist is 404', async () => {
    await expectError(await call('/v1/operator/heads/pets', { method: 'POST', headers: operator }), 405, 'method_not_allowed');
    await expectError(await call(`/v1/published-heads/pets/${crypto.randomUUID()}/head.json`), 404, 'not_found');
    await expectError(await call('/v1/published-heads/pets/x/secrets.txt'), 404, 'not_found');
  });
});
