/**
 * Accounts: `POST /v1/accounts` (a new account and its first token), `GET /v1/accounts/me`,
 * `DELETE /v1/accounts/me` (the account, its tokens and all its heads), and
 * `POST /v1/accounts/me/token` (rotate the token the request was made with).
 */
import type { Context } from 'hono';
import type { AccountResponse, TokenResponse } from '../../shared/api/types.ts';
import { TannerinError } from '../../shared/errors.ts';
import { callerOfContext } from '../http/auth.ts';
import type { AppEnv } from '../env.ts';
import { optionalLabel, readJsonObject } from '../http/json-body.ts';
import { deleteAccount } from '../lifecycle/account-deletion.ts';
import { accountInfo, createAccount, rotateToken, type IssuedToken } from '../store/accounts.ts';

/** A response carrying a fresh token: never cached anywhere. */
export function tokenResponse(c: Context<AppEnv>, issued: IssuedToken, status: 200 | 201): Response {
  const body: TokenResponse = { accountId: issued.accountId, tokenId: issued.tokenId, token: issued.token };
  c.header('cache-control', 'no-store');
  return c.json(body, status);
}

/** Handler factory for `POST /v1/accounts`. Body (optional): `{"label": "<device name>"}`. */
export function createAccountRoute() {
  return async (c: Context<AppEnv>) => {
    const label = optionalLabel(await readJsonObject(c.req.raw));
    return tokenResponse(c, await createAccount(c.env.DB, label, c.get('now')()), 201);
  };
}

/** Handler factory for `GET /v1/accounts/me`: lets a device check a token it was given. */
export function accountRoute() {
  return async (c: Context<AppEnv>) => {
    const caller = callerOfContext(c);
    const info = await accountInfo(c.env.DB, caller.accountId);
    if (!info) throw new TannerinError('unauthorized', 'The account no longer exists.');
    const body: AccountResponse = { accountId: caller.accountId, tokenId: caller.tokenId, created: new Date(info.created_at).toISOString(), heads: info.heads };
    c.header('cache-control', 'no-store');
    return c.json(body);
  };
}

/**
 * Handler factory for `DELETE /v1/accounts/me`: 204; every token of the account stops working.
 * The account is marked `deleting` first (worker/lifecycle/account-deletion.ts): if the deletion fails
 * half-way, the same request again (the token still works for it) resumes it.
 */
export function deleteAccountRoute() {
  return async (c: Context<AppEnv>) => {
    await deleteAccount(c.env.DB, c.env.HEADS, callerOfContext(c).accountId, c.get('now')());
    return c.body(null, 204);
  };
}

/** Handler factory for `POST /v1/accounts/me/token`: a new token replaces the one used. */
export function rotateTokenRoute() {
  return async (c: Context<AppEnv>) => tokenResponse(c, await rotateToken(c.env.DB, callerOfContext(c), c.get('now')()), 201);
}
