/**
 * The pair MobileNetV2 + InceptionV3 as a served backbone (issue 15; shared/model/backbone-pair.ts):
 * `GET /v1/models` lists it in `backbones[]` after its members, composed exactly as pairManifest
 * composes it (no files of its own); heads on it are stored and synced like any served backbone's;
 * `/v1/predict` answers 409 for them (the edge runs MobileNetV2 only, never InceptionV3); a
 * fine-tuned document naming it is refused (a pair has no single model to extend). Needs the
 * install step's default setting (TANNERIN_BACKBONES unset).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { HeadSummary, HeadsResponse, ModelsResponse, ServedBackbone } from '../../shared/api/types.ts';
import type { HeadDocument } from '../../shared/head/document.ts';
import type { BackboneModelJson } from '../../shared/head/validate.ts';
import { pairManifest } from '../../shared/model/backbone-pair.ts';
import { backboneRef } from '../../shared/model/manifest.ts';
import { headBytes, makeTestHead, makeTestTail } from '../helpers/heads.ts';
import { bearer, call, expectError, float32Body, post, putHead, signUp } from './helpers.ts';

let models: ModelsResponse;
let pair: ServedBackbone;
beforeAll(async () => {
  models = (await (await call('/v1/models')).json()) as ModelsResponse;
  const found = models.backbones.find((b) => b.id === 'mobilenet_v2+inception_v3');
  if (!found) throw new Error('the pair is not served: run the tests with TANNERIN_BACKBONES unset');
  pair = found;
});

/** A small plain head on the pair's embedding, reading a part of each member. */
const pairHead = (seed = 1): HeadDocument => makeTestHead(pair, { id: crypto.randomUUID(), seed, hidden: 0, classes: ['yes', 'no'], parts: ['flatten_1', 'mixed7'] });

describe('GET /v1/models lists the pair', () => {
  it('after its members, with their refs, their parts shifted, no files, and a version made of theirs', () => {
    const [mobilenet, inception, listed] = models.backbones;
    if (!mobilenet || !inception) throw new Error('both members must be served');
    expect(listed).toBe(pair);
    expect(pair.members).toEqual([backboneRef(mobilenet), backboneRef(inception)]);
    expect(pair.files).toEqual([]);
    expect(pair).toEqual(pairManifest([mobilenet, inception]));
    expect(pair.version).toBe(mobilenet.version + inception.version);
    expect(pair.embedding.size).toBe(2816 + 768);
    // The edge runs the default, and the default is not the pair.
    expect(models.backbone.id).toBe('mobilenet_v2');
  });
});

describe('heads on the pair', () => {
  it('are stored and synced (PUT 201, listed, read back byte for byte) under the pair ref', async () => {
    const { token } = await signUp();
    const doc = pairHead();
    const bytes = headBytes(doc);
    const res = await putHead(token, doc.id, bytes, { 'if-none-match': '*' });
    expect(res.status, await res.clone().text()).toBe(201);
    expect(((await res.json()) as HeadSummary).backbone).toBe(backboneRef(pair));
    const list = (await (await call('/v1/heads', { headers: bearer(token) })).json()) as HeadsResponse;
    expect(list.heads.map((h) => [h.id, h.backbone])).toEqual([[doc.id, backboneRef(pair)]]);
    const got = await call(`/v1/heads/${doc.id}`, { headers: bearer(token) });
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(bytes);
  });

  it('POST /v1/predict with one: 409 saying the edge does not run its backbone, naming the pair and the default', async () => {
    const { token } = await signUp();
    const doc = pairHead(2);
    expect((await putHead(token, doc.id, doc, { 'if-none-match': '*' })).status).toBe(201);
    for (const size of [pair.embedding.size, 2816]) {
      const res = await post(`/v1/predict?head=${doc.id}`, float32Body(new Float32Array(size)), 'application/octet-stream', bearer(token));
      const message = await expectError(res, 409, 'backbone_mismatch');
      expect(message).toContain('does not run at the edge');
      expect(message).toContain(backboneRef(pair));
      expect(message).toContain(backboneRef(models.backbone));
    }
  });

  it('a fine-tuned document naming the pair is a 422 saying why (no single model to extend)', async () => {
    const { token } = await signUp();
    const modelJson = (await (await call(`/${models.backbone.files[0]?.path}`)).json()) as BackboneModelJson;
    const tuned = { ...pairHead(3), backboneTail: makeTestTail(models.backbone, modelJson) };
    const message = await expectError(await putHead(token, tuned.id, tuned, { 'if-none-match': '*' }), 422, 'invalid_head');
    expect(message).toContain('is a pair of two');
  });
});
