/**
 * Storing heads: create with If-None-Match: *, update with If-Match, read with ETags and 304,
 * list, delete; no write without a precondition, no lost update when two devices write at once.
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import type { HeadSummary, HeadsResponse } from '../../shared/api/types.ts';
import type { HeadDocument } from '../../shared/head/document.ts';
import type { BackboneModelJson } from '../../shared/head/validate.ts';
import type { BackboneManifest } from '../../shared/model/manifest.ts';
import { headBytes, makeTestHead, makeTestTail } from '../helpers/heads.ts';
import { bearer, call, etagOf, expectError, putHead, servedBackbone, signUp, storedState, testEnv } from './helpers.ts';

let backbone: BackboneManifest;
beforeAll(async () => {
  backbone = await servedBackbone();
});

/** A small valid head with a fresh id. */
const smallHead = (seed = 1, id: string = crypto.randomUUID()) => makeTestHead(backbone, { id, seed, hidden: 0, parts: ['flatten_1'], classes: ['yes', 'no'] });

describe('PUT /v1/heads/:id', () => {
  it('creates with If-None-Match: *; the ETag is the SHA-256 of the stored bytes', async () => {
    const { token } = await signUp();
    const doc = smallHead();
    const bytes = headBytes(doc);
    const res = await putHead(token, doc.id, bytes, { 'if-none-match': '*' });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/v1/heads/${doc.id}`);
    const etag = await etagOf(bytes);
    expect(res.headers.get('etag')).toBe(etag);
    const summary = (await res.json()) as HeadSummary;
    expect(summary).toMatchObject({ id: doc.id, name: doc.name, etag, version: 1, backbone: doc.backbone, classes: ['yes', 'no'], bytes: bytes.byteLength, fineTuned: false });

    const got = await call(`/v1/heads/${doc.id}`, { headers: bearer(token) });
    expect(got.status).toBe(200);
    expect(got.headers.get('etag')).toBe(etag);
    expect(got.headers.get('content-type')).toBe('application/json');
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(bytes);
  });

  it('creating a head that exists: 412 with the current ETag, and nothing changes', async () => {
    const { token } = await signUp();
    const doc = smallHead();
    const first = await putHead(token, doc.id, doc, { 'if-none-match': '*' });
    const etag = first.headers.get('etag');
    const res = await putHead(token, doc.id, smallHead(2, doc.id), { 'if-none-match': '*' });
    expect(res.headers.get('etag')).toBe(etag);
    await expectError(res, 412, 'precondition_failed');
    expect((await call(`/v1/heads/${doc.id}`, { headers: bearer(token) })).headers.get('etag')).toBe(etag);
  });

  it('updates with the current If-Match (version +1, old object deleted); a stale If-Match is a 412 naming the current ETag', async () => {
    const { token, accountId } = await signUp();
    const v1 = smallHead(1);
    const etag1 = (await putHead(token, v1.id, v1, { 'if-none-match': '*' })).headers.get('etag') as string;
    const v2 = smallHead(2, v1.id);
    const res = await putHead(token, v1.id, v2, { 'if-match': etag1 });
    expect(res.status).toBe(200);
    const etag2 = res.headers.get('etag') as string;
    expect(etag2).toBe(await etagOf(headBytes(v2)));
    expect(((await res.json()) as HeadSummary).version).toBe(2);
    const state = await storedState(testEnv(env), accountId);
    expect(state.objects).toEqual([expect.objectContaining({ etag: etag2.slice(1, -1) })]);

    const stale = await putHead(token, v1.id, smallHead(3, v1.id), { 'if-match': etag1 });
    expect(stale.headers.get('etag')).toBe(etag2);
    expect(await expectError(stale, 412, 'precondition_failed')).toContain(etag2);
    expect(await storedState(testEnv(env), accountId)).toEqual(state);
    // A weak tag never matches If-Match (strong comparison); a list containing the current one does.
    await expectError(await putHead(token, v1.id, smallHead(3, v1.id), { 'if-match': `W/${etag2}` }), 412, 'precondition_failed');
    expect((await putHead(token, v1.id, smallHead(3, v1.id), { 'if-match': `${etag1}, ${etag2}` })).status).toBe(200);
  });

  it('a write without a precondition is a 428; so is If-Match: *', async () => {
    const { token, accountId } = await signUp();
    const doc = smallHead();
    await expectError(await putHead(token, doc.id, doc), 428, 'precondition_required');
    expect((await storedState(testEnv(env), accountId)).rows).toEqual([]);
    await putHead(token, doc.id, doc, { 'if-none-match': '*' });
    const before = await storedState(testEnv(env), accountId);
    await expectError(await putHead(token, doc.id, smallHead(2, doc.id)), 428, 'precondition_required');
    await expectError(await putHead(token, doc.id, smallHead(2, doc.id), { 'if-match': '*' }), 428, 'precondition_required');
    expect(await storedState(testEnv(env), accountId)).toEqual(before);
  });

  it('updating a head that does not exist is a 404', async () => {
    const { token } = await signUp();
    const doc = smallHead();
    await expectError(await putHead(token, doc.id, doc, { 'if-match': '"abc"' }), 404, 'not_found');
  });

  it('re-sending the stored bytes (a retried PUT) changes nothing and answers the same ETag', async () => {
    const { token, accountId } = await signUp();
    const doc = smallHead();
    const etag = (await putHead(token, doc.id, doc, { 'if-none-match': '*' })).headers.get('etag') as string;
    const before = await storedState(testEnv(env), accountId);
    const res = await putHead(token, doc.id, doc, { 'if-match': etag });
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(etag);
    expect(await storedState(testEnv(env), accountId)).toEqual(before);
  });

  it('two devices updating from the same version at once: exactly one wins, the other gets 412, nothing is half-written', async () => {
    const { token, accountId } = await signUp();
    const doc = smallHead(1);
    const etag = (await putHead(token, doc.id, doc, { 'if-none-match': '*' })).headers.get('etag') as string;
    for (let round = 0; round < 3; round++) {
      const current = round === 0 ? etag : ((await call(`/v1/heads/${doc.id}`, { headers: bearer(token) })).headers.get('etag') as string);
      const a = smallHead(10 + round * 2, doc.id);
      const b = smallHead(11 + round * 2, doc.id);
      const results = await Promise.all([putHead(token, doc.id, a, { 'if-match': current }), putHead(token, doc.id, b, { 'if-match': current })]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 412]);
      const winner = results.find((r) => r.status === 200) as Response;
      const loser = results.find((r) => r.status === 412) as Response;
      expect(loser.headers.get('etag')).toBe(winner.headers.get('etag'));
      const state = await storedState(testEnv(env), accountId);
      // One index row, one object, and they agree.
      expect(state.rows).toHaveLength(1);
      expect(state.objects).toHaveLength(1);
      expect(`"${(state.objects[0] as { etag: string }).etag}"`).toBe(winner.headers.get('etag'));
      const served = await call(`/v1/heads/${doc.id}`, { headers: bearer(token) });
      expect(await etagOf(await served.arrayBuffer())).toBe(winner.headers.get('etag'));
    }
  });

  it('the compare-and-swap itself: an update based on a version another write replaced loses and leaves no object behind', async () => {
    const { token, accountId } = await signUp();
    const doc = smallHead(1);
    const etag = (await putHead(token, doc.id, doc, { 'if-none-match': '*' })).headers.get('etag') as string;
    const { findHead, updateHead } = await import('../../worker/store/heads.ts');
    const { validateHeadDocument } = await import('../../shared/head/validate.ts');
    const { sha256Hex } = await import('../../shared/util/hash.ts');
    const bindings = testEnv(env);
    const stale = await findHead(bindings.DB, accountId, doc.id);
    // Another device's update lands between this writer's read and its write.
    const winner = await putHead(token, doc.id, smallHead(2, doc.id), { 'if-match': etag });
    expect(winner.status).toBe(200);
    const mine = smallHead(3, doc.id);
    const bytes = headBytes(mine);
    const upload = { head: validateHeadDocument(mine, backbone), bytes, etag: await sha256Hex(bytes) };
    const error = await updateHead(bindings.DB, bindings.HEADS, stale as NonNullable<typeof stale>, upload, { maxHeads: 100, maxBytes: 64 * 1024 * 1024 }, Date.now()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'precondition_failed', headers: { etag: winner.headers.get('etag') } });
    const state = await storedState(bindings, accountId);
    expect(state.objects).toEqual([expect.objectContaining({ etag: (winner.headers.get('etag') as string).slice(1, -1) })]);
  });

  it('two devices creating the same id at once: exactly one wins', async () => {
    const { token, accountId } = await signUp();
    const id = crypto.randomUUID();
    const results = await Promise.all([putHead(token, id, smallHead(1, id), { 'if-none-match': '*' }), putHead(token, id, smallHead(2, id), { 'if-none-match': '*' })]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 412]);
    const state = await storedState(testEnv(env), accountId);
    expect(state.rows).toHaveLength(1);
    expect(state.objects).toHaveLength(1);
  });

  it('an account may hold only so many heads (403), checked in the same statement as the insert', async () => {
    const { createApp } = await import('../../worker/app.ts');
    const app = createApp();
    const bindings = { ...testEnv(env), MAX_HEADS_PER_ACCOUNT: 2 };
    const { token, accountId } = await signUp();
    const put = (doc: ReturnType<typeof smallHead>) =>
      app.fetch(new Request(`https://tannerin.test/v1/heads/${doc.id}`, { method: 'PUT', body: JSON.stringify(doc), headers: { 'content-type': 'application/json', 'if-none-match': '*', ...bearer(token) } }), bindings);
    const results = await Promise.all([put(smallHead(1)), put(smallHead(2)), put(smallHead(3))]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 201, 403]);
    await expectError(results.find((r) => r.status === 403) as Response, 403, 'quota_exceeded');
    const state = await storedState(testEnv(env), accountId);
    expect(state.rows).toHaveLength(2);
    expect(state.objects).toHaveLength(2);
  });
});

