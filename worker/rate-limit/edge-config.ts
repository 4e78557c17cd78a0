/**
 * The per-address rules of the rate limiting bindings (worker/rate-limit/edge.ts): which binding
 * counts which requests, and the limits wrangler.toml's `[[ratelimits]]` set, mirrored here for
 * the 429 message (tests/unit/edge-rate-limits.test.ts checks they agree). No Worker types here,
 * so Node tests can import it.
 */

/** The names of the rate limiting bindings. */
export type EdgeLimiterName = 'INFERENCE_RATE_LIMITER' | 'READ_RATE_LIMITER' | 'WRITE_RATE_LIMITER';

/** The kinds of request counted apart, each by its own binding. */
export type EdgeBucket = 'inference' | 'reads' | 'writes';

/** One binding's rule. `limit` and `periodSeconds` mirror wrangler.toml (a unit test checks). */
export interface EdgeRule {
  binding: EdgeLimiterName;
  limit: number;
  periodSeconds: 10 | 60;
  /** For the 429 message. */
  what: string;
}

/** The rules; wrangler.toml's `[[ratelimits]]` entries must say the same. */
export const EDGE_RATE_RULES: Record<EdgeBucket, EdgeRule> = {
  /** `POST /v1/predict` and `POST /v1/embed`: a forward pass each. */
  inference: { binding: 'INFERENCE_RATE_LIMITER', limit: 300, periodSeconds: 60, what: 'predictions and embeddings' },
  /** Every GET (and HEAD) of the API, `/healthz` included. */
  reads: { binding: 'READ_RATE_LIMITER', limit: 600, periodSeconds: 60, what: 'reads' },
  /** Every other API request: account creation, pairing, token and head writes, the operator's writes. */
  writes: { binding: 'WRITE_RATE_LIMITER', limit: 120, periodSeconds: 60, what: 'writes' },
};

/** Which bucket a request is counted in, from its method and path alone. */
export function edgeBucket(method: string, path: string): EdgeBucket {
  if (method === 'POST' && (path === '/v1/predict' || path === '/v1/embed')) return 'inference';
  if (method === 'GET' || method === 'HEAD') return 'reads';
  return 'writes';
}
