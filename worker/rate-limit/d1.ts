/**
 * The rate limits kept in D1: fixed-window counters for the long windows (account creation,
 * pairing-code redemption, per client address) and the per-token counts of signed-in calls. One
 * `INSERT ... ON CONFLICT DO UPDATE ... RETURNING` per counter is atomic, so concurrent requests
 * never lose a count; all counters of a request go in one batch (one round trip), and a request
 * with no counter (an anonymous prediction) makes no query at all.
 *
 * They run after the per-address limit of the rate limiting binding (worker/rate-limit/edge.ts),
 * which every API request meets first: that one is free of storage but approximate and limited to
 * 10 or 60 s windows; these are exact, and hours long where that matters.
 *
 * Configured by the `RATE_LIMITS` variable (wrangler.toml; worker/rate-limit/d1-config.ts).
 */
import type { MiddlewareHandler } from 'hono';
import { TannerinError } from '../../shared/errors.ts';
import { clientAddress } from '../http/client-address.ts';
import type { AppEnv } from '../env.ts';
import { rateLimitConfig, type RateLimitName, type RateRule } from './d1-config.ts';

/** What a limited endpoint is counted as, and which rules count it. */
export type RateBucket = 'accountCreate' | 'pairingRedeem' | 'writes' | 'inference';
const BUCKET_RULES: Record<RateBucket, { ip?: RateLimitName; token?: RateLimitName; what: string }> = {
  accountCreate: { ip: 'accountCreatePerIp', what: 'account creations' },
  pairingRedeem: { ip: 'pairingRedeemPerIp', what: 'pairing-code attempts' },
  // Per address, writes and inference are counted by the binding (worker/rate-limit/edge.ts).
  writes: { token: 'writesPerToken', what: 'writes' },
  inference: { token: 'inferencePerToken', what: 'predictions and embeddings' },
};

/** One counter to bump. */
interface Counter {
  key: string;
  rule: RateRule;
  /** For the 429 message: "from this address", "for this token". */
  scope: string;
}

/**
 * Counts one request against each counter; throws 429 `rate_limited` with `Retry-After` (seconds
 * until the latest of the exceeded windows ends) if any is over its limit.
 */
export async function countRequest(db: D1Database, counters: Counter[], what: string, now: number): Promise<void> {
  if (!counters.length) return;
  const windows = counters.map((c) => {
    const ms = c.rule.windowSeconds * 1000;
    const start = Math.floor(now / ms) * ms;
    return { ...c, start, end: start + ms };
  });
  const upsert = db.prepare(
    `INSERT INTO rate_limits (key, window_start, count, expires_at) VALUES (?1, ?2, 1, ?3)
     ON CONFLICT (key, window_start) DO UPDATE SET count = count + 1
     RETURNING count`,
  );
  const statements = windows.map((w) => upsert.bind(w.key, w.start, w.end));
  // Old windows are never read again; sweep them now and then rather than on every request.
  if (Math.random() < 0.02) statements.push(db.prepare('DELETE FROM rate_limits WHERE expires_at < ?1').bind(now));
  const results = await db.batch<{ count: number }>(statements);
  const over = windows.filter((w, i) => (results[i]?.results[0]?.count ?? 0) > w.rule.limit);
  if (!over.length) return;
  const retryAfter = Math.max(1, ...over.map((w) => Math.ceil((w.end - now) / 1000)));
  const first = over[0] as (typeof over)[number];
  throw new TannerinError(
    'rate_limited',
    `Too many ${what} ${first.scope}: the limit is ${first.rule.limit} per ${first.rule.windowSeconds} s. Retry in ${retryAfter} s.`,
    { headers: { 'retry-after': String(retryAfter) } },
  );
}

/**
 * Middleware factory: counts the request in `bucket`, per client address (the buckets that have
 * an address rule) and, when the caller is signed in, per token. Runs after the auth middleware
 * on signed-in routes.
 */
export function rateLimit(bucket: RateBucket): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const config = rateLimitConfig(c.env);
    const rules = BUCKET_RULES[bucket];
    const counters: Counter[] = [];
    if (rules.ip) counters.push({ key: `${bucket}:ip:${clientAddress(c.req.raw)}`, rule: config[rules.ip], scope: 'from this address' });
    const caller = c.get('caller');
    if (rules.token && caller) counters.push({ key: `${bucket}:token:${caller.tokenId}`, rule: config[rules.token], scope: 'for this token' });
    await countRequest(c.env.DB, counters, rules.what, c.get('now')());
    await next();
  };
}
