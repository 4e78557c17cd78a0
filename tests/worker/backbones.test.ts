/**
 * Backbones are plural (issue 15): `GET /v1/models` lists every served backbone in `backbones[]`
 * (the default first, equal to `backbone`), heads for any of them are stored and synced, each
 * checked against its own backbone, and `/v1/predict` answers 409 for a head on a backbone the edge
 * does not run (it runs the default, MobileNetV2, only). Needs the install step's default setting
 * (TANNERIN_BACKBONES unset: MobileNetV2 and InceptionV3).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { HeadSummary, HeadsResponse, ModelsResponse, ServedBackbone } from '../../shared/api/types.ts';
import type { HeadDocument } from '../../shared/head/document.ts';
import type { BackboneModelJson } from '../../shared/head/validate.ts';
import { backboneRef } from '../../shared/model/manifest.ts';
import { headBytes, makeTestHead, makeTestTail } from '../helpers/heads.ts';
import { bearer, call, expectError, float32Body, post, putHead, signUp } from './helpers.ts';

let models: ModelsResponse;
let inception: ServedBackbone;
beforeAll(async () => {
  models = (await (await call('/v1/models')).json()) as ModelsResponse;
  const found = models.backbones.find((b) => b.id === 'inception_v3');
  if (!found) throw new Error('inception_v3 is not served: run the tests with TANNERIN_BACKBONES unset');
  inception = found;
});

/** A small plain head on InceptionV3's embedding (mixed7, 768 floats). */
const inceptionHead = (seed = 1): HeadDocument => makeTestHead(inception, { id: crypto.randomUUID(), seed, hidden: 0, classes: ['yes', 'no'] });

describe('GET /v1/models lists every served backbone', () => {
  it('backbones[]: the default first (equal to backbone), then InceptionV3, each with its files served (then their pair: tests/worker/backbone-pair.test.ts)', async () => {
    expect(models.backbones.map((b) => b.id)).toEqual(['mobilenet_v2', 'inception_v3', 'mobilenet_v2+inception_v3']);
    expect(models.backbones[0]).toEqual(models.backbone);
    expect(inception.embedding.size).toBe(768);
    expect(inception.inputSize).toEqual([299, 299]);
    for (const file of inception.files) {
      expect(file.url).toBe(`https://tannerin.test/${file.path}`);
      const res = await call(`/${file.path}`);
      expect(res.status).toBe(200);
      expect((await res.arrayBuffer()).byteLength).toBe(file.bytes);
    }
    // The shipped head still runs on the default backbone.
    expect(models.heads.map((h) => h.backbone)).toEqual([backboneRef(models.backbone)]);
  });
});

describe('heads on a backbone the edge does not run', () => {
  it('are stored and synced (PUT 201, listed, read back byte for byte)', async () => {
    const { token } = await signUp();
    const doc = inceptionHead();
    const bytes = headBytes(doc);
    const res = await putHead(token, doc.id, bytes, { 'if-none-match': '*' });
    expect(res.status, await res.clone().text()).toBe(201);
    expect(((await res.json()) as HeadSummary).backbone).toBe(backboneRef(inception));
    const list = (await (await call('/v1/heads', { headers: bearer(token) })).json()) as HeadsResponse;
    expect(list.heads.map((h) => [h.id, h.backbone])).toEqual([[doc.id, backboneRef(inception)]]);
    const got = await call(`/v1/heads/${doc.id}`, { headers: bearer(token) });
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(bytes);
  });

  it('are checked against their own backbone: a head reading MobileNetV2 parts but naming InceptionV3 is a 422', async () => {
    const { token } = await signUp();
    const wrong = { ...makeTestHead(models.backbone, { id: crypto.randomUUID(), hidden: 0, parts: ['flatten_1'] }), backbone: backboneRef(inception) };
    expect(await expectError(await putHead(token, wrong.id, wrong, { 'if-none-match': '*' }), 422, 'invalid_head')).toMatch(/flatten_1/);
    // A fine-tuned document is checked against InceptionV3's own model.json (read from the assets):
    // MobileNetV2's tail is not InceptionV3's, a 422 and not a failed read.
    const modelJson = (await (await call(`/${models.backbone.files[0]?.path}`)).json()) as BackboneModelJson;
    const tuned = { ...inceptionHead(2), backboneTail: makeTestTail(models.backbone, modelJson) };
    await expectError(await putHead(token, tuned.id, tuned, { 'if-none-match': '*' }), 422, 'invalid_head');
  });

  it('POST /v1/predict with one: 409 saying the edge does not run its backbone, naming both', async () => {
    const { token } = await signUp();
    const doc = inceptionHead(3);
    expect((await putHead(token, doc.id, doc, { 'if-none-match': '*' })).status).toBe(201);
    for (const size of [768, 2816]) {
      const res = await post(`/v1/predict?head=${doc.id}`, float32Body(new Float32Array(size)), 'application/octet-stream', bearer(token));
      const message = await expectError(res, 409, 'backbone_mismatch');
      expect(message).toContain('does not run at the edge');
      expect(message).toContain(backboneRef(inception));
      expect(message).toContain(backboneRef(models.backbone));
    }
  });

  it('a backbone that is not served at all is still refused on upload (409)', async () => {
    const { token } = await signUp();
    const other = { ...inceptionHead(4), backbone: 'inception_v3@0000000000000000' };
    expect(await expectError(await putHead(token, other.id, other, { 'if-none-match': '*' }), 409, 'backbone_mismatch')).toContain('inception_v3@0000000000000000');
  });
});
