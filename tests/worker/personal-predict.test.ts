/**
 * `POST /v1/predict?head=<uuid>`: the owner's own head on the server's backbone gives the same
 * scores as the Node path (the same head document through the shared head runner, computed in
 * global setup), is cached per isolate by ETag, and is refused to everyone else.
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { DiagnosticsResponse, PredictResponse } from '../../shared/api/types.ts';
import type { HeadDocument } from '../../shared/head/document.ts';
import { bearer, call, expectError, float32Body, maxAbsDiff, post, putHead, signUp, testEnv } from './helpers.ts';

const reference = inject('reference');
const personalHeads = inject('personalHeads');

let owner: Awaited<ReturnType<typeof signUp>>;
const etags: string[] = [];
const docs = personalHeads.map((h) => JSON.parse(h.document) as HeadDocument);

beforeAll(async () => {
  owner = await signUp();
  for (const head of personalHeads) {
    const doc = JSON.parse(head.document) as HeadDocument;
    const res = await putHead(owner.token, doc.id, new TextEncoder().encode(head.document), { 'if-none-match': '*' });
    expect(res.status, await res.clone().text()).toBe(201);
    etags.push(res.headers.get('etag') as string);
  }
});

const predict = (headId: string, body: Uint8Array, type = 'application/octet-stream', token = owner.token, query = '') =>
  post(`/v1/predict?head=${headId}${query}`, body, type, bearer(token));
const diag = async () => (await (await call('/_diag/memory')).json()) as DiagnosticsResponse;

describe('predicting with a personal head', () => {
  personalHeads.forEach((head, h) => {
    it(`head ${h} on client embeddings: the same scores as the Node path`, async () => {
      const doc = docs[h] as HeadDocument;
      for (const [i, ref] of reference.cases.entries()) {
        const res = await predict(doc.id, float32Body(ref.embedding));
        expect(res.status).toBe(200);
        expect(res.headers.get('x-tannerin-head-etag')).toBe(etags[h]);
        const body = (await res.json()) as PredictResponse;
        expect(body.head).toBe(doc.id);
        expect(body.backbone).toBe(reference.backbone);
        const expected = head.predictions[i] ?? [];
        expect(body.predictions.map((p) => p.label)).toEqual(expected.map((p) => p.label));
        expect(maxAbsDiff(body.predictions.map((p) => p.score), expected.map((p) => p.score))).toBeLessThanOrEqual(1e-6);
      }
    });
  });

  it('on an image: the embedding is computed at the edge, scores match within 1e-4', async () => {
    const doc = docs[0] as HeadDocument;
    const ref = reference.cases.find((c) => c.type === 'image/jpeg') ?? reference.cases[0];
    const i = reference.cases.indexOf(ref as (typeof reference.cases)[number]);
    const res = await predict(doc.id, new Uint8Array(ref?.bytes ?? []), ref?.type);
    expect(res.status).toBe(200);
    const body = (await res.json()) as PredictResponse;
    const expected = personalHeads[0]?.predictions[i] ?? [];
    expect(maxAbsDiff(body.predictions.map((p) => p.score), expected.map((p) => p.score))).toBeLessThanOrEqual(1e-4);
  });

  it('honours top, and the default heads still work for a signed-in caller', async () => {
    const doc = docs[0] as HeadDocument;
    const embedding = float32Body(reference.cases[0]?.embedding ?? []);
    const top = (await (await predict(doc.id, embedding, undefined, undefined, '&top=1')).json()) as PredictResponse;
    expect(top.predictions).toHaveLength(1);
    const res = await predict('content-safety', embedding);
    expect(((await res.json()) as PredictResponse).head).toBe('content-safety');
  });

  it('is cached per isolate: repeated predictions load nothing and keep the tensor count flat', async () => {
    const doc = docs[1] as HeadDocument;
    const embedding = float32Body(reference.cases[1]?.embedding ?? []);
    await (await predict(doc.id, embedding)).arrayBuffer();
    const before = await diag();
    expect(before.headCache?.entries).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 20; i++) await (await predict(doc.id, embedding)).arrayBuffer();
    const after = await diag();
    expect(after.headCache).toEqual(before.headCache);
    expect(after.numTensors).toBe(before.numTensors);
  });

  it('a new version is used as soon as it is stored', async () => {
    // Head 1's weights under head 0's id: the scores become head 1's.
    const id = (docs[0] as HeadDocument).id;
    const replacement = { ...(docs[1] as HeadDocument), id };
    const current = (await call(`/v1/heads/${id}`, { headers: bearer(owner.token) })).headers.get('etag') as string;
    const res = await putHead(owner.token, id, replacement, { 'if-match': current });
    expect(res.status).toBe(200);
    const ref = reference.cases[2];
    const body = (await (await predict(id, float32Body(ref?.embedding ?? []))).json()) as PredictResponse;
    const expected = personalHeads[1]?.predictions[2] ?? [];
    expect(maxAbsDiff(body.predictions.map((p) => p.score), expected.map((p) => p.score))).toBeLessThanOrEqual(1e-6);
  });
});

describe('refusals', () => {
  const embedding = () => float32Body(reference.cases[0]?.embedding ?? []);

  it('no token: 401; an unknown id: 404; a bad embedding: 422', async () => {
    const id = (docs[0] as HeadDocument).id;
    await expectError(await post(`/v1/predict?head=${id}`, embedding(), 'application/octet-stream'), 401, 'unauthorized');
    await expectError(await predict(crypto.randomUUID(), embedding()), 404, 'not_found');
    await expectError(await predict(id, float32Body(new Float32Array(10))), 422, 'invalid_embedding');
    // A default-head-looking name that no default head has stays a default-head 404.
    await expectError(await predict('my-head', embedding()), 404, 'not_found');
  });

  it('a stored head made for an older backbone: 409 naming both versions', async () => {
    // Stored before a backbone upgrade: written straight into storage, as the API would refuse it now.
    const bindings = testEnv(env);
    const id = crypto.randomUUID();
    const old = `${reference.backbone.split('@')[0]}@00000000deadbeef`;
    const doc = { ...(docs[1] as HeadDocument), id, backbone: old };
    const key = `heads/${owner.accountId}/${id}/${crypto.randomUUID()}`;
    await bindings.HEADS.put(key, JSON.stringify(doc));
    await bindings.DB.prepare(
      `INSERT INTO heads (account_id, id, version, etag, blob_key, name, backbone, classes, bytes, fine_tuned, created_at, updated_at)
       VALUES (?1, ?2, 1, 'x', ?3, 'old', ?4, '["a","b","c"]', 10, 0, 0, 0)`,
    )
      .bind(owner.accountId, id, key, old)
      .run();
    const msg = await expectError(await predict(id, embedding()), 409, 'backbone_mismatch');
    expect(msg).toContain(old);
    expect(msg).toContain(reference.backbone);
  });

  it('a fine-tuned model cannot run on an embedding: 422, before anything is loaded', async () => {
    const bindings = testEnv(env);
    const id = crypto.randomUUID();
    await bindings.DB.prepare(
      `INSERT INTO heads (account_id, id, version, etag, blob_key, name, backbone, classes, bytes, fine_tuned, created_at, updated_at)
       VALUES (?1, ?2, 1, 'x', 'nowhere', 'tuned', ?3, '["a","b"]', 10, 1, 0, 0)`,
    )
      .bind(owner.accountId, id, reference.backbone)
      .run();
    // The index row says it is fine-tuned: the stored object ('nowhere') is never read.
    expect(await expectError(await predict(id, embedding()), 422, 'invalid_embedding')).toMatch(/fine-tuned/);
  });
});
