/**
 * Bearer-token authentication. A request either carries no `Authorization` header (anonymous,
 * where the route allows it) or a valid token; a header with an unknown, revoked or malformed
 * token is always a 401, never silently treated as anonymous, so a client learns at once that its
 * token stopped working.
 */
import type { MiddlewareHandler } from 'hono';
import { TannerinError } from '../shared/errors.ts';
import { tokenHash } from './credentials.ts';
import type { AppEnv, Caller } from './env.ts';

/** `last_used_at` is refreshed at most this often, so reads do not each cost a D1 write. */
const LAST_USED_RESOLUTION_MS = 3600_000;

/** A 401 with the `WWW-Authenticate` challenge RFC 6750 asks for. */
export function unauthorized(message: string, invalidToken: boolean): TannerinError {
  const challenge = invalidToken ? 'Bearer realm="tannerin", error="invalid_token"' : 'Bearer realm="tannerin"';
  return new TannerinError('unauthorized', message, { headers: { 'www-authenticate': challenge } });
}

/** The caller a bearer token belongs to, or null if the request has no `Authorization` header. */
async function callerOf(req: Request, db: D1Database, now: number): Promise<Caller | null> {
  const header = req.headers.get('authorization');
  if (header === null) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw unauthorized('Authorization must be "Bearer <token>".', true);
  const hash = await tokenHash(match[1] as string);
  const row = hash
    ? await db.prepare('SELECT id, account_id, last_used_at FROM tokens WHERE hash = ?1').bind(hash).first<{ id: string; account_id: string; last_used_at: number | null }>()
    : null;
  if (!row) throw unauthorized('The token is not valid: it was revoked, rotated, or never issued.', true);
  if (row.last_used_at === null || now - row.last_used_at > LAST_USED_RESOLUTION_MS) {
    await db.prepare('UPDATE tokens SET last_used_at = ?1 WHERE id = ?2').bind(now, row.id).run();
  }
  return { accountId: row.account_id, tokenId: row.id };
}

/** Middleware factory: sets `caller`; with `required`, a request without a token is a 401. */
export function authenticate(required: boolean): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const caller = await callerOf(c.req.raw, c.env.DB, c.get('now')());
    if (required && !caller) throw unauthorized('Sign in first: send "Authorization: Bearer <token>".', false);
    c.set('caller', caller);
    await next();
  };
}

/** The signed-in caller of a route behind `authenticate(true)`. */
export function callerOfContext(c: { get(key: 'caller'): Caller | null }): Caller {
  const caller = c.get('caller');
  // Unreachable behind authenticate(true); a programming error if it happens.
  if (!caller) throw new Error('route needs authenticate(true) before it');
  return caller;
}
