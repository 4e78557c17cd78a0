/**
 * Every kind of bad input gets its status and the one error shape, never a 500, and the Worker
 * keeps answering afterwards.
 */
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../shared/limits.ts';
import { makeJpeg, makePng, makePngWithHeader, patchJpegSof, pseudoRandomBytes } from '../helpers/images.ts';
import { call, expectError, float32Body, post } from './helpers.ts';

const SIZE = 2816;
const goodPng = makePng(32, 24, [10, 200, 30, 255]);
const goodJpeg = makeJpeg(64, 48);

describe('wrong or missing content type: 415', () => {
  for (const [path, type] of [
    ['/v1/predict', 'text/plain'],
    ['/v1/predict', 'image/webp'],
    ['/v1/predict', 'image/gif'],
    ['/v1/predict', 'application/json'],
    ['/v1/embed', 'application/octet-stream'],
    ['/v1/embed', 'multipart/form-data; boundary=x'],
  ] as const) {
    it(`${path} with ${type}`, async () => {
      const msg = await expectError(await post(path, goodPng, type), 415, 'unsupported_media_type');
      expect(msg).toContain('image/jpeg');
    });
  }
  it('missing content type', async () => {
    await expectError(await post('/v1/predict', goodPng), 415, 'unsupported_media_type');
  });
  it('a GIF or WebP file labelled image/png is refused as unsupported', async () => {
    const gif = new TextEncoder().encode('GIF89a\x01\x00\x01\x00\x00\x00\x00;');
    await expectError(await post('/v1/predict', gif, 'image/png'), 415, 'unsupported_media_type');
    const webp = new Uint8Array([...new TextEncoder().encode('RIFF'), 30, 0, 0, 0, ...new TextEncoder().encode('WEBPVP8 '), ...new Uint8Array(18)]);
    const msg = await expectError(await post('/v1/predict', webp, 'image/png'), 415, 'unsupported_media_type');
    expect(msg).toMatch(/WebP/);
  });
});

describe('body over the byte limit: 413 naming the limit', () => {
  const big = new Uint8Array(LIMITS.maxBodyBytes + 1);
  big.set(goodJpeg);
  it('with a Content-Length', async () => {
    const msg = await expectError(await post('/v1/predict', big, 'image/jpeg'), 413, 'payload_too_large');
    expect(msg).toContain(String(LIMITS.maxBodyBytes));
  });
  it('streamed without a Content-Length', async () => {
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < big.length; i += 1 << 20) controller.enqueue(big.slice(i, i + (1 << 20)));
        controller.close();
      },
    });
    const msg = await expectError(await post('/v1/embed', stream, 'image/jpeg'), 413, 'payload_too_large');
    expect(msg).toContain(String(LIMITS.maxBodyBytes));
  });
});

describe('decoded size over the pixel limit: 413 from the header, before decoding', () => {
  it('a tiny PNG claiming 30000x30000', async () => {
    const msg = await expectError(await post('/v1/predict', makePngWithHeader(30000, 30000), 'image/png'), 413, 'image_too_large');
    expect(msg.replace(/[ ,_]/g, '')).toContain(String(LIMITS.maxPixels));
    expect(msg).toMatch(/30000\s*[x×]\s*30000/);
  });
  it('a JPEG whose header claims 8000x6000', async () => {
    const msg = await expectError(await post('/v1/embed', patchJpegSof(goodJpeg, { width: 8000, height: 6000 }), 'image/jpeg'), 413, 'image_too_large');
    expect(msg).toMatch(/8000\s*[x×]\s*6000/);
  });
  it('just over the limit is refused, just under is decoded', async () => {
    const side = Math.floor(Math.sqrt(LIMITS.maxPixels));
    await expectError(await post('/v1/predict', makePngWithHeader(side + 1, side + 1), 'image/png'), 413, 'image_too_large');
    // Within the limit the header is accepted and the (lying) file fails as corrupt, not as too large.
    await expectError(await post('/v1/predict', makePngWithHeader(side, side), 'image/png'), 422, 'invalid_image');
  });
});

