/** Worker entry point. */
import { createApp } from './app.ts';
import { drainUnreadBody } from './http/drain-body.ts';
import type { Env } from './env.ts';
import { createScheduledHandler } from './lifecycle/scheduled.ts';
import { countedEnv, isolateStorageCounts } from './store/storage-counts.ts';

const app = createApp();
const sweep = createScheduledHandler();

/** With diagnostics on, the bindings that count D1 queries and R2 operations (`/_diag/storage`). */
const counted = new WeakMap<Env, Env>();
function withCounts(env: Env): Env {
  if (env.TANNERIN_DIAGNOSTICS !== '1') return env;
  let wrapped = counted.get(env);
  if (!wrapped) counted.set(env, (wrapped = countedEnv(env, isolateStorageCounts)));
  return wrapped;
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const response = await app.fetch(request, withCounts(env), ctx);
    // An early answer (413 from the declared size, 405, 401, ...) reaches a client still uploading
    // only if the body is read to its end first.
    await drainUnreadBody(request);
    return response;
  },
  /** The daily sweep (`[triggers] crons` in wrangler.toml): idle accounts, deletions, orphaned objects. */
  async scheduled(controller: ScheduledController, env: Env): Promise<void> {
    await sweep(controller, env);
  },
} satisfies ExportedHandler<Env>;
