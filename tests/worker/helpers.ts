/** Small helpers for tests that call the Worker as a client would (through SELF). */
import { SELF } from 'cloudflare:test';
import { expect } from 'vitest';
import type { ErrorBody, ErrorCode } from '../../shared/errors.ts';

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
