/**
 * `GET /v1/openapi.json` against the app it describes, inside workerd: its paths and methods are
 * exactly the app's routes (Hono's `app.routes`), its error codes are the error table's with the
 * same statuses, and real answers (status, headers, JSON bodies; success and error) validate
 * against its schemas (@cfworker/json-schema, which runs in workerd: no code generation).
 */
import { Validator, type Schema } from '@cfworker/json-schema';
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { ModelsResponse, TokenResponse } from '../../shared/api/types.ts';
import { ERROR_STATUS, type ErrorCode } from '../../shared/errors.ts';
import { createApp, routeMethods } from '../../worker/app.ts';
import type { HeaderObject, HttpMethod, OpenApiDocument, OperationObject, ParameterObject, Reference, ResponseObject } from '../../worker/routes/openapi-document.ts';
import { DEFAULT_RATE_LIMITS } from '../../worker/rate-limit/d1-config.ts';
import { countedD1, countedR2, newStorageCounts } from '../../worker/store/storage-counts.ts';
import { makeTestHead } from '../helpers/heads.ts';
import { BASE, bearer, call, float32Body, freshAddress, putHead, servedBackbone, signUp, testEnv } from './helpers.ts';

const reference = inject('reference');
let doc: OpenApiDocument;

beforeAll(async () => {
  const res = await call('/v1/openapi.json');
  expect(res.status).toBe(200);
  doc = (await res.json()) as OpenApiDocument;
});

