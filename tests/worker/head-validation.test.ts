/**
 * Every rejected head write changes nothing: the account's index rows and R2 objects are read
 * before and after each attempt, for creates and for updates of an existing head.
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../shared/errors.ts';
import type { HeadDocument } from '../../shared/head/document.ts';
import { HEAD_LIMITS, LIMITS } from '../../shared/limits.ts';
import type { BackboneManifest } from '../../shared/model/manifest.ts';
import { float32Base64, headBytes, makeTestHead } from '../helpers/heads.ts';
import { bearer, call, expectError, putHead, servedBackbone, signUp, storedState, testEnv } from './helpers.ts';

let backbone: BackboneManifest;
let account: Awaited<ReturnType<typeof signUp>>;
let existing: HeadDocument;
let existingEtag: string;

beforeAll(async () => {
  backbone = await servedBackbone();
  account = await signUp();
  existing = makeTestHead(backbone, { id: crypto.randomUUID(), parts: ['flatten_1'], hidden: 4 });
  const res = await putHead(account.token, existing.id, existing, { 'if-none-match': '*' });
  expect(res.status).toBe(201);
  existingEtag = res.headers.get('etag') as string;
});

/** A valid document like the stored one, changed by `edit` (a deep copy is edited). */
function variant(edit: (doc: HeadDocument & Record<string, unknown>) => void, base: HeadDocument = existing): HeadDocument {
  const copy = JSON.parse(JSON.stringify(base)) as HeadDocument & Record<string, unknown>;
  edit(copy);
  return copy;
}

