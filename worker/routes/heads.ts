/**
 * Reading and deleting the caller's heads: `GET /v1/heads`, `GET /v1/heads/:id`,
 * `DELETE /v1/heads/:id`. Only the caller's account is ever searched, so another account's head
 * is a 404 exactly like an id nobody uses. (`PUT` is routes/head-put.ts.)
 */
import type { Context } from 'hono';
import { HEAD_TYPE, type HeadsResponse } from '../../shared/api/types.ts';
import { TannerinError } from '../../shared/errors.ts';
import { isHeadId } from '../../shared/head/validate.ts';
import { callerOfContext } from '../http/auth.ts';
import type { AppEnv } from '../env.ts';
import { matchesStrong, matchesWeak, parseEtagCondition, quoteEtag } from '../http/etag.ts';
import { deleteHead, findHead, headSummary, listHeads, preconditionFailed, readHead } from '../store/heads.ts';

/** The `:id` of a head route; anything but a head id is a head that does not exist. */
export function headIdParam(c: Context<AppEnv>): string {
  const id = c.req.param('id') ?? '';
  if (!isHeadId(id)) throw new TannerinError('not_found', `Unknown head "${id.slice(0, 80)}".`);
  return id;
}

const unknownHead = (id: string) => new TannerinError('not_found', `Unknown head "${id}".`);

/** Handler factory for `GET /v1/heads`: the caller's heads (index metadata, no weights). */
export function listHeadsRoute() {
  return async (c: Context<AppEnv>) => {
    const rows = await listHeads(c.env.DB, callerOfContext(c).accountId);
    const body: HeadsResponse = { heads: rows.map(headSummary) };
    c.header('cache-control', 'private, no-cache');
    return c.json(body);
  };
}

/** Handler factory for `GET /v1/heads/:id`: the stored document, with its ETag; 304 if unchanged. */
export function getHeadRoute() {
  return async (c: Context<AppEnv>) => {
    const id = headIdParam(c);
    const accountId = callerOfContext(c).accountId;
    const ifNoneMatch = parseEtagCondition(c.req.header('if-none-match') ?? null, 'If-None-Match');
    const headers = { 'cache-control': 'private, no-cache' };
    if (ifNoneMatch) {
      const row = await findHead(c.env.DB, accountId, id);
      if (!row) throw unknownHead(id);
      if (matchesWeak(ifNoneMatch, row.etag)) return c.body(null, 304, { ...headers, etag: quoteEtag(row.etag) });
    }
    const stored = await readHead(c.env.DB, c.env.HEADS, accountId, id);
    if (!stored) throw unknownHead(id);
    return c.body(stored.body.body, 200, {
      ...headers,
      'content-type': HEAD_TYPE,
      'content-length': String(stored.body.size),
      etag: quoteEtag(stored.row.etag),
    });
  };
}

/**
 * Handler factory for `DELETE /v1/heads/:id`: 204. `If-Match` is optional but honoured (412 with
 * the current ETag if it does not match), so a device can delete only the version it has seen.
 */
export function deleteHeadRoute() {
  return async (c: Context<AppEnv>) => {
    const id = headIdParam(c);
    const current = await findHead(c.env.DB, callerOfContext(c).accountId, id);
    if (!current) throw unknownHead(id);
    const ifMatch = parseEtagCondition(c.req.header('if-match') ?? null, 'If-Match');
    if (Array.isArray(ifMatch) && !matchesStrong(ifMatch, current.etag)) {
      throw preconditionFailed(current, `If-Match does not match head ${id}.`);
    }
    await deleteHead(c.env.DB, c.env.HEADS, current);
    return c.body(null, 204);
  };
}
