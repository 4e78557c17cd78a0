/**
 * The D1 rate-limit rules (worker/rate-limit/d1.ts) and their configuration: the `RATE_LIMITS` variable (wrangler.toml), an
 * object (or its JSON text) with any subset of the rules below; the rest keep their defaults.
 * No Worker types here, so the test and bench configuration can import it in Node.
 */

/** At most `limit` requests per `windowSeconds`. (A type, not an interface: it is also plain JSON config.) */
export type RateRule = {
  limit: number;
  windowSeconds: number;
};

/** The rules and their defaults (used for any rule `RATE_LIMITS` does not set). */
export const DEFAULT_RATE_LIMITS = {
  /** `POST /v1/accounts`. */
  accountCreatePerIp: { limit: 10, windowSeconds: 3600 },
  /** `POST /v1/pairing-codes/redeem`, right or wrong. Each code also allows only a few wrong tries. */
  pairingRedeemPerIp: { limit: 10, windowSeconds: 900 },
  /**
   * Head writes and deletes, pairing-code creation, token rotation and revocation, account
   * deletion, per token (one token from many addresses). Per address, the rate limiting binding
   * counts them (worker/rate-limit/edge.ts).
   */
  writesPerToken: { limit: 60, windowSeconds: 60 },
  /** `POST /v1/predict` and `POST /v1/embed` by a signed-in caller, per token. */
  inferencePerToken: { limit: 120, windowSeconds: 60 },
} as const satisfies Record<string, RateRule>;

export type RateLimitName = keyof typeof DEFAULT_RATE_LIMITS;
export type RateLimitConfig = Record<RateLimitName, RateRule>;

/**
 * Every rule at the same limit: what the tests, the bench and the browser tests run with (their
 * local state persists between runs, and their traffic all comes from one address).
 */
export function uniformRateLimits(limit: number, windowSeconds = 60): RateLimitConfig {
  return Object.fromEntries(Object.keys(DEFAULT_RATE_LIMITS).map((name) => [name, { limit, windowSeconds }])) as RateLimitConfig;
}

/** The configured rules: `RATE_LIMITS` (object or JSON text) over the defaults. Throws if malformed. */
export function rateLimitConfig(env: { RATE_LIMITS?: unknown }): RateLimitConfig {
  let raw = env.RATE_LIMITS;
  if (typeof raw === 'string') raw = JSON.parse(raw) as unknown;
  const config: RateLimitConfig = { ...DEFAULT_RATE_LIMITS };
  if (raw === undefined || raw === null) return config;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new Error('RATE_LIMITS must be an object of rules');
  for (const [name, rule] of Object.entries(raw)) {
    if (!(name in DEFAULT_RATE_LIMITS)) throw new Error(`RATE_LIMITS: unknown rule "${name}" (rules: ${Object.keys(DEFAULT_RATE_LIMITS).join(', ')})`);
    const { limit, windowSeconds } = (rule ?? {}) as Partial<RateRule>;
    if (!Number.isInteger(limit) || (limit as number) < 0 || !Number.isInteger(windowSeconds) || (windowSeconds as number) < 1) {
      throw new Error(`RATE_LIMITS.${name} must be {limit: whole number >= 0, windowSeconds: whole number >= 1}`);
    }
    config[name as RateLimitName] = { limit: limit as number, windowSeconds: windowSeconds as number };
  }
  return config;
}
