/**
 * `POST /v1/predict` with a head that records a crop (shared/head/crop.ts, issue 17 point 2). A
 * feature-map crop: the edge finds the same box as the Node path (tests/worker/global-setup.ts)
 * and gives the same scores, and those are the scores the same head without the crop gives the
 * crop itself (cut here with the answered box, sent as a lossless PNG). The answer validates
 * against the OpenAPI description; the tensor count stays flat. A detector crop is a 409, an
 * embedding for a crop head a 422, a bad crop setting a 422 on upload. A crop head the operator
 * publishes keeps its crop in the standard files browsers load, and predicts anonymously the same.
 */
import { Validator, type Schema } from '@cfworker/json-schema';
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { DiagnosticsResponse, ModelsResponse, PredictResponse } from '../../shared/api/types.ts';
import { cropToBox } from '../../shared/crop/box.ts';
import { importHeadFiles, type HeadDocument } from '../../shared/head/document.ts';
import { cropScenePixels, cropScenePng } from '../helpers/crop-scene.ts';
import { makePng } from '../helpers/images.ts';
import { BASE, bearer, call, expectError, float32Body, maxAbsDiff, post, putHead, signUp, testEnv } from './helpers.ts';

const reference = inject('cropHead');

let token: string;
let cropHead: HeadDocument;
let plain: HeadDocument;
let detector: HeadDocument;

const upload = async (doc: unknown): Promise<Response> => putHead(token, (doc as HeadDocument).id, new TextEncoder().encode(JSON.stringify(doc)), { 'if-none-match': '*' });

beforeAll(async () => {
  token = (await signUp()).token;
  cropHead = JSON.parse(reference.document) as HeadDocument;
  const { crop: _c, ...rest } = cropHead;
  plain = { ...rest, formatVersion: 1, id: crypto.randomUUID() };
  detector = { ...cropHead, id: crypto.randomUUID(), crop: { method: 'detector', detector: 'centernet-mobilenetv3', minScore: 0.3, pad: 0.15 } };
  for (const doc of [cropHead, plain, detector]) {
    const res = await upload(doc);
    expect(res.status, await res.clone().text()).toBe(201);
  }
});

const predict = async (headId: string, body: Uint8Array, type = 'image/png'): Promise<PredictResponse> => {
  const res = await post(`/v1/predict?head=${headId}`, body, type, bearer(token));
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as PredictResponse;
};

describe('a feature-map crop at the edge', () => {
  it('the same box and scores as Node, and the scores of the crop itself', async () => {
    const answer = await predict(cropHead.id, cropScenePng());
    expect(answer.crop?.method).toBe('featuremap');
    const box = answer.crop?.box ?? { x: 0, y: 0, width: 1, height: 1 };
    expect(maxAbsDiff(Object.values(box), Object.values(reference.box))).toBeLessThanOrEqual(1e-6);
    expect(box.width).toBeLessThan(1);
    expect(answer.predictions.map((p) => p.label)).toEqual(reference.predictions.map((p) => p.label));
    expect(maxAbsDiff(answer.predictions.map((p) => p.score), reference.predictions.map((p) => p.score))).toBeLessThanOrEqual(1e-4);

    const crop = cropToBox(cropScenePixels(), box);
    const plainAnswer = await predict(plain.id, makePng(crop.width, crop.height, new Uint8Array(crop.data)));
    expect(plainAnswer.crop).toBeUndefined();
    expect(plainAnswer.predictions.map((p) => p.label)).toEqual(answer.predictions.map((p) => p.label));
    expect(maxAbsDiff(plainAnswer.predictions.map((p) => p.score), answer.predictions.map((p) => p.score))).toBeLessThanOrEqual(1e-6);
  });

  it('answers as the OpenAPI description says (PredictResponse with its crop)', async () => {
    const doc = (await (await call('/v1/openapi.json')).json()) as { components: { schemas: Record<string, unknown> } };
    const answer = await predict(cropHead.id, cropScenePng());
    const root = { $id: `${BASE}/v1/openapi.json`, allOf: [{ $ref: '#/components/schemas/PredictResponse' }], components: doc.components };
    expect(new Validator(root as Schema, '2020-12', false).validate(answer).errors).toEqual([]);
    // `crop` is described, so a closed schema would refuse anything else in it.
    expect(new Validator(root as Schema, '2020-12', false).validate({ ...answer, crop: { ...answer.crop, extra: 1 } }).valid).toBe(false);
  });

  it('keeps the tensor count flat over crop predictions', async () => {
    const body = cropScenePng();
    await predict(cropHead.id, body);
    const before = ((await (await call('/_diag/memory')).json()) as DiagnosticsResponse).numTensors;
    for (let i = 0; i < 3; i++) await predict(cropHead.id, body);
    expect(((await (await call('/_diag/memory')).json()) as DiagnosticsResponse).numTensors).toBe(before);
  });
});

