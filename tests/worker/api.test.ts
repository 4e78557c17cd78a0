/**
 * The edge API, called as a client would, inside workerd. Scores and embeddings are compared with
 * the Node path computed in global setup: the same images through the same decoder, preprocessing,
 * model files and backend must give the same numbers (max abs difference <= 1e-4).
 */
import { env } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import type { DiagnosticsResponse, HealthResponse, ModelsResponse, PredictResponse } from '../../shared/api/types.ts';
import { createApp } from '../../worker/app.ts';
import type { Env } from '../../worker/env.ts';
import { BASE, call, expectError, float32Body, maxAbsDiff, post } from './helpers.ts';

const reference = inject('reference');
const sha256 = async (b: ArrayBuffer) =>
  Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', b)), (x) => x.toString(16).padStart(2, '0')).join('');

describe('GET /healthz and /v1/models', () => {
  it('reports health and the backbone version', async () => {
    const res = await call('/healthz');
    expect(res.status).toBe(200);
    const body = (await res.json()) as HealthResponse;
    expect(body).toEqual({ ok: true, backbone: reference.backbone });
  });

  it('serves the manifest with absolute URLs, and every file from static assets, immutable and hash-verified', async () => {
    const res = await call('/v1/models', { headers: { origin: 'https://app.example' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const m = (await res.json()) as ModelsResponse;
    expect(`${m.backbone.id}@${m.backbone.version}`).toBe(reference.backbone);
    expect(m.backbone.embedding.size).toBe(2816);
    expect(m.heads.map((h) => h.id)).toContain('content-safety');
    const files = [...m.backbone.files, ...m.heads.flatMap((h) => [...h.files, h.document])];
    expect(files.length).toBe(5);
    expect(m.heads[0]?.document.url).toBe(m.heads[0]?.url);
    for (const f of files) {
      expect(f.url).toBe(`${BASE}/${f.path}`);
      const r = await call(`/${f.path}`);
      expect(r.status, f.path).toBe(200);
      expect(r.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      const etag = r.headers.get('etag');
      expect(etag).toBeTruthy();
      const bytes = await r.arrayBuffer();
      expect(bytes.byteLength).toBe(f.bytes);
      expect(await sha256(bytes)).toBe(f.sha256);
      const again = await call(`/${f.path}`, { headers: { 'if-none-match': etag as string } });
      expect(again.status).toBe(304);
      await again.body?.cancel();
    }
    const head = await call(new URL(m.heads[0]?.url ?? '').pathname);
    expect(head.status).toBe(200);
    expect(((await head.json()) as { format: string }).format).toBe('tannerin-head');
  });

  it('answers CORS preflight for the API', async () => {
    const res = await call('/v1/predict', {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
  });
});

describe('POST /v1/predict and /v1/embed run the real model', () => {
  for (const ref of reference.cases) {
    it(`${ref.name}: same embedding and scores as the Node path`, async () => {
      const bytes = new Uint8Array(ref.bytes);
      const embedRes = await post('/v1/embed', bytes, ref.type);
      expect(embedRes.status).toBe(200);
      expect(embedRes.headers.get('content-type')).toBe('application/octet-stream');
      expect(embedRes.headers.get('x-tannerin-backbone')).toBe(reference.backbone);
      const buf = await embedRes.arrayBuffer();
      expect(buf.byteLength).toBe(2816 * 4);
      const view = new DataView(buf);
      const embedding = Array.from({ length: 2816 }, (_, i) => view.getFloat32(i * 4, true));
      expect(maxAbsDiff(embedding, ref.embedding)).toBeLessThanOrEqual(1e-4);
      // Not a constant vector: a stub would fail here.
      expect(new Set(embedding.map((v) => v.toFixed(3))).size).toBeGreaterThan(100);

      const res = await post('/v1/predict', bytes, ref.type);
      expect(res.status).toBe(200);
      const body = (await res.json()) as PredictResponse;
      expect(body.backbone).toBe(reference.backbone);
      expect(body.head).toBe('content-safety');
      expect(body.predictions.map((p) => p.label)).toEqual(ref.predictions.map((p) => p.label));
      expect(maxAbsDiff(body.predictions.map((p) => p.score), ref.predictions.map((p) => p.score))).toBeLessThanOrEqual(1e-4);
      const scores = body.predictions.map((p) => p.score);
      expect(scores).toEqual([...scores].sort((a, b) => b - a));
      expect(Math.abs(scores.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5);
    });
  }

  it('applies EXIF orientation: the rotated JPEG decodes to 480x640 and differs from the upright one', () => {
    const upright = reference.cases.find((c) => c.name === 'scene.jpg');
    const rotated = reference.cases.find((c) => c.name === 'scene-rotated.jpg');
    expect([upright?.width, upright?.height]).toEqual([640, 480]);
    expect([rotated?.width, rotated?.height]).toEqual([480, 640]);
    expect(maxAbsDiff(upright?.embedding ?? [], rotated?.embedding ?? [])).toBeGreaterThan(0.1);
  });

  it('accepts an embedding computed on the client (little-endian float32) and gives the same scores', async () => {
    const ref = reference.cases[0];
    const res = await post('/v1/predict?head=content-safety', float32Body(ref?.embedding ?? []), 'application/octet-stream');
    expect(res.status).toBe(200);
    const body = (await res.json()) as PredictResponse;
    expect(maxAbsDiff(body.predictions.map((p) => p.score), ref?.predictions.map((p) => p.score) ?? [])).toBeLessThanOrEqual(1e-6);
  });

  it('honours top', async () => {
    const ref = reference.cases[0];
    const res = await post('/v1/predict?top=2', float32Body(ref?.embedding ?? []), 'application/octet-stream');
    const body = (await res.json()) as PredictResponse;
    expect(body.predictions.map((p) => p.label)).toEqual(ref?.predictions.slice(0, 2).map((p) => p.label));
  });
});

describe('per-isolate model lifecycle', () => {
  it('keeps the tensor count flat over 50 predictions', async () => {
    const ref = reference.cases[2];
    const bytes = new Uint8Array(ref?.bytes ?? []);
    await (await post('/v1/predict', bytes, 'image/jpeg')).arrayBuffer(); // warm
    const diag = async () => (await (await call('/_diag/memory')).json()) as DiagnosticsResponse;
    const before = await diag();
    expect(before.backend).toBe('wasm');
    // The model's weights are tensors: the folded backbone's 52 filters and 52 biases, and the head's.
    expect(before.numTensors).toBeGreaterThan(104);
    for (let i = 0; i < 50; i++) {
      const body = i % 2 ? bytes : float32Body(ref?.embedding ?? []);
      const res = await post('/v1/predict', body, i % 2 ? 'image/jpeg' : 'application/octet-stream');
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    const after = await diag();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
    expect(after.modelLoads).toBe(before.modelLoads);
    expect(after.peakWasmHeapBytes).toBeGreaterThan(10 * 1024 * 1024);
  });

  it('diagnostics are off unless TANNERIN_DIAGNOSTICS is "1"', async () => {
    const app = createApp();
    const off = await app.fetch(new Request(`${BASE}/_diag/memory`), { ...(env as Env), TANNERIN_DIAGNOSTICS: undefined });
    await expectError(off, 404, 'not_found');
    const on = await app.fetch(new Request(`${BASE}/_diag/memory`), { ...(env as Env), TANNERIN_DIAGNOSTICS: '1' });
    expect(on.status).toBe(200);
  });
});