/** Resolves a `#/components/...` reference of the description. */
function resolve<T>(value: T | Reference): T {
  if (typeof value !== 'object' || value === null || !('$ref' in value)) return value;
  const path = value.$ref.replace(/^#\//, '').split('/');
  let node: unknown = doc;
  for (const key of path) node = (node as Record<string, unknown>)[key];
  if (node === undefined) throw new Error(`unresolved reference ${value.$ref}`);
  return node as T;
}

/** Validation errors of `value` against `schema`, its `#/components/schemas/...` references resolved. */
function schemaErrors(schema: unknown, value: unknown): string[] {
  // A fresh copy each time: the validator annotates the schema objects it indexes.
  const root = structuredClone({ $id: `${BASE}/v1/openapi.json`, allOf: [schema], components: { schemas: doc.components.schemas } });
  const result = new Validator(root as Schema, '2020-12', false).validate(value);
  return result.errors.map((e) => `${e.instanceLocation}: ${e.error}`);
}

/** The operation of `method` on a described path (`{param}` form); fails if it is not described. */
function operation(method: string, template: string): OperationObject {
  const op = doc.paths[template]?.[method.toLowerCase() as HttpMethod];
  if (!op) throw new Error(`${method} ${template} is not in the description`);
  return op;
}

/**
 * Checks `res` against `response`: every required header present, every header described
 * validating against its schema, the media type described, and a JSON body validating against its
 * schema (no body where none is described). Returns the problems found.
 */
async function responseProblems(res: Response, response: ResponseObject): Promise<string[]> {
  const problems: string[] = [];
  for (const [name, ref] of Object.entries(response.headers ?? {})) {
    const spec = resolve<HeaderObject>(ref);
    const value = res.headers.get(name);
    if (value === null) {
      if (spec.required) problems.push(`header ${name} is missing`);
      continue;
    }
    problems.push(...schemaErrors(spec.schema, value).map((e) => `header ${name}: ${e}`));
  }
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (!response.content) {
    if (bytes.byteLength) problems.push(`a body of ${bytes.byteLength} bytes where none is described`);
    return problems;
  }
  const type = (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
  const media = response.content[type];
  if (!media) return [...problems, `content-type "${type}" is not one of ${Object.keys(response.content).join(', ')}`];
  if (type === 'application/json') {
    problems.push(...schemaErrors(media.schema, JSON.parse(new TextDecoder().decode(bytes))).map((e) => `body ${e}`));
  }
  return problems;
}

/** A request as the tests make it, and the described path it is expected to match. */
interface Exchange {
  method: string;
  template: string;
  res: Response;
  /** The JSON body sent, checked against the operation's request body schema when it was accepted. */
  sent?: unknown;
}

/**
 * Asserts that the answer is described: its status among the operation's responses (405 against
 * `MethodNotAllowed`), and {@link responseProblems} finds nothing. Returns the body's text.
 */
async function expectDescribed({ method, template, res, sent }: Exchange): Promise<string> {
  const text = await res.clone().text();
  let response: ResponseObject | undefined;
  if (res.status === 405) response = doc.components.responses.MethodNotAllowed;
  else {
    const op = operation(method, template);
    // A request the server accepted must be one the description allows.
    if (sent !== undefined && res.status < 300) {
      const media = op.requestBody?.content['application/json'];
      expect(media, `${method} ${template} describes no JSON body`).toBeDefined();
      expect(schemaErrors(media?.schema, sent), `${method} ${template} request body`).toEqual([]);
    }
    const described = op.responses[String(res.status)];
    response = described && resolve<ResponseObject>(described);
  }
  expect(response, `${method} ${template}: status ${res.status} is not described (${text.slice(0, 200)})`).toBeDefined();
  expect(await responseProblems(res, response as ResponseObject), `${method} ${template} ${res.status}: ${text.slice(0, 300)}`).toEqual([]);
  return text;
}

/** Calls the Worker and checks the answer against the description. */
async function exchange(method: string, template: string, path: string, init: RequestInit & { json?: unknown } = {}): Promise<{ status: number; text: string; res: Response }> {
  const { json, ...rest } = init;
  const headers = { ...(json === undefined ? {} : { 'content-type': 'application/json' }), ...(rest.headers as Record<string, string> | undefined) };
  const res = await call(path, { ...rest, method, headers, ...(json === undefined ? {} : { body: JSON.stringify(json) }) });
  const text = await expectDescribed({ method, template, res: res.clone(), ...(json === undefined ? {} : { sent: json }) });
  return { status: res.status, text, res };
}

describe('the description matches the app', () => {
  it('is OpenAPI 3.1 and describes exactly the routes of the app (paths and methods)', () => {
    expect(doc.openapi).toBe('3.1.0');
    const routed = [...routeMethods(createApp())].flatMap(([path, methods]) => methods.map((m) => `${m} ${path.replace(/:(\w+)/g, '{$1}')}`));
    const described = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
    expect(described.sort()).toEqual(routed.sort());
    expect(routed).toContain('GET /v1/openapi.json');
  });

  it('every path parameter is declared, and every declared one is in the path', () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      for (const [method, op] of Object.entries(item) as [string, OperationObject][]) {
        const declared = (op.parameters ?? []).map((p) => resolve<ParameterObject>(p)).filter((p) => p.in === 'path');
        expect(declared.map((p) => p.name).sort(), `${method} ${path}`).toEqual(inPath);
        expect(declared.every((p) => p.required)).toBe(true);
      }
    }
  });

  it('its error codes are the error table: the Error schema lists every code, and each answer lists codes of its own status', () => {
    const table = Object.keys(ERROR_STATUS).sort();
    const errorSchema = doc.components.schemas.Error as { properties: { error: { properties: { code: { enum: string[] } } } } };
    expect([...errorSchema.properties.error.properties.code.enum].sort()).toEqual(table);
    const used = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item) as [string, OperationObject][]) {
        for (const [status, described] of Object.entries(op.responses)) {
          const schema = resolve<ResponseObject>(described).content?.['application/json']?.schema as typeof errorSchema | undefined;
          const codes = Number(status) >= 400 ? schema?.properties.error.properties.code.enum : undefined;
          if (Number(status) < 400) continue;
          expect(codes, `${method} ${path} ${status} has no error codes`).toBeDefined();
          for (const code of codes ?? []) {
            expect(ERROR_STATUS[code as ErrorCode], `${method} ${path}: ${code} under ${status}`).toBe(Number(status));
            used.add(code);
          }
        }
      }
    }
    used.add('method_not_allowed'); // components.responses.MethodNotAllowed, for every path
    // No route answers `not_implemented` today (kept in the table for clients that know it).
    expect(table.filter((c) => !used.has(c))).toEqual(['not_implemented']);
  });

  it('the checker finds answers that do not match: a field added, a type changed, a status or header missing', async () => {
    const manifest = (await (await call('/v1/models')).json()) as ModelsResponse;
    const schema = { $ref: '#/components/schemas/ModelsResponse' };
    expect(schemaErrors(schema, manifest)).toEqual([]);
    expect(schemaErrors(schema, { ...manifest, extra: 1 }).length).toBeGreaterThan(0);
    expect(schemaErrors(schema, { ...manifest, backbone: { ...manifest.backbone, version: 7 } }).length).toBeGreaterThan(0);
    const op = operation('GET', '/v1/models');
    const fake = (status: number, headers: Record<string, string>, body: unknown) => new Response(JSON.stringify(body), { status, headers });
    expect(await responseProblems(fake(200, { 'content-type': 'application/json' }, manifest), op.responses['200'] as ResponseObject)).toEqual(['header ETag is missing']);
    expect(op.responses['201']).toBeUndefined();
    const limited = resolve<ResponseObject>(op.responses['429'] as ResponseObject);
    const problems = await responseProblems(fake(429, { 'content-type': 'application/json' }, { error: { code: 'not_found', message: 'Too many reads.' } }), limited);
    expect(problems.some((p) => p.includes('Retry-After'))).toBe(true);
    expect(problems.some((p) => p.startsWith('body'))).toBe(true);
  });
});

