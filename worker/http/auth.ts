/**
 * Bearer-token authentication. A request either carries no `Authorization` header (anonymous,
 * where the route allows it) or a valid token; a header with an unknown, revoked or malformed
 * token is always a 401, never silently treated as anonymous, so a client learns at once that its
 * token stopped working.
 */
import type { MiddlewareHandler } from 'hono';
import { TannerinError } from '../../shared/errors.ts';
import { tokenHash } from './credentials.ts';
import type { AppEnv, Caller } from '../env.ts';

/** Start of the UTC day `now` falls in, in ms since the epoch. */
export function utcDayStart(now: number): number {
  return now - (((now % 86_400_000) + 86_400_000) % 86_400_000);
}

/** A 401 with the `WWW-Authenticate` challenge RFC 6750 asks for. */
export function unauthorized(message: string, invalidToken: boolean): TannerinError {
  const challenge = invalidToken ? 'Bearer realm="tannerin", error="invalid_token"' : 'Bearer realm="tannerin"';
  return new TannerinError('unauthorized', message, { headers: { 'www-authenticate': challenge } });
}

/** Options of {@link authenticate}. */
export interface AuthenticateOptions {
  /** A request without a token is a 401 (otherwise it is anonymous). */
  required: boolean;
  /**
   * The route accepts tokens of an account being deleted (only `DELETE /v1/accounts/me`, so that
   * a retry resumes the deletion); every other route answers them 401.
   */
  allowDeleting?: boolean;
}

interface TokenLookup {
  id: string;
  account_id: string;
  last_used_at: number | null;
  status: string;
}

/**
 * The caller a bearer token belongs to, or null if the request has no `Authorization` header.
 * `last_used_at` is written at most once per UTC day per token: by one conditional UPDATE that
 * changes nothing when another request of the day came first, so reads do not each cost a write.
 */
async function callerOf(req: Request, db: D1Database, now: number, allowDeleting: boolean): Promise<Caller | null> {
  const header = req.headers.get('authorization');
  if (header === null) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw unauthorized('Authorization must be "Bearer <token>".', true);
  const hash = await tokenHash(match[1] as string);
  const row = hash
    ? await db
        .prepare('SELECT t.id, t.account_id, t.last_used_at, a.status FROM tokens t JOIN accounts a ON a.id = t.account_id WHERE t.hash = ?1')
        .bind(hash)
        .first<TokenLookup>()
    : null;
  if (!row) throw unauthorized('The token is not valid: it was revoked, rotated, or never issued, or its account was deleted.', true);
  if (row.status !== 'active' && !allowDeleting) {
    throw unauthorized('The account is being deleted; its tokens work only to finish that (DELETE /v1/accounts/me).', true);
  }
  const today = utcDayStart(now);
  if (row.last_used_at === null || row.last_used_at < today) {
    await db.prepare('UPDATE tokens SET last_used_at = ?1 WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?3)').bind(now, row.id, today).run();
  }
  return { accountId: row.account_id, tokenId: row.id };
}

/** Middleware factory: sets `caller`; with `required`, a request without a token is a 401. */
export function authenticate(options: AuthenticateOptions): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const caller = await callerOf(c.req.raw, c.env.DB, c.get('now')(), options.allowDeleting ?? false);
    if (options.required && !caller) throw unauthorized('Sign in first: send "Authorization: Bearer <token>".', false);
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
