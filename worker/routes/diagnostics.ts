/**
 * `GET /_diag/memory`: tensor count and WASM heap, for tests and the bench. Answers only when
 * `TANNERIN_DIAGNOSTICS` is "1", which local development sets and a deploy never does.
 */
import type { Context } from 'hono';
import type { DiagnosticsResponse } from '../../shared/api.ts';
import type { AppEnv } from '../env.ts';
import { errorResponse } from '../http-error.ts';
import { diagnostics } from '../model-runtime.ts';

/** True when diagnostics are switched on for this environment. */
export const diagnosticsEnabled = (env: AppEnv['Bindings']): boolean => env.TANNERIN_DIAGNOSTICS === '1';

/** Handler factory for the diagnostics route. */
export function diagnosticsRoute() {
  return (c: Context<AppEnv>) => {
    if (!diagnosticsEnabled(c.env)) return errorResponse('not_found', `No route for GET ${c.req.path}.`, 404);
    const body: DiagnosticsResponse = diagnostics();
    c.header('cache-control', 'no-store');
    return c.json(body);
  };
}