describe('real answers validate against the description', () => {
  const img = () => reference.cases[0] as (typeof reference.cases)[number];
  const embedding = () => float32Body(img().embedding);

  it('inference: health, models (ETag, 304, 400), the description itself, predict, embed', async () => {
    await exchange('GET', '/healthz', '/healthz');
    const models = await exchange('GET', '/v1/models', '/v1/models');
    const etag = models.res.headers.get('etag') as string;
    expect((await exchange('GET', '/v1/models', '/v1/models', { headers: { 'if-none-match': `W/"x", ${etag}` } })).status).toBe(304);
    expect((await exchange('GET', '/v1/models', '/v1/models', { headers: { 'if-none-match': `${etag}x` } })).status).toBe(400);
    const self = await exchange('GET', '/v1/openapi.json', '/v1/openapi.json');
    expect((await exchange('GET', '/v1/openapi.json', '/v1/openapi.json', { headers: { 'if-none-match': self.res.headers.get('etag') as string } })).status).toBe(304);

    const predict = (query: string, body: BodyInit, type: string, headers: Record<string, string> = {}) =>
      exchange('POST', '/v1/predict', `/v1/predict${query}`, { body, headers: { 'content-type': type, ...headers } });
    expect((await predict('', new Uint8Array(img().bytes), img().type)).status).toBe(200);
    expect((await predict('?top=2', embedding(), 'application/octet-stream')).status).toBe(200);
    expect((await predict('?top=0', embedding(), 'application/octet-stream')).status).toBe(400);
    expect((await predict('?head=no-such-head', embedding(), 'application/octet-stream')).status).toBe(404);
    expect((await predict(`?head=${crypto.randomUUID()}`, embedding(), 'application/octet-stream')).status).toBe(401);
    expect((await predict('', embedding(), 'application/octet-stream', bearer('tnr_nope'))).status).toBe(401);
    expect((await predict('', embedding(), 'text/plain')).status).toBe(415);
    expect((await predict('', new Uint8Array(8), 'application/octet-stream')).status).toBe(422);
    expect((await predict('', new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]), 'image/png')).status).toBe(422);

    const embedded = await exchange('POST', '/v1/embed', '/v1/embed', { body: new Uint8Array(img().bytes), headers: { 'content-type': img().type } });
    expect(embedded.status).toBe(200);
    expect((await embedded.res.arrayBuffer()).byteLength).toBe(Number(embedded.res.headers.get('x-tannerin-embedding-size')) * 4);
    expect((await exchange('POST', '/v1/embed', '/v1/embed', { body: embedding(), headers: { 'content-type': 'application/octet-stream' } })).status).toBe(415);
  });

  it('accounts, tokens and pairing; 413 for a JSON body nested too deep', async () => {
    const ip = { 'cf-connecting-ip': freshAddress() };
    const created = await exchange('POST', '/v1/accounts', '/v1/accounts', { json: { label: 'openapi test' }, headers: ip });
    expect(created.status).toBe(201);
    const { token } = JSON.parse(created.text) as TokenResponse;
    expect((await exchange('POST', '/v1/accounts', '/v1/accounts', { json: { label: [[[[[['deep']]]]]] }, headers: ip })).status).toBe(413);
    expect((await exchange('GET', '/v1/accounts/me', '/v1/accounts/me', { headers: bearer(token) })).status).toBe(200);
    expect((await exchange('GET', '/v1/accounts/me', '/v1/accounts/me')).status).toBe(401);
    const code = JSON.parse((await exchange('POST', '/v1/pairing-codes', '/v1/pairing-codes', { headers: bearer(token) })).text) as { code: string };
    expect((await exchange('POST', '/v1/pairing-codes/redeem', '/v1/pairing-codes/redeem', { json: { code: 'AAAA-AAAA' }, headers: ip })).status).toBe(400);
    const paired = await exchange('POST', '/v1/pairing-codes/redeem', '/v1/pairing-codes/redeem', { json: { code: code.code, label: 'second' }, headers: ip });
    expect(paired.status).toBe(201);
    const second = JSON.parse(paired.text) as TokenResponse;
    expect((await exchange('GET', '/v1/tokens', '/v1/tokens', { headers: bearer(token) })).status).toBe(200);
    expect((await exchange('DELETE', '/v1/tokens/{id}', `/v1/tokens/${crypto.randomUUID()}`, { headers: bearer(token) })).status).toBe(404);
    expect((await exchange('DELETE', '/v1/tokens/{id}', `/v1/tokens/${second.tokenId}`, { headers: bearer(token) })).status).toBe(204);
    expect((await exchange('DELETE', '/v1/tokens/{id}', '/v1/tokens/current', { headers: bearer(token) })).status).toBe(409);
    const rotated = await exchange('POST', '/v1/accounts/me/token', '/v1/accounts/me/token', { headers: bearer(token) });
    expect(rotated.status).toBe(201);
    const fresh = (JSON.parse(rotated.text) as TokenResponse).token;
    expect((await exchange('DELETE', '/v1/accounts/me', '/v1/accounts/me', { headers: bearer(fresh) })).status).toBe(204);
  });

  it('heads: create, 428, 412 with the ETag, read, 304, list, replace, predict, delete, 404', async () => {
    const { token } = await signUp();
    const auth = bearer(token);
    const id = crypto.randomUUID();
    const head = makeTestHead(await servedBackbone(), { id, seed: 61 });
    const path = `/v1/heads/${id}`;
    const put = (doc: unknown, headers: Record<string, string>) => exchange('PUT', '/v1/heads/{id}', path, { json: doc, headers: { ...auth, ...headers } });
    expect((await put(head, {})).status).toBe(428);
    const created = await put(head, { 'if-none-match': '*' });
    expect(created.status).toBe(201);
    const etag = created.res.headers.get('etag') as string;
    expect((await put(head, { 'if-none-match': '*' })).status).toBe(412);
    expect((await put(head, { 'if-match': `"${'0'.repeat(64)}"` })).status).toBe(412);
    expect((await put({ ...head, id: crypto.randomUUID() }, { 'if-match': etag })).status).toBe(422);
    expect((await exchange('GET', '/v1/heads/{id}', path, { headers: auth })).status).toBe(200);
    expect((await exchange('GET', '/v1/heads/{id}', path, { headers: { ...auth, 'if-none-match': etag } })).status).toBe(304);
    expect((await exchange('GET', '/v1/heads', '/v1/heads', { headers: auth })).status).toBe(200);
    const replaced = await put({ ...head, name: 'renamed' }, { 'if-match': etag });
    expect(replaced.status).toBe(200);
    const predicted = await exchange('POST', '/v1/predict', `/v1/predict?head=${id}`, { body: embedding(), headers: { ...auth, 'content-type': 'application/octet-stream' } });
    expect(predicted.status).toBe(200);
    expect(predicted.res.headers.get('x-tannerin-head-etag')).toBe(replaced.res.headers.get('etag'));
    expect((await exchange('DELETE', '/v1/heads/{id}', path, { headers: { ...auth, 'if-match': etag } })).status).toBe(412);
    expect((await exchange('DELETE', '/v1/heads/{id}', path, { headers: auth })).status).toBe(204);
    expect((await exchange('GET', '/v1/heads/{id}', path, { headers: auth })).status).toBe(404);
    expect((await exchange('GET', '/v1/heads', '/v1/heads', { headers: bearer('tnr_bad') })).status).toBe(401);
  });

  it('operator, published files, diagnostics, and 405 with Allow', async () => {
    const operator = { authorization: `Bearer ${testEnv(env).OPERATOR_TOKEN as string}` };
    expect((await exchange('GET', '/v1/operator/heads', '/v1/operator/heads', { headers: operator })).status).toBe(200);
    expect((await exchange('GET', '/v1/operator/heads', '/v1/operator/heads')).status).toBe(401);
    expect((await exchange('DELETE', '/v1/operator/heads/{name}', '/v1/operator/heads/no-such-head', { headers: operator })).status).toBe(404);
    expect((await exchange('DELETE', '/v1/operator/heads/{name}', '/v1/operator/heads/content-safety', { headers: operator })).status).toBe(409);
    expect((await exchange('PUT', '/v1/operator/heads/{name}', '/v1/operator/heads/Bad_Name', { json: {}, headers: operator })).status).toBe(400);
    const file = `/v1/published-heads/pets/${crypto.randomUUID()}/head.json`;
    expect((await exchange('GET', '/v1/published-heads/{name}/{write}/{file}', file)).status).toBe(404);
    expect((await exchange('GET', '/_diag/memory', '/_diag/memory')).status).toBe(200);
    expect((await exchange('GET', '/_diag/forward', '/_diag/forward?n=1')).status).toBe(200);
    expect((await exchange('GET', '/_diag/storage', '/_diag/storage')).status).toBe(200);
    for (const [method, path, allow] of [
      ['POST', '/v1/models', 'GET'],
      ['GET', '/v1/predict', 'POST'],
      ['POST', `/v1/heads/${crypto.randomUUID()}`, 'GET, PUT, DELETE'],
      ['POST', '/v1/operator/heads/pets', 'PUT, DELETE'],
      ['PUT', '/v1/openapi.json', 'GET'],
    ] as const) {
      const res = await exchange(method, '', path);
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.res.headers.get('allow')).toBe(allow);
    }
  });

  it('quotas (403) and rate limits (429 with Retry-After), from an app with low limits', async () => {
    let now = Date.UTC(2030, 0, 1, 12, 0, 10);
    const app = createApp({ now: () => now });
    const RATE_LIMITS = Object.fromEntries(Object.keys(DEFAULT_RATE_LIMITS).map((k) => [k, { limit: 1, windowSeconds: 3600 }]));
    const bindings = { ...testEnv(env), RATE_LIMITS, MAX_HEADS_PER_ACCOUNT: '0' };
    const fetch = (path: string, init: RequestInit) => app.fetch(new Request(`${BASE}${path}`, init), bindings);
    const ip = { 'cf-connecting-ip': freshAddress() };
    const first = await fetch('/v1/accounts', { method: 'POST', headers: ip });
    await expectDescribed({ method: 'POST', template: '/v1/accounts', res: first.clone() });
    const { token } = (await first.json()) as TokenResponse;
    const limited = await fetch('/v1/accounts', { method: 'POST', headers: ip });
    expect(limited.status).toBe(429);
    await expectDescribed({ method: 'POST', template: '/v1/accounts', res: limited });
    now += 1000;
    const id = crypto.randomUUID();
    const head = makeTestHead(await servedBackbone(), { id, seed: 62 });
    const over = await fetch(`/v1/heads/${id}`, { method: 'PUT', body: JSON.stringify(head), headers: { ...bearer(token), 'content-type': 'application/json', 'if-none-match': '*' } });
    expect(over.status).toBe(403);
    await expectDescribed({ method: 'PUT', template: '/v1/heads/{id}', res: over, sent: head });
    // The head store's quota of the shared suite is untouched: nothing was stored.
    expect((await putHead(token, id, head, { 'if-match': `"${'0'.repeat(64)}"` })).status).toBe(404);
  });
});