describe('corrupt or truncated images: 422', () => {
  const cases: [string, Uint8Array, string][] = [
    ['random bytes as JPEG', pseudoRandomBytes(5000, 7), 'image/jpeg'],
    ['random bytes as PNG', pseudoRandomBytes(5000, 8), 'image/png'],
    ['empty body', new Uint8Array(0), 'image/png'],
    ['PNG signature only', goodPng.slice(0, 8), 'image/png'],
    ['PNG cut in IHDR', goodPng.slice(0, 20), 'image/png'],
    ['PNG cut in IDAT', goodPng.slice(0, goodPng.length - 20), 'image/png'],
    ['JPEG SOI only', goodJpeg.slice(0, 2), 'image/jpeg'],
    ['JPEG cut in headers', goodJpeg.slice(0, 200), 'image/jpeg'],
    ['JPEG cut in scan data', goodJpeg.slice(0, goodJpeg.length - 300), 'image/jpeg'],
    ['JPEG with zero width', patchJpegSof(goodJpeg, { width: 0 }), 'image/jpeg'],
    ['PNG with zero height', makePngWithHeader(10, 0), 'image/png'],
  ];
  for (const [name, bytes, type] of cases) {
    it(name, async () => {
      await expectError(await post('/v1/predict', bytes, type), 422, 'invalid_image');
    });
  }
  it('PNG with corrupted pixel data', async () => {
    const bad = goodPng.slice();
    for (let i = 50; i < bad.length - 20; i += 3) bad[i] = (bad[i] as number) ^ 0x5a;
    await expectError(await post('/v1/embed', bad, 'image/png'), 422, 'invalid_image');
  });
});

describe('bad embeddings: 422', () => {
  it('wrong length', async () => {
    const msg = await expectError(await post('/v1/predict', float32Body(new Float32Array(SIZE - 1)), 'application/octet-stream'), 422, 'invalid_embedding');
    expect(msg).toContain(String(SIZE * 4));
  });
  it('not a multiple of 4 bytes', async () => {
    await expectError(await post('/v1/predict', new Uint8Array(SIZE * 4 + 1), 'application/octet-stream'), 422, 'invalid_embedding');
  });
  it('empty', async () => {
    await expectError(await post('/v1/predict', new Uint8Array(0), 'application/octet-stream'), 422, 'invalid_embedding');
  });
  for (const [name, value] of [['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity]] as const) {
    it(name, async () => {
      const v = new Float32Array(SIZE).fill(0.5);
      v[1234] = value;
      const msg = await expectError(await post('/v1/predict', float32Body(v), 'application/octet-stream'), 422, 'invalid_embedding');
      expect(msg).toContain('1234');
    });
  }
});

describe('bad requests', () => {
  it('unknown head: 404 naming the heads that exist', async () => {
    const msg = await expectError(await post('/v1/predict?head=no-such-head', goodPng, 'image/png'), 404, 'not_found');
    expect(msg).toContain('content-safety');
  });
  for (const top of ['0', '-1', '1.5', 'abc']) {
    it(`top=${top}: 400`, async () => {
      await expectError(await post(`/v1/predict?top=${top}`, goodPng, 'image/png'), 400, 'invalid_request');
    });
  }
  it('wrong method: 405 with Allow', async () => {
    const res = await call('/v1/predict');
    expect(res.headers.get('allow')).toBe('POST');
    await expectError(res, 405, 'method_not_allowed');
    await expectError(await call('/v1/models', { method: 'DELETE' }), 405, 'method_not_allowed');
  });
  it('unknown API route: 404 JSON', async () => {
    await expectError(await call('/v1/nothing-here'), 404, 'not_found');
    await expectError(await post('/v1/nothing-here', goodPng, 'image/png'), 404, 'not_found');
  });
  it('the Worker still answers after all of the above', async () => {
    const res = await post('/v1/predict', goodPng, 'image/png');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { predictions: unknown[] }).predictions).toHaveLength(5);
  });
});
