/**
 * Fine-tuned models at the edge: `POST /v1/predict?head=<uuid>` with a head document carrying a
 * `backboneTail` runs the frozen backbone to the cut, the model's own top layers and its head in
 * the Worker, and scores as the Node path does (shared/predict/predictor.ts, global setup). An embedding
 * cannot be used with such a model (422); the head cache counts its tail; memory stays in budget.
 */
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { DiagnosticsResponse, HeadSummary, PredictResponse } from '../../shared/api/types.ts';
import type { HeadDocument } from '../../shared/head/document.ts';
import { documentWeightCount } from '../../shared/predict/predictor.ts';
import { HEAD_CACHE_BYTES, headCache } from '../../worker/inference/model-runtime.ts';
import { bearer, call, expectError, float32Body, maxAbsDiff, post, putHead, signUp } from './helpers.ts';

const fineTuned = inject('fineTuned');
const doc = JSON.parse(fineTuned.document) as HeadDocument;
let owner: Awaited<ReturnType<typeof signUp>>;
let etag: string;

const predict = (body: Uint8Array, type: string, token = owner.token) => post(`/v1/predict?head=${doc.id}`, body, type, bearer(token));
const diag = async () => (await (await call('/_diag/memory')).json()) as DiagnosticsResponse;

beforeAll(async () => {
  owner = await signUp();
  const res = await putHead(owner.token, doc.id, new TextEncoder().encode(fineTuned.document), { 'if-none-match': '*' });
  expect(res.status, await res.clone().text()).toBe(201);
  expect(((await res.json()) as HeadSummary).fineTuned).toBe(true);
  etag = res.headers.get('etag') as string;
});