describe('GET /v1/models, conditional', () => {
  it('a 304 on a matching If-None-Match; no D1 query and no R2 read once the isolate is warm', async () => {
    const counts = newStorageCounts();
    const base = testEnv(env);
    const app = createApp();
    const bindings = { ...base, DB: countedD1(base.DB, counts), HEADS: countedR2(base.HEADS, counts) };
    const get = (headers: Record<string, string> = {}) => app.fetch(new Request(`${BASE}/v1/models`, { headers }), bindings);
    const first = await get();
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag') as string;
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    const body = await first.text();
    Object.assign(counts, newStorageCounts());
    const again = await get();
    expect(again.headers.get('etag')).toBe(etag);
    expect(await again.text()).toBe(body);
    for (const condition of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const res = await get({ 'if-none-match': condition });
      expect(res.status, condition).toBe(304);
      expect(res.headers.get('etag')).toBe(etag);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(await res.text()).toBe('');
    }
    const changed = await get({ 'if-none-match': '"other"' });
    expect(changed.status).toBe(200);
    await changed.arrayBuffer();
    expect(counts).toEqual({ d1Queries: 0, r2Operations: 0 });
    // The answer is kept per origin: another host gets its own URLs and ETag, and the first one's
    // answer is unchanged after it.
    const elsewhere = await app.fetch(new Request('https://elsewhere.example/v1/models'), bindings);
    const moved = (await elsewhere.json()) as ModelsResponse;
    expect(moved.backbone.files.every((f) => f.url.startsWith('https://elsewhere.example/'))).toBe(true);
    expect(elsewhere.headers.get('etag')).not.toBe(etag);
    expect((await get({ 'if-none-match': elsewhere.headers.get('etag') as string })).status).toBe(200);
    expect((await get({ 'if-none-match': etag })).status).toBe(304);
    // RFC 9110 parsing, not substring matching: a tag with junk around it is refused, never a 304.
    for (const junk of [`${etag}x`, `junk${etag}`, etag.slice(1)]) expect((await get({ 'if-none-match': junk })).status, junk).toBe(400);
  });
});
