/**
 * Conditional GETs of JSON answers that every caller of a host gets alike (`/v1/models`,
 * `/v1/openapi.json`): a strong ETag over the body's bytes, and a 304 when `If-None-Match` names
 * it (RFC 9110 §13.1.2: weak comparison; parsed strictly by etag.ts, so a malformed header is a
 * 400 rather than a miss). Hashing a few KiB costs microseconds and no storage access.
 */
import type { Context } from 'hono';
import { sha256Hex } from '../../shared/util/hash.ts';
import type { AppEnv } from '../env.ts';
import { matchesWeak, parseEtagCondition, quoteEtag } from './etag.ts';

/**
 * `body` as JSON with its ETag and `headers`, or a 304 with the same headers when the request's
 * `If-None-Match` matches.
 */
export async function conditionalJson(c: Context<AppEnv>, body: unknown, headers: Record<string, string>): Promise<Response> {
  const condition = parseEtagCondition(c.req.header('if-none-match') ?? null, 'If-None-Match');
  const text = JSON.stringify(body);
  const hex = await sha256Hex(text);
  const etag = quoteEtag(hex);
  if (condition && matchesWeak(condition, hex)) return c.body(null, 304, { ...headers, etag });
  return c.body(text, 200, { ...headers, etag, 'content-type': 'application/json' });
}
