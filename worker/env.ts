/** Bindings and variables the Worker is given (wrangler.toml, `.dev.vars`, or the test config). */
export interface Env {
  /** Static assets: the app and the model files under `models/`. */
  ASSETS: Fetcher;
  /**
   * `"1"` turns on `/_diag/*` (tensor count, WASM heap). Set only by `npm start`, the tests and
   * the bench; a deploy never sets it.
   */
  TANNERIN_DIAGNOSTICS?: string;
}

export interface AppEnv {
  Bindings: Env;
}