describe('fine-tuned models', () => {
  it('a document with a backbone tail is stored after its tail is checked against the backbone’s own model.json', async () => {
    const { token, accountId } = await signUp();
    const modelJson = (await (await call(`/${backbone.files[0]?.path}`)).json()) as BackboneModelJson;
    const tail = makeTestTail(backbone, modelJson);
    const doc: HeadDocument = { ...smallHead(), backboneTail: tail };
    const res = await putHead(token, doc.id, doc, { 'if-none-match': '*' });
    expect(res.status, await res.clone().text()).toBe(201);
    expect(((await res.json()) as HeadSummary).fineTuned).toBe(true);
    // An embedding cannot run a fine-tuned model (it needs the image): refused before anything is loaded.
    const predict = await call(`/v1/predict?head=${doc.id}`, { method: 'POST', body: new Uint8Array(2816 * 4), headers: { 'content-type': 'application/octet-stream', ...bearer(token) } });
    await expectError(predict, 422, 'invalid_embedding');

    const before = await storedState(testEnv(env), accountId);
    const changed = structuredClone(tail);
    const conv = changed.modelTopology.config.layers.find((l) => l.name === 'Conv_1');
    if (conv) conv.config.filters = 64;
    const etag = res.headers.get('etag') as string;
    const bad = await putHead(token, doc.id, { ...doc, backboneTail: changed }, { 'if-match': etag });
    expect(await expectError(bad, 422, 'invalid_head')).toMatch(/Conv_1 differs/);
    expect(await storedState(testEnv(env), accountId)).toEqual(before);
  });
});