/** The float32 weights of a plain (unquantized) document with value `v` at flat index `i`. */
function withWeight(doc: HeadDocument, i: number, v: number): string {
  const bytes = Uint8Array.from(atob(doc.weightData), (ch) => ch.charCodeAt(0));
  new DataView(bytes.buffer).setFloat32(i * 4, v, true);
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/**
 * PUTs `body` as a create (a fresh id) and as an update of the existing head, expecting `status`
 * and `code` both times and no change to anything stored. Returns the update's error message.
 */
async function rejected(body: HeadDocument | Uint8Array, status: number, code: ErrorCode, opts: { path?: string; contentType?: string } = {}): Promise<string> {
  const before = await storedState(testEnv(env), account.accountId);
  const send = (id: string, headers: Record<string, string>) => {
    const payload = body instanceof Uint8Array ? body : headBytes(id === existing.id ? body : { ...body, id });
    return call(`/v1/heads/${opts.path ?? id}`, {
      method: 'PUT',
      body: payload,
      headers: { 'content-type': opts.contentType ?? 'application/json', ...bearer(account.token), ...headers },
    });
  };
  await expectError(await send(crypto.randomUUID(), { 'if-none-match': '*' }), status, code);
  const message = await expectError(await send(existing.id, { 'if-match': existingEtag }), status, code);
  expect(await storedState(testEnv(env), account.accountId)).toEqual(before);
  const served = await call(`/v1/heads/${existing.id}`, { headers: bearer(account.token) });
  expect(served.headers.get('etag')).toBe(existingEtag);
  await served.arrayBuffer();
  return message;
}

describe('rejected head writes change nothing', () => {
  it('a head for another backbone version: 409 naming both versions', async () => {
    const other = `${backbone.id}@0123456789abcdef`;
    const msg = await rejected(variant((d) => (d.backbone = other)), 409, 'backbone_mismatch');
    expect(msg).toContain(other);
    expect(msg).toContain(`${backbone.id}@${backbone.version}`);
  });

  it('a kernel shape that does not fit its layer', async () => {
    const msg = await rejected(variant((d) => (d.weightSpecs[0] = { ...d.weightSpecs[0], shape: [1279, 4] } as HeadDocument['weightSpecs'][number])), 422, 'invalid_head');
    expect(msg).toMatch(/hidden\/kernel.*\[1279, 4\].*\[1280, 4\]/);
  });

  it('an input layer that does not take the size of the embedding parts it reads', async () => {
    const msg = await rejected(
      variant((d) => {
        d.input.parts = ['block_13_expand_relu'];
        d.input.mean = null;
      }),
      422,
      'invalid_head',
    );
    expect(msg).toMatch(/takes 1280 features.*gives 576/);
  });

  it('an output size that is not the class count', async () => {
    const msg = await rejected(variant((d) => d.classes.push('extra')), 422, 'invalid_head');
    expect(msg).toMatch(/outputs 3 scores.*4 classes/);
  });

  for (const [name, value] of [['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity]] as const) {
    it(`a ${name} weight`, async () => {
      const msg = await rejected(variant((d) => (d.weightData = withWeight(existing, 17, value))), 422, 'invalid_head');
      expect(msg).toMatch(new RegExp(`hidden/kernel\\[17\\] is ${name.replace('-', '\\-')}`));
    });
  }

  it('a training mean of the wrong length, an unknown embedding part, bad scale', async () => {
    await rejected(variant((d) => d.input.mean?.pop()), 422, 'invalid_head');
    await rejected(variant((d) => (d.input.parts = ['fc_1000'])), 422, 'invalid_head');
    await rejected(variant((d) => (d.input.scale = -1)), 422, 'invalid_head');
  });

  it(`more than ${HEAD_LIMITS.maxClasses} classes`, async () => {
    const many = Array.from({ length: HEAD_LIMITS.maxClasses + 1 }, (_, i) => `class ${i}`);
    const big = makeTestHead(backbone, { id: existing.id, parts: ['block_13_expand_relu'], hidden: 0, classes: many, mean: false });
    const msg = await rejected(big, 422, 'invalid_head');
    expect(msg).toContain(String(HEAD_LIMITS.maxClasses));
  });

  it('labels too long, empty or repeated', async () => {
    const msg = await rejected(variant((d) => (d.classes[1] = 'x'.repeat(HEAD_LIMITS.maxLabelLength + 1))), 422, 'invalid_head');
    expect(msg).toContain(String(HEAD_LIMITS.maxLabelLength));
    await rejected(variant((d) => (d.classes[1] = '  ')), 422, 'invalid_head');
    await rejected(variant((d) => (d.classes[1] = d.classes[0] as string)), 422, 'invalid_head');
  });

  it('an unsupported layer, unknown fields, a wrong format, truncated weights', async () => {
    const conv = await rejected(
      variant((d) => {
        const layers = (d.modelTopology.config as { layers: { class_name: string }[] }).layers;
        (layers[1] as { class_name: string }).class_name = 'Conv2D';
      }),
      422,
      'invalid_head',
    );
    expect(conv).toMatch(/Conv2D is not supported/);
    await rejected(variant((d) => (d.extra = 1)), 422, 'invalid_head');
    await rejected(variant((d) => ((d as { formatVersion: number }).formatVersion = 2)), 422, 'invalid_head');
    await rejected(variant((d) => (d.weightData = d.weightData.slice(0, -8))), 422, 'invalid_head');
    await rejected(variant((d) => (d.weightData = float32Base64([1, 2, 3]))), 422, 'invalid_head');
  });

  it('a body that is not JSON, or not sent as JSON', async () => {
    await rejected(new TextEncoder().encode('{"format": "tannerin-head", '), 422, 'invalid_head');
    // (A small body: the server refuses before reading it.)
    await rejected(new TextEncoder().encode('{}'), 415, 'unsupported_media_type', { contentType: 'text/plain' });
  });

  it(`a body over ${HEAD_LIMITS.maxDocumentBytes} bytes: 413`, async () => {
    expect(HEAD_LIMITS.maxDocumentBytes).toBe(LIMITS.maxBodyBytes);
    const big = new Uint8Array(HEAD_LIMITS.maxDocumentBytes + 1).fill(32);
    await rejected(big, 413, 'payload_too_large');
  });

  it('an id that is not a lowercase UUID (400), or that differs from the URL’s (422)', async () => {
    const before = await storedState(testEnv(env), account.accountId);
    for (const bad of ['content-safety', existing.id.toUpperCase(), 'not-a-uuid', existing.id.replace(/-/g, '')]) {
      const res = await call(`/v1/heads/${bad}`, { method: 'PUT', body: headBytes(existing), headers: { 'content-type': 'application/json', 'if-none-match': '*', ...bearer(account.token) } });
      await expectError(res, 400, 'invalid_request');
    }
    const other = crypto.randomUUID();
    const res = await call(`/v1/heads/${other}`, { method: 'PUT', body: headBytes(existing), headers: { 'content-type': 'application/json', 'if-none-match': '*', ...bearer(account.token) } });
    expect(await expectError(res, 422, 'invalid_head')).toContain(other);
    expect(await storedState(testEnv(env), account.accountId)).toEqual(before);
  });
});
