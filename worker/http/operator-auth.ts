/**
 * The operator's credential: one secret, `OPERATOR_TOKEN` (`wrangler secret put OPERATOR_TOKEN`;
 * `.dev.vars` locally, which `npm start` fills in). Without it (or with one shorter than 32
 * characters) the operator API is off and answers 404, as if it did not exist. A presented token
 * is compared with the secret in constant time (their SHA-256 digests, so lengths leak nothing).
 */
import type { MiddlewareHandler } from 'hono';
import { MIN_OPERATOR_TOKEN_LENGTH } from '../../shared/api/types.ts';
import { TannerinError } from '../../shared/errors.ts';
import { sha256Hex } from '../../shared/util/hash.ts';
import { unauthorized } from './auth.ts';
import { digestsEqual } from './credentials.ts';
import type { AppEnv } from '../env.ts';


/** Middleware: lets the request through only with `Authorization: Bearer <OPERATOR_TOKEN>`. */
export function operatorOnly(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const secret = c.env.OPERATOR_TOKEN;
    if (typeof secret !== 'string' || secret.length < MIN_OPERATOR_TOKEN_LENGTH) {
      throw new TannerinError(
        'not_found',
        `The operator API is off on this server: set the OPERATOR_TOKEN secret (at least ${MIN_OPERATOR_TOKEN_LENGTH} characters; \`wrangler secret put OPERATOR_TOKEN\`) to turn it on.`,
      );
    }
    const header = c.req.header('authorization');
    if (header === undefined) throw unauthorized('The operator API needs "Authorization: Bearer <operator token>" (TANNERIN_OPERATOR_TOKEN for the CLI).', false);
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const ok = match !== null && digestsEqual(await sha256Hex(match[1] as string), await sha256Hex(secret));
    if (!ok) throw unauthorized('The operator token is not valid.', true);
    await next();
  };
}
