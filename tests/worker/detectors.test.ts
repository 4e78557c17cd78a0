/**
 * Detectors are served for the app's opt-in "find the object first" (issue 17): `GET /v1/models`
 * lists CenterNet in `detectors[]` with absolute URLs, and its files come from static assets under
 * models/detectors/, immutable-cached like the backbone's and hash-verified. The edge never runs it.
 */
import { describe, expect, it } from 'vitest';
import type { ModelsResponse } from '../../shared/api/types.ts';
import { CENTERNET_ID, CENTERNET_SIDE } from '../../shared/crop/detector-box.ts';
import { BASE, call } from './helpers.ts';

const sha256 = async (b: ArrayBuffer) =>
  Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', b)), (x) => x.toString(16).padStart(2, '0')).join('');

describe('GET /v1/models lists the detectors', () => {
  it('lists CenterNet with its size, and serves its files immutable and hash-verified', async () => {
    const m = (await (await call('/v1/models')).json()) as ModelsResponse;
    const detector = m.detectors?.find((d) => d.id === CENTERNET_ID);
    expect(detector).toBeDefined();
    if (!detector) return;
    expect(detector.inputSize).toEqual([CENTERNET_SIDE, CENTERNET_SIDE]);
    expect(detector.files.map((f) => f.path)).toEqual([`models/detectors/${CENTERNET_ID}-${detector.version}/model.json`, `models/detectors/${CENTERNET_ID}-${detector.version}/weights.bin`]);
    expect(detector.bytes).toBe(detector.files.reduce((a, f) => a + f.bytes, 0));
    expect(detector.bytes).toBeGreaterThan(3.5e6);
    for (const f of detector.files) {
      expect(f.url).toBe(`${BASE}/${f.path}`);
      const r = await call(`/${f.path}`);
      expect(r.status, f.path).toBe(200);
      expect(r.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      const bytes = await r.arrayBuffer();
      expect(bytes.byteLength).toBe(f.bytes);
      expect(await sha256(bytes)).toBe(f.sha256);
    }
    const json = JSON.parse(new TextDecoder().decode(await (await call(`/${detector.files[0]?.path ?? ''}`)).arrayBuffer())) as { format: string; weightsManifest: { paths: string[] }[] };
    expect(json.format).toBe('graph-model');
    expect(json.weightsManifest.map((g) => g.paths)).toEqual([['weights.bin']]);
  });
});
