/**
 * Heads are scoped to their account: for anyone else a head does not exist. Every verb answers
 * exactly as for an id nobody uses, so existence never leaks.
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import type { HeadsResponse } from '../../shared/api/types.ts';
import type { HeadDocument } from '../../shared/head/document.ts';
import { makeTestHead } from '../helpers/heads.ts';
import { bearer, call, expectError, float32Body, post, putHead, servedBackbone, signUp, storedState, testEnv } from './helpers.ts';

let owner: Awaited<ReturnType<typeof signUp>>;
let intruder: Awaited<ReturnType<typeof signUp>>;
let doc: HeadDocument;
let etag: string;

beforeAll(async () => {
  const backbone = await servedBackbone();
  owner = await signUp();
  intruder = await signUp();
  doc = makeTestHead(backbone, { id: crypto.randomUUID(), parts: ['flatten_1'], hidden: 0 });
  const res = await putHead(owner.token, doc.id, doc, { 'if-none-match': '*' });
  expect(res.status).toBe(201);
  etag = res.headers.get('etag') as string;
});

/** The same request for the intruder's view of the owner's head and for a never-used id. */
async function sameAsUnknown(request: (id: string) => Promise<Response>, status: number): Promise<void> {
  const theirs = await request(doc.id);
  const nobodys = await request(crypto.randomUUID());
  expect(theirs.status).toBe(status);
  expect(nobodys.status).toBe(status);
  const [a, b] = [await theirs.json(), await nobodys.json()];
  const mask = (v: unknown) => JSON.stringify(v).replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>');
  expect(mask(a)).toBe(mask(b));
  expect(theirs.headers.get('etag')).toBeNull();
}

describe('another account', () => {
  it('cannot read it (404, even with its ETag)', async () => {
    await sameAsUnknown((id) => call(`/v1/heads/${id}`, { headers: bearer(intruder.token) }), 404);
    await expectError(await call(`/v1/heads/${doc.id}`, { headers: { ...bearer(intruder.token), 'if-none-match': etag } }), 404, 'not_found');
  });

  it('does not see it in its list', async () => {
    const list = (await (await call('/v1/heads', { headers: bearer(intruder.token) })).json()) as HeadsResponse;
    expect(list.heads.map((h) => h.id)).not.toContain(doc.id);
  });

  it('cannot overwrite it (404 with its ETag) nor delete it (404)', async () => {
    const before = await storedState(testEnv(env), owner.accountId);
    await sameAsUnknown((id) => putHead(intruder.token, id, { ...doc, id }, { 'if-match': etag }), 404);
    await sameAsUnknown((id) => call(`/v1/heads/${id}`, { method: 'DELETE', headers: bearer(intruder.token) }), 404);
    await sameAsUnknown((id) => call(`/v1/heads/${id}`, { method: 'DELETE', headers: { ...bearer(intruder.token), 'if-match': etag } }), 404);
    expect(await storedState(testEnv(env), owner.accountId)).toEqual(before);
  });

  it('cannot predict with it (404)', async () => {
    const embedding = float32Body(new Float32Array(2816).fill(0.2));
    await sameAsUnknown((id) => post(`/v1/predict?head=${id}`, embedding, 'application/octet-stream', bearer(intruder.token)), 404);
    // Without any token it is a 401 whatever the id: that says nothing about the head either.
    await sameAsUnknown((id) => post(`/v1/predict?head=${id}`, embedding, 'application/octet-stream'), 401);
  });

  it('creating the same id makes its own head; the owner’s is untouched', async () => {
    const before = await storedState(testEnv(env), owner.accountId);
    const mine = { ...doc, name: 'intruder copy' };
    const res = await putHead(intruder.token, doc.id, mine, { 'if-none-match': '*' });
    expect(res.status).toBe(201);
    expect(await storedState(testEnv(env), owner.accountId)).toEqual(before);
    const ownerView = await call(`/v1/heads/${doc.id}`, { headers: bearer(owner.token) });
    expect(ownerView.headers.get('etag')).toBe(etag);
    expect(((await ownerView.json()) as HeadDocument).name).toBe(doc.name);
    const intruderView = await call(`/v1/heads/${doc.id}`, { headers: bearer(intruder.token) });
    expect(((await intruderView.json()) as HeadDocument).name).toBe('intruder copy');
  });
});
