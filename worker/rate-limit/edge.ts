/**
 * The first rate limit every API request meets, per client address, before authentication, body
 * reads or any D1/R2 access: the Workers rate limiting binding (`[[ratelimits]]` in
 * wrangler.toml). It costs no storage round trip, so the anonymous hot path (`/v1/predict`,
 * `/v1/embed`, the GET routes) stays free of D1, and a request with a well-formed but unknown
 * token, or a wrong operator token, is counted before it costs a hash and a lookup.
 *
 * What the binding gives up: its counts are approximate and kept per Cloudflare location (a
 * client reaching two locations has two counters), and its period is 10 or 60 s, fixed in
 * wrangler.toml. It does not say when a window ends, so `Retry-After` is the whole period. The
 * longer windows (account creation, pairing) and the per-token counts stay in D1
 * (worker/rate-limit/d1.ts), after this check.
 */
import type { MiddlewareHandler } from 'hono';
import { TannerinError } from '../../shared/errors.ts';
import { clientAddress } from '../http/client-address.ts';
import { EDGE_RATE_RULES, edgeBucket } from './edge-config.ts';
import type { AppEnv } from '../env.ts';

/**
 * Middleware factory: counts the request against its bucket's binding, keyed by client address;
 * over the limit, 429 `rate_limited` with `Retry-After` = the period. If the binding itself fails,
 * the request goes on (logged): the limiter protects the service, it must not take it down.
 */
export function edgeRateLimit(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const rule = EDGE_RATE_RULES[edgeBucket(c.req.method, c.req.path)];
    let success = true;
    try {
      ({ success } = await c.env[rule.binding].limit({ key: clientAddress(c.req.raw) }));
    } catch (err) {
      console.error(`tannerin: rate limiter ${rule.binding} failed; request let through:`, err);
    }
    if (!success) {
      throw new TannerinError(
        'rate_limited',
        `Too many ${rule.what} from this address: the limit is about ${rule.limit} per ${rule.periodSeconds} s. Retry in ${rule.periodSeconds} s.`,
        { headers: { 'retry-after': String(rule.periodSeconds) } },
      );
    }
    await next();
  };
}
