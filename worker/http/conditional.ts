/**
 * Conditional GETs of JSON answers that every caller of a host gets alike (`/v1/models`,
 * `/v1/openapi.json`): a strong ETag over the body's bytes, and a 304 when `If-None-Match` names
 * it (RFC 9110 §13.1.2: weak comparison; parsed strictly by etag.ts, so a malformed header is a
 * 400 rather than a miss). The body is serialized and hashed once ({@link jsonEntity}) and the
 * routes keep the result for as long as what it depends on stays the same: the OpenAPI document
 * is 80 KB, about 0.5 ms of JSON.stringify and SHA-256 that a request need not pay.
 */
import type { Context } from 'hono';
import { sha256Hex } from '../../shared/util/hash.ts';
import type { AppEnv } from '../env.ts';
import { matchesWeak, parseEtagCondition, quoteEtag } from './etag.ts';

/** A JSON body as sent: its text and the hex SHA-256 of that text (its ETag, unquoted). */
export interface JsonEntity {
  text: string;
  hex: string;
}

/** `body` serialized and hashed: keep it and answer many requests with {@link conditionalJson}. */
export async function jsonEntity(body: unknown): Promise<JsonEntity> {
  const text = JSON.stringify(body);
  return { text, hex: await sha256Hex(text) };
}

/**
 * `entity` as JSON with its ETag and `headers`, or a 304 with the same headers when the request's
 * `If-None-Match` matches.
 */
export function conditionalJson(c: Context<AppEnv>, entity: JsonEntity, headers: Record<string, string>): Response {
  const condition = parseEtagCondition(c.req.header('if-none-match') ?? null, 'If-None-Match');
  const etag = quoteEtag(entity.hex);
  if (condition && matchesWeak(condition, entity.hex)) return c.body(null, 304, { ...headers, etag });
  return c.body(entity.text, 200, { ...headers, etag, 'content-type': 'application/json' });
}
