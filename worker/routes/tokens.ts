/**
 * The account's tokens, one per signed-in device: `GET /v1/tokens` lists them (never the
 * secrets), `DELETE /v1/tokens/:id` revokes one (`current` = the token the request was made with,
 * i.e. sign this device out). The last token cannot be revoked (409).
 */
import type { Context } from 'hono';
import type { TokenInfo, TokensResponse } from '../../shared/api/types.ts';
import { callerOfContext } from '../http/auth.ts';
import type { AppEnv } from '../env.ts';
import { listTokens, revokeToken } from '../store/accounts.ts';

/** Handler factory for `GET /v1/tokens`. */
export function listTokensRoute() {
  return async (c: Context<AppEnv>) => {
    const caller = callerOfContext(c);
    const rows = await listTokens(c.env.DB, caller.accountId);
    const tokens: TokenInfo[] = rows.map((r) => ({
      id: r.id,
      label: r.label,
      created: new Date(r.created_at).toISOString(),
      lastUsed: r.last_used_at === null ? null : new Date(r.last_used_at).toISOString(),
      current: r.id === caller.tokenId,
    }));
    const body: TokensResponse = { tokens };
    c.header('cache-control', 'no-store');
    return c.json(body);
  };
}

/** Handler factory for `DELETE /v1/tokens/:id`: 204. */
export function revokeTokenRoute() {
  return async (c: Context<AppEnv>) => {
    const caller = callerOfContext(c);
    const id = c.req.param('id') ?? '';
    await revokeToken(c.env.DB, caller.accountId, id === 'current' ? caller.tokenId : id);
    return c.body(null, 204);
  };
}