describe('a fine-tuned personal model at the edge', () => {
  it('scores every reference image as the Node path does (within 1e-4)', async () => {
    for (const [i, c] of fineTuned.cases.entries()) {
      const res = await predict(new Uint8Array(c.bytes), c.type);
      expect(res.status, await res.clone().text()).toBe(200);
      expect(res.headers.get('x-tannerin-head-etag')).toBe(etag);
      const body = (await res.json()) as PredictResponse;
      expect(body.head).toBe(doc.id);
      const expected = fineTuned.predictions[i] ?? [];
      expect(body.predictions.map((p) => p.label), c.name).toEqual(expected.map((p) => p.label));
      expect(maxAbsDiff(body.predictions.map((p) => p.score), expected.map((p) => p.score)), c.name).toBeLessThanOrEqual(1e-4);
    }
  });

  it('`top` cuts the ranking', async () => {
    const c = fineTuned.cases[0] as (typeof fineTuned.cases)[number];
    const body = (await (await post(`/v1/predict?head=${doc.id}&top=1`, new Uint8Array(c.bytes), c.type, bearer(owner.token))).json()) as PredictResponse;
    expect(body.predictions).toHaveLength(1);
    expect(body.predictions[0]?.label).toBe(fineTuned.predictions[0]?.[0]?.label);
  });

  it('an embedding cannot be used with it: 422 saying why; another type: 415', async () => {
    const message = await expectError(await predict(float32Body(new Float32Array(2816)), 'application/octet-stream'), 422, 'invalid_embedding');
    expect(message).toMatch(/fine-tuned/);
    expect(message).toMatch(/image\/jpeg/);
    await expectError(await predict(new Uint8Array([1, 2, 3]), 'text/plain'), 415, 'unsupported_media_type');
    await expectError(await predict(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2]), 'image/png'), 422, 'invalid_image');
  });

  it('is refused to others as any personal head is (401 without a token, 404 for another account)', async () => {
    const c = fineTuned.cases[0] as (typeof fineTuned.cases)[number];
    await expectError(await post(`/v1/predict?head=${doc.id}`, new Uint8Array(c.bytes), c.type), 401, 'unauthorized');
    const other = await signUp();
    await expectError(await predict(new Uint8Array(c.bytes), c.type, other.token), 404, 'not_found');
  });

  it('the head cache counts the tail’s weights; repeated predictions leak no tensors', async () => {
    const c = fineTuned.cases[2] as (typeof fineTuned.cases)[number];
    expect((await predict(new Uint8Array(c.bytes), c.type)).status).toBe(200);
    const key = `${owner.accountId}/${doc.id}@${etag.slice(1, -1)}`;
    expect(headCache.has(key)).toBe(true);
    const stats = (await diag()).headCache ?? { entries: 0, bytes: 0, maxBytes: 0 };
    expect(stats.maxBytes).toBe(HEAD_CACHE_BYTES);
    // Weights of the head AND the tail, as float32.
    expect(stats.bytes).toBeGreaterThanOrEqual(documentWeightCount(doc) * 4);
    const before = (await diag()).numTensors;
    for (let i = 0; i < 3; i++) expect((await predict(new Uint8Array(c.bytes), c.type)).status).toBe(200);
    expect((await diag()).numTensors).toBe(before);
  });

  it('two fine-tuned models do not fit the cache together: the older one is evicted and its tensors freed', async () => {
    const c = fineTuned.cases[0] as (typeof fineTuned.cases)[number];
    expect((await predict(new Uint8Array(c.bytes), c.type)).status).toBe(200);
    const one = await diag();
    const otherId = crypto.randomUUID();
    const other = JSON.stringify({ ...doc, id: otherId });
    expect((await putHead(owner.token, otherId, new TextEncoder().encode(other), { 'if-none-match': '*' })).status).toBe(201);
    const res = await post(`/v1/predict?head=${otherId}`, new Uint8Array(c.bytes), c.type, bearer(owner.token));
    expect(res.status).toBe(200);
    // Same scores: the same model under another id.
    expect(((await res.json()) as PredictResponse).predictions).toEqual(fineTuned.predictions[0]);
    const two = await diag();
    expect(one.headCache?.bytes).toBeGreaterThan(HEAD_CACHE_BYTES / 2);
    expect(headCache.has(`${owner.accountId}/${doc.id}@${etag.slice(1, -1)}`)).toBe(false);
    expect(two.headCache?.entries).toBe(one.headCache?.entries);
    expect(two.numTensors).toBe(one.numTensors);
  });

  it('concurrent predictions on one model not yet loaded share its load', async () => {
    const c = fineTuned.cases[0] as (typeof fineTuned.cases)[number];
    const id = crypto.randomUUID();
    expect((await putHead(owner.token, id, new TextEncoder().encode(JSON.stringify({ ...doc, id })), { 'if-none-match': '*' })).status).toBe(201);
    const answers = await Promise.all([0, 1, 2].map(() => post(`/v1/predict?head=${id}`, new Uint8Array(c.bytes), c.type, bearer(owner.token))));
    for (const r of answers) {
      expect(r.status, await r.clone().text()).toBe(200);
      expect(((await r.json()) as PredictResponse).predictions).toEqual(fineTuned.predictions[0]);
    }
  });

  it('concurrent predictions on distinct fine-tuned models: the head cache budget holds (200 or 503 + Retry-After), the WASM heap stays in budget', async () => {
    const c = fineTuned.cases[1] as (typeof fineTuned.cases)[number];
    const ids = Array.from({ length: 4 }, () => crypto.randomUUID());
    for (const id of ids) {
      expect((await putHead(owner.token, id, new TextEncoder().encode(JSON.stringify({ ...doc, id })), { 'if-none-match': '*' })).status).toBe(201);
    }
    const before = await diag();
    const heapBefore = before.peakWasmHeapBytes;
    const send = (id: string) => post(`/v1/predict?head=${id}`, new Uint8Array(c.bytes), c.type, bearer(owner.token));
    const answers = await Promise.all(ids.map(send));
    const statuses = answers.map((r) => r.status);
    for (const r of answers) {
      if (r.status === 503) {
        await expectError(r, 503, 'model_unavailable');
        expect(r.headers.get('retry-after')).toBe('1');
      } else {
        expect(r.status, await r.clone().text()).toBe(200);
        expect(((await r.json()) as PredictResponse).predictions.map((p) => p.label)).toEqual(fineTuned.predictions[1]?.map((p) => p.label));
      }
    }
    expect(statuses).toContain(200);
    const after = await diag();
    // Everything counted (cached, loading, evicted but in use) never passed the budget: without
    // admission control, four ~13 MiB models would have been counted at once.
    expect(after.headCache?.peakBytes).toBeLessThanOrEqual(HEAD_CACHE_BYTES);
    expect(after.headCache?.bytes).toBeLessThanOrEqual(HEAD_CACHE_BYTES);
    // The WASM heap grew by at most the budget (tails' weights live there), not by 4 models.
    expect(after.peakWasmHeapBytes - heapBefore).toBeLessThanOrEqual(HEAD_CACHE_BYTES);
    console.log(`concurrent fine-tuned: statuses ${statuses.join(',')}; head cache peak ${(after.headCache?.peakBytes ?? 0) / 1048576} MiB of ${HEAD_CACHE_BYTES / 1048576}; WASM heap ${heapBefore / 1048576} -> ${after.peakWasmHeapBytes / 1048576} MiB`);
    // A refused request succeeds when retried.
    for (const [i, id] of ids.entries()) if (statuses[i] === 503) expect((await send(id)).status).toBe(200);
    expect((await diag()).numTensors).toBe(after.numTensors);
  }, 120_000);

  it('after many predictions, a 1024x1024 JPEG (the largest image accepted) stays within the isolate’s memory', async () => {
    // Steady state first: the tail's weights sit in the WASM heap next to the backbone's, and the
    // heap (which never shrinks) grows by one emscripten step (+20%) over the plain path's.
    const c = fineTuned.cases[2] as (typeof fineTuned.cases)[number];
    for (let i = 0; i < 30; i++) expect((await predict(new Uint8Array(c.bytes), c.type)).status).toBe(200);
    const res = await predict(new Uint8Array(fineTuned.largeJpeg), 'image/jpeg');
    expect(res.status, await res.clone().text()).toBe(200);
    const d = await diag();
    const mib = (n: number) => n / 1048576;
    console.log(`fine-tuned predict, 1 MP JPEG after 30 warm runs: peak WASM heap ${mib(d.peakWasmHeapBytes).toFixed(1)} MiB, ${d.numTensors} tensors, head cache ${mib(d.headCache?.bytes ?? 0).toFixed(1)} MiB`);
    // 128 MiB isolate = TF.js heap + ~15 MiB JS baseline + the decode of a 1 MP JPEG (<= 16 MiB
    // of RSS growth measured through this path: bench/finetuned-edge.ts) + the body.
    expect(mib(d.peakWasmHeapBytes)).toBeLessThan(128 - 15 - 16 - 1);
  }, 120_000);
});
