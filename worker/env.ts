/**
 * The `[vars]` of wrangler.toml. The Worker reads them as `unknown` and checks them itself (tests
 * and `wrangler dev --var` give text where the deployed value is a number or an object).
 */
type WranglerVar =
  | 'RATE_LIMITS'
  | 'MAX_HEADS_PER_ACCOUNT'
  | 'MAX_ACCOUNT_BYTES'
  | 'MAX_PUBLISHED_HEADS'
  | 'MAX_PUBLISHED_HEAD_BYTES'
  | 'IDLE_ACCOUNT_MONTHS'
  | 'ORPHAN_GRACE_SECONDS';

/** Names wrangler.toml does not declare: a secret and a switch set only by local runs. */
type NotInWranglerToml = 'TANNERIN_DIAGNOSTICS' | 'OPERATOR_TOKEN';

/**
 * Bindings and variables the Worker is given (wrangler.toml, `.dev.vars`, or the test config).
 * The bindings' types come from `Cloudflare.Env`, which `wrangler types` generates from
 * wrangler.toml into worker/worker-configuration.d.ts (`npm test` checks that file is current).
 */
export interface Env extends Omit<Cloudflare.Env, WranglerVar>, DeclaredEnv {}

/**
 * What {@link Env} declares itself: its names are checked against wrangler.toml's below (the ones
 * `Env` inherits from `Cloudflare.Env` could not be), its types against the generated ones by
 * `Env` extending both.
 */
interface DeclaredEnv {
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

/** Names that one of two types has and the other lacks. */
type KeysNotShared<A, B> = Exclude<keyof A, keyof B> | Exclude<keyof B, keyof A>;
/** Compiles only for `never`; an error names the offending keys. */
type NoKeys<K extends never> = K;
/**
 * `Env` lists exactly what wrangler.toml declares, plus {@link NotInWranglerToml}: a binding or
 * variable added to or dropped from wrangler.toml (then `npm run types:worker`) without a change
 * here fails the typecheck.
 */
type _EnvMatchesWranglerToml = NoKeys<KeysNotShared<Omit<DeclaredEnv, NotInWranglerToml>, Cloudflare.Env>>;

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
