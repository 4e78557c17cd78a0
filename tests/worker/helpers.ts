/** Small helpers for tests that call the Worker as a client would (through SELF). */
import { SELF, type D1Migration } from 'cloudflare:test';
import { expect } from 'vitest';
import type { ModelsResponse, TokenResponse } from '../../shared/api/types.ts';
import type { BackboneManifest } from '../../shared/model/manifest.ts';
import type { ErrorBody, ErrorCode } from '../../shared/errors.ts';
import type { Env } from '../../worker/env.ts';

export const BASE = 'https://tannerin.test';

/** Calls the Worker (static assets first, then the app, as in production). */
export function call(path: string, init?: RequestInit): Promise<Response> {
  return SELF.fetch(`${BASE}${path}`, init);
}

/** POSTs a body with a content type. */
export function post(path: string, body: BodyInit | null, contentType?: string, headers: Record<string, string> = {}): Promise<Response> {
  return call(path, { method: 'POST', body, headers: contentType ? { 'content-type': contentType, ...headers } : headers });
}

/** Asserts the one error shape with the expected status and code; returns the message. */
export async function expectError(res: Response, status: number, code: ErrorCode): Promise<string> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = JSON.parse(text) as ErrorBody;
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message']);
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(10);
  return body.error.message;
}

/** Little-endian float32 bytes. */
export function float32Body(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] as number, true);
  return out;
}

/** Max absolute difference of two equal-length vectors. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

/** The test environment's bindings, typed (the plugin types `env` as the generated `Cloudflare.Env`). */
export function testEnv(env: unknown): Env & { TEST_MIGRATIONS: D1Migration[] } {
  return env as Env & { TEST_MIGRATIONS: D1Migration[] };
}

/**
 * A client address of its own for a test (`CF-Connecting-IP`): a random IPv6 /64 (the unit the
 * limiter counts IPv6 clients by), so per-address counters never meet another test's, whichever
 * files share storage.
 */
export function freshAddress(): string {
  const [a, b, c] = Array.from(crypto.getRandomValues(new Uint16Array(3)), (n) => n.toString(16));
  return `2001:db8:${a}:${b}:${c}::1`;
}

/** Headers that sign a request in with `token`. */
export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** Creates an account through the API; returns its token response. */
export async function signUp(label?: string): Promise<TokenResponse> {
  const res = await call('/v1/accounts', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'cf-connecting-ip': freshAddress() },
    body: label === undefined ? null : JSON.stringify({ label }),
  });
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as TokenResponse;
}

/** PUTs a head document (object or raw bytes) with `headers` (conditional headers go here). */
export function putHead(token: string, id: string, doc: unknown, headers: Record<string, string> = {}): Promise<Response> {
  const body = doc instanceof Uint8Array ? doc : JSON.stringify(doc);
  return call(`/v1/heads/${id}`, { method: 'PUT', body, headers: { 'content-type': 'application/json', ...bearer(token), ...headers } });
}

/** Everything stored for an account: its index rows and its R2 objects (key, size, etag metadata). */
export async function storedState(env: Env, accountId: string): Promise<{ rows: unknown[]; objects: unknown[] }> {
  const { results } = await env.DB.prepare('SELECT * FROM heads WHERE account_id = ?1 ORDER BY id').bind(accountId).all();
  const listed = await env.HEADS.list({ prefix: `heads/${accountId}/`, include: ['customMetadata'] });
  return { rows: results, objects: listed.objects.map((o) => ({ key: o.key, size: o.size, etag: o.customMetadata?.etag })) };
}

/** The backbone the Worker serves, from its manifest. */
export async function servedBackbone(): Promise<BackboneManifest> {
  return ((await (await call('/v1/models')).json()) as ModelsResponse).backbone;
}

/** Hex SHA-256 of bytes, quoted as an ETag. */
export async function etagOf(bytes: Uint8Array | ArrayBuffer): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return `"${Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')}"`;
}
