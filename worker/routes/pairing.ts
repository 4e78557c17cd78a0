/**
 * Pairing a new device: `POST /v1/pairing-codes` (signed in) returns a short code;
 * `POST /v1/pairing-codes/redeem` with `{"code": "..."}` on the new device returns that device's
 * own token for the same account.
 */
import type { Context } from 'hono';
import type { PairingCodeResponse } from '../../shared/api/types.ts';
import { TannerinError } from '../../shared/errors.ts';
import { callerOfContext } from '../http/auth.ts';
import type { AppEnv } from '../env.ts';
import { optionalLabel, readJsonObject } from '../http/json-body.ts';
import { createPairingCode, redeemPairingCode } from '../store/pairing.ts';
import { tokenResponse } from './accounts.ts';

/** Handler factory for `POST /v1/pairing-codes`: 201; replaces the account's earlier code. */
export function createPairingCodeRoute() {
  return async (c: Context<AppEnv>) => {
    const now = c.get('now')();
    const { code, expiresAt } = await createPairingCode(c.env.DB, callerOfContext(c).accountId, now);
    const body: PairingCodeResponse = { code, expiresAt: new Date(expiresAt).toISOString(), expiresInSeconds: Math.round((expiresAt - now) / 1000) };
    c.header('cache-control', 'no-store');
    return c.json(body, 201);
  };
}

/** Handler factory for `POST /v1/pairing-codes/redeem`: 201 with a new token. */
export function redeemPairingCodeRoute() {
  return async (c: Context<AppEnv>) => {
    const body = await readJsonObject(c.req.raw);
    if (typeof body.code !== 'string') throw new TannerinError('invalid_request', 'Send {"code": "<the pairing code>"}.');
    const issued = await redeemPairingCode(c.env.DB, body.code, optionalLabel(body), c.get('now')());
    return tokenResponse(c, issued, 201);
  };
}
