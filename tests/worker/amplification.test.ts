/**
 * Request cost stays proportional to request size (issue: harden the edge). Inside workerd:
 * - a JPEG whose decoding work is out of proportion to its bytes (thousands of ~12-byte scans) is
 *   refused with 413 `image_too_complex` on the anonymous routes, before the decoder runs;
 * - JSON bodies (head uploads, the operator API, account creation) are refused over their depth,
 *   token and parsed-size limits with 413 `json_too_complex`, nothing stored;
 * - conditional headers are parsed strictly (RFC 9110): `"<etag>"x` no longer matches.
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { HEAD_JSON_LIMITS, LIMITS } from '../../shared/limits.ts';
import type { BackboneManifest } from '../../shared/model/manifest.ts';
import { headBytes, makeTestHead } from '../helpers/heads.ts';
import { makeJpeg, patchJpegSof, progressiveJpeg, withExtraScans } from '../helpers/images.ts';
import { bearer, call, expectError, freshAddress, post, putHead, servedBackbone, signUp, storedState, testEnv } from './helpers.ts';

const bindings = testEnv(env);
const operator = { authorization: `Bearer ${String(bindings.OPERATOR_TOKEN)}` };
const utf8 = (text: string) => new TextEncoder().encode(text);

let backbone: BackboneManifest;
beforeAll(async () => {
  backbone = await servedBackbone();
});

/** A 1024x1024 progressive JPEG (the real 32x16 file's header patched) with `scans` scans in all. */
const megapixelScans = (scans: number) => patchJpegSof(withExtraScans(progressiveJpeg(), scans - 4), { width: 1024, height: 1024 });

describe('progressive JPEGs of many scans: 413 image_too_complex, before decoding', () => {
  it('10,000 empty scans over 1 MP in ~100 KB (the reported attack) on /v1/predict and /v1/embed', async () => {
    const attack = megapixelScans(10_000);
    expect(attack.length).toBeLessThan(LIMITS.maxBodyBytes / 50);
    for (const path of ['/v1/predict', '/v1/embed']) {
      const msg = await expectError(await post(path, attack, 'image/jpeg'), 413, 'image_too_complex');
      expect(msg).toContain('10000 scans');
      expect(msg).toContain(String(LIMITS.maxJpegScans));
    }
  });

  it('an 8 MiB body of scans (~700,000 of them, minutes of decoding) is refused just the same', async () => {
    const scans = Math.floor((LIMITS.maxBodyBytes - 400) / 12);
    const attack = withExtraScans(progressiveJpeg(), scans);
    expect(attack.length).toBeLessThanOrEqual(LIMITS.maxBodyBytes);
    const msg = await expectError(await post('/v1/predict', attack, 'image/jpeg'), 413, 'image_too_complex');
    expect(msg).toMatch(/\d{6} scans/);
  });

  it('pixels x scans: 33 scans over 1 MP are refused, 32 reach the decoder', async () => {
    expect(LIMITS.maxJpegScanPixels).toBe(32 * LIMITS.maxPixels);
    const msg = await expectError(await post('/v1/predict', megapixelScans(33), 'image/jpeg'), 413, 'image_too_complex');
    expect(msg).toContain('33 scans over 1024x1024');
    // The patched header has no pixel data for 1 MP: the decoder refuses it as corrupt (422), which
    // shows the scan check let it through.
    await expectError(await post('/v1/predict', megapixelScans(32), 'image/jpeg'), 422, 'invalid_image');
  });

  it('real baseline and progressive JPEGs still predict', async () => {
    for (const jpeg of [progressiveJpeg(), makeJpeg(320, 240)]) {
      const res = await post('/v1/predict', jpeg, 'image/jpeg');
      expect(res.status, await res.clone().text()).toBe(200);
    }
  });
});

describe('JSON bodies bounded before parsing: 413 json_too_complex, nothing stored', () => {
  const wide = (bytes: number) => utf8(`[${'{},'.repeat(Math.floor(bytes / 3) - 1)}{}]`);
  const deep = (levels: number) => utf8(`${'['.repeat(levels)}${']'.repeat(levels)}`);

  it('a head upload of 8 MiB of [{},{},...] or nested 300,000 deep', async () => {
    const { token, accountId } = await signUp();
    const id = crypto.randomUUID();
    const before = await storedState(bindings, accountId);
    const wideMsg = await expectError(await putHead(token, id, wide(LIMITS.maxBodyBytes - 16), { 'if-none-match': '*' }), 413, 'json_too_complex');
    expect(wideMsg).toContain(String(HEAD_JSON_LIMITS.maxTokens));
    const deepMsg = await expectError(await putHead(token, id, deep(300_000), { 'if-none-match': '*' }), 413, 'json_too_complex');
    expect(deepMsg).toContain(`${HEAD_JSON_LIMITS.maxDepth} levels`);
    // A valid head nested inside a deep wrapper is refused for its depth, not parsed.
    const doc = makeTestHead(backbone, { id, seed: 1, hidden: 0, parts: ['flatten_1'], classes: ['a', 'b'] });
    const wrapped = utf8(`${'['.repeat(40)}${new TextDecoder().decode(headBytes(doc))}${']'.repeat(40)}`);
    await expectError(await putHead(token, id, wrapped, { 'if-none-match': '*' }), 413, 'json_too_complex');
    expect(await storedState(bindings, accountId)).toEqual(before);
    // The same head, plain, is stored.
    expect((await putHead(token, id, doc, { 'if-none-match': '*' })).status).toBe(201);
  });

  it('the operator API and account creation', async () => {
    const res = await call('/v1/operator/heads/deep-head', { method: 'PUT', body: deep(100_000), headers: { 'content-type': 'application/json', ...operator } });
    await expectError(res, 413, 'json_too_complex');
    const account = await call('/v1/accounts', {
      method: 'POST',
      body: '{"label":[[[[[[[[["x"]]]]]]]]]}',
      headers: { 'content-type': 'application/json', 'cf-connecting-ip': freshAddress() },
    });
    await expectError(account, 413, 'json_too_complex');
  });
});

describe('If-Match / If-None-Match parsed as RFC 9110 says', () => {
  it('"<etag>"x and junk"<etag>" no longer match: 400, and the head is unchanged', async () => {
    const { token } = await signUp();
    const id = crypto.randomUUID();
    const first = await putHead(token, id, makeTestHead(backbone, { id, seed: 1, hidden: 0, parts: ['flatten_1'], classes: ['a', 'b'] }), { 'if-none-match': '*' });
    const etag = first.headers.get('etag') ?? '';
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    const next = makeTestHead(backbone, { id, seed: 2, hidden: 0, parts: ['flatten_1'], classes: ['a', 'b'] });
    for (const header of [`${etag}x`, `junk${etag}`, etag.slice(1, -1), `W/${etag}x`, `*, ${etag}`]) {
      const msg = await expectError(await putHead(token, id, next, { 'if-match': header }), 400, 'invalid_request');
      expect(msg).toMatch(/If-Match is malformed/);
    }
    const got = await call(`/v1/heads/${id}`, { headers: bearer(token) });
    expect(got.headers.get('etag')).toBe(etag);
    await expectError(await call(`/v1/heads/${id}`, { headers: { ...bearer(token), 'if-none-match': `x${etag}` } }), 400, 'invalid_request');
    // Well-formed lists still work: the current tag among others, with whitespace.
    const ok = await putHead(token, id, next, { 'if-match': ` "0000", ${etag} ` });
    expect(ok.status, await ok.clone().text()).toBe(200);
  });
});
