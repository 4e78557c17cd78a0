/** Bindings and variables the Worker is given (wrangler.toml, `.dev.vars`, or the test config). */
export interface Env {
  /** Static assets: the app and the model files under `models/`. */
  ASSETS: Fetcher;
  /** Accounts, token hashes, pairing codes, rate-limit counters and the head index (migrations/). */
  DB: D1Database;
  /** Head documents, one object per stored version (`heads/<account>/<head>/<write id>`). */
  HEADS: R2Bucket;
  /**
   * Per-address rate limits counted before anything else (`[[ratelimits]]` in wrangler.toml;
   * worker/rate-limit/edge.ts): predictions and embeddings, reads, and every other request.
   */
  INFERENCE_RATE_LIMITER: RateLimit;
  READ_RATE_LIMITER: RateLimit;
  WRITE_RATE_LIMITER: RateLimit;
  /**
   * The D1 rate limits (worker/rate-limit/d1.ts: account creation, pairing, per token): a JSON
   * object, or its text, with any of the rules to override. wrangler.toml sets the deployed
   * values; the tests raise them.
   */
  RATE_LIMITS?: unknown;
  /** Most heads one account may store (default 100), as a number or its text. */
  MAX_HEADS_PER_ACCOUNT?: unknown;
  /** Most bytes of head documents one account may store (default 64 MiB; worker/store/quotas.ts). */
  MAX_ACCOUNT_BYTES?: unknown;
  /** Most heads the operator may publish (default 20). */
  MAX_PUBLISHED_HEADS?: unknown;
  /** Largest published head document, in bytes (default 8 MiB). */
  MAX_PUBLISHED_HEAD_BYTES?: unknown;
  /** Months of no use after which the scheduled sweep removes an account (default 13). */
  IDLE_ACCOUNT_MONTHS?: unknown;
  /** Age before an unreferenced R2 object may be swept, in seconds (default 86400). */
  ORPHAN_GRACE_SECONDS?: unknown;
  /**
   * `"1"` turns on `/_diag/*` (tensor count, WASM heap). Set only by `npm start`, the tests and
   * the bench; a deploy never sets it.
   */
  TANNERIN_DIAGNOSTICS?: string;
  /**
   * The operator's secret for `/v1/operator/*` (worker/http/operator-auth.ts): a Worker secret in
   * production, `.dev.vars` locally. Unset: the operator API is off (404).
   */
  OPERATOR_TOKEN?: string;
}

/** Who is calling: set by the auth middleware for a valid bearer token. */
export interface Caller {
  accountId: string;
  /** The public id of the token used (never the token itself). */
  tokenId: string;
}

export interface AppEnv {
  Bindings: Env;
  Variables: {
    /** Milliseconds since the epoch; injectable so tests control expiry and rate-limit windows. */
    now: () => number;
    /** The authenticated caller, or null for an anonymous request. */
    caller: Caller | null;
  };
}