describe('crop heads the edge cannot run, and bad crop settings', () => {
  it('a detector crop: 409 conflict saying it runs in the app', async () => {
    const res = await post(`/v1/predict?head=${detector.id}`, cropScenePng(), 'image/png', bearer(token));
    expect(await expectError(res, 409, 'conflict')).toMatch(/object detector \(centernet-mobilenetv3\), which the edge does not run.*Predict with it in the app/);
  });

  it('an embedding for a crop head: 422 invalid_embedding (the crop needs the photo)', async () => {
    const res = await post(`/v1/predict?head=${cropHead.id}`, float32Body(new Float32Array(2816).fill(0.1)), 'application/octet-stream', bearer(token));
    expect(await expectError(res, 422, 'invalid_embedding')).toMatch(/crops each photo before it embeds it \(featuremap\).*Send the photo/);
  });

  it('refuses on upload: an unknown method, numbers out of range, a crop without formatVersion 2 (422 naming it)', async () => {
    const cases: [unknown, RegExp][] = [
      [{ ...cropHead, id: crypto.randomUUID(), crop: { method: 'saliency', layer: 'out_relu', threshold: 0.5, pad: 0.1 } }, /crop\.method must be one of "featuremap", "detector"/],
      [{ ...cropHead, id: crypto.randomUUID(), crop: { ...cropHead.crop, threshold: 0 } }, /crop\.threshold must be a number greater than 0/],
      [{ ...cropHead, id: crypto.randomUUID(), crop: { ...cropHead.crop, pad: 5 } }, /crop\.pad must be a number from 0 to 1/],
      [{ ...cropHead, id: crypto.randomUUID(), formatVersion: 1 }, /a head with a crop has formatVersion 2/],
    ];
    for (const [doc, pattern] of cases) expect(await expectError(await upload(doc), 422, 'invalid_head')).toMatch(pattern);
  });

  it('a crop layer that is not a feature map of the backbone: 422 on upload (personal and operator), naming the layer', async () => {
    const bad = { ...cropHead, id: crypto.randomUUID(), crop: { ...cropHead.crop, layer: 'no_such_layer' } };
    expect(await expectError(await upload(bad), 422, 'invalid_head')).toMatch(/crop\.layer "no_such_layer" is not a feature map .* of mobilenet_v2@/);
    // A layer with a flat output (global pooling: 1280 floats) is no feature map either.
    const flat = { ...cropHead, id: crypto.randomUUID(), crop: { ...cropHead.crop, layer: 'flatten_1' } };
    expect(await expectError(await upload(flat), 422, 'invalid_head')).toMatch(/crop\.layer "flatten_1" is not a feature map/);
    expect((await call(`/v1/heads/${bad.id}`, { headers: bearer(token) })).status).toBe(404);
    const operator = { authorization: `Bearer ${testEnv(env).OPERATOR_TOKEN as string}` };
    const res = await call('/v1/operator/heads/bad-crop', { method: 'PUT', body: JSON.stringify(bad), headers: { 'content-type': 'application/json', ...operator } });
    expect(await expectError(res, 422, 'invalid_head')).toMatch(/crop\.layer "no_such_layer" is not a feature map/);
  });

  it('a stored crop head whose layer the folded graph does not compute: 422 invalid_head at predict time, naming the layer', async () => {
    // bn_Conv1 is a feature map of model.json (so the upload passes) but is folded into Conv1.
    const folded = { ...cropHead, id: crypto.randomUUID(), crop: { ...cropHead.crop, layer: 'bn_Conv1' } };
    expect((await upload(folded)).status).toBe(201);
    const res = await post(`/v1/predict?head=${folded.id}`, cropScenePng(), 'image/png', bearer(token));
    expect(await expectError(res, 422, 'invalid_head')).toMatch(/crop\.layer "bn_Conv1" is folded into/);
  });
});

describe('a published crop head', () => {
  it('keeps its crop in the files browsers load, and predicts the same box and scores anonymously', async () => {
    const operator = { authorization: `Bearer ${testEnv(env).OPERATOR_TOKEN as string}` };
    const res = await call('/v1/operator/heads/crop-things', { method: 'PUT', body: JSON.stringify(cropHead), headers: { 'content-type': 'application/json', ...operator } });
    expect(res.status, await res.clone().text()).toBe(201);
    const entry = ((await (await call('/v1/models')).json()) as ModelsResponse).heads.find((h) => h.id === 'crop-things');
    const [modelJson, weights] = await Promise.all((entry?.files ?? []).map(async (f) => new Uint8Array(await (await call(new URL(f.url).pathname)).arrayBuffer())));
    const imported = importHeadFiles(JSON.parse(new TextDecoder().decode(modelJson)) as Record<string, unknown>, weights as Uint8Array);
    expect(imported).toMatchObject({ formatVersion: 2, crop: cropHead.crop });

    const answer = (await (await post('/v1/predict?head=crop-things', cropScenePng(), 'image/png')).json()) as PredictResponse;
    expect(maxAbsDiff(Object.values(answer.crop?.box ?? {}), Object.values(reference.box))).toBeLessThanOrEqual(1e-6);
    expect(maxAbsDiff(answer.predictions.map((p) => p.score), reference.predictions.map((p) => p.score))).toBeLessThanOrEqual(1e-4);
    expect((await call('/v1/operator/heads/crop-things', { method: 'DELETE', headers: operator })).status).toBe(204);
  });
});