describe('GET /v1/heads and /v1/heads/:id', () => {
  it('If-None-Match with the current ETag is a 304 without a body; a stale one gets the document', async () => {
    const { token } = await signUp();
    const doc = smallHead();
    const etag = (await putHead(token, doc.id, doc, { 'if-none-match': '*' })).headers.get('etag') as string;
    const same = await call(`/v1/heads/${doc.id}`, { headers: { ...bearer(token), 'if-none-match': etag } });
    expect(same.status).toBe(304);
    expect(same.headers.get('etag')).toBe(etag);
    expect(await same.text()).toBe('');
    expect((await call(`/v1/heads/${doc.id}`, { headers: { ...bearer(token), 'if-none-match': `W/${etag}` } })).status).toBe(304);
    const other = await call(`/v1/heads/${doc.id}`, { headers: { ...bearer(token), 'if-none-match': '"something-else"' } });
    expect(other.status).toBe(200);
    expect(((await other.json()) as { id: string }).id).toBe(doc.id);
  });

  it('lists the account’s heads, newest first, without weights', async () => {
    const { token } = await signUp();
    const a = smallHead(1);
    const b = makeTestHead(backbone, { id: crypto.randomUUID(), seed: 2, classes: ['a', 'b', 'c', 'd'], hidden: 4 });
    await putHead(token, a.id, a, { 'if-none-match': '*' });
    await new Promise((r) => setTimeout(r, 5));
    await putHead(token, b.id, b, { 'if-none-match': '*' });
    const res = await call('/v1/heads', { headers: bearer(token) });
    const list = (await res.json()) as HeadsResponse;
    expect(list.heads.map((h) => h.id)).toEqual([b.id, a.id]);
    expect(list.heads[0]).toMatchObject({ classes: ['a', 'b', 'c', 'd'], version: 1 });
    expect(JSON.stringify(list)).not.toContain('weightData');
  });

  it('an id that is not a UUID is a head that does not exist', async () => {
    const { token } = await signUp();
    await expectError(await call('/v1/heads/content-safety', { headers: bearer(token) }), 404, 'not_found');
    await expectError(await call('/v1/heads/..%2F..%2Fetc', { headers: bearer(token) }), 404, 'not_found');
  });
});

describe('DELETE /v1/heads/:id', () => {
  it('deletes the index row and the object; a stale If-Match is a 412 and deletes nothing', async () => {
    const { token, accountId } = await signUp();
    const doc = smallHead();
    const etag1 = (await putHead(token, doc.id, doc, { 'if-none-match': '*' })).headers.get('etag') as string;
    const etag2 = (await putHead(token, doc.id, smallHead(2, doc.id), { 'if-match': etag1 })).headers.get('etag') as string;
    const stale = await call(`/v1/heads/${doc.id}`, { method: 'DELETE', headers: { ...bearer(token), 'if-match': etag1 } });
    expect(stale.headers.get('etag')).toBe(etag2);
    await expectError(stale, 412, 'precondition_failed');
    expect((await storedState(testEnv(env), accountId)).rows).toHaveLength(1);
    expect((await call(`/v1/heads/${doc.id}`, { method: 'DELETE', headers: { ...bearer(token), 'if-match': etag2 } })).status).toBe(204);
    expect(await storedState(testEnv(env), accountId)).toEqual({ rows: [], objects: [] });
    await expectError(await call(`/v1/heads/${doc.id}`, { headers: bearer(token) }), 404, 'not_found');
    await expectError(await call(`/v1/heads/${doc.id}`, { method: 'DELETE', headers: bearer(token) }), 404, 'not_found');
    // The id is free again.
    expect((await putHead(token, doc.id, doc, { 'if-none-match': '*' })).status).toBe(201);
  });

  it('an index row cannot outlive its account: D1 enforces the foreign key', async () => {
    const insert = testEnv(env)
      .DB.prepare(
        `INSERT INTO heads (account_id, id, version, etag, blob_key, name, backbone, classes, bytes, fine_tuned, created_at, updated_at)
         VALUES ('no-such-account', ?1, 1, 'x', 'k', 'n', 'b', '[]', 1, 0, 0, 0)`,
      )
      .bind(crypto.randomUUID());
    await expect(insert.run()).rejects.toThrow(/FOREIGN KEY/);
  });

  it('CORS preflight allows the head verbs and their headers from any origin', async () => {
    const res = await call(`/v1/heads/${crypto.randomUUID()}`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization, content-type, if-match' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toMatch(/PUT.*DELETE|DELETE.*PUT/);
    expect(res.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    const got = await call('/v1/heads', { headers: { origin: 'https://app.example', authorization: 'Bearer x' } });
    expect(got.headers.get('access-control-expose-headers')).toMatch(/etag/);
    await got.arrayBuffer();
  });

  it('wrong methods are 405 with Allow', async () => {
    const { token } = await signUp();
    const res = await call(`/v1/heads/${crypto.randomUUID()}`, { method: 'POST', headers: bearer(token) });
    expect(res.headers.get('allow')).toBe('GET, PUT, DELETE');
    await expectError(res, 405, 'method_not_allowed');
  });
});
