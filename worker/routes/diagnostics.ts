/**
 * `GET /_diag/memory`: tensor count and WASM heap; `GET /_diag/forward?n=N`: the forward pass alone,
 * timed inside the isolate (local workerd's clock advances during CPU work; production's does not),
 * with `&unfolded=1` on the layers model as shipped instead of the folded graph (the bench's
 * comparison; it builds a second copy of the weights, so the bench asks for it last);
 * `GET /_diag/storage`: D1 queries and R2 operations the isolate's requests made so far
 * (worker/store/storage-counts.ts).
 * For tests and the bench. Answer only when `TANNERIN_DIAGNOSTICS` is "1", which local development
 * sets and a deploy never does.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Context } from 'hono';
import type { DiagnosticsResponse, ForwardTimingResponse } from '../../shared/api/types.ts';
import type { AppEnv } from '../env.ts';
import { errorResponse } from '../http/error.ts';
import { diagnostics, getRuntime, headCache } from '../inference/model-runtime.ts';
import { isolateStorageCounts } from '../store/storage-counts.ts';

/** True when diagnostics are switched on for this environment. */
export const diagnosticsEnabled = (env: AppEnv['Bindings']): boolean => env.TANNERIN_DIAGNOSTICS === '1';

/** Handler factory for the diagnostics route. */
export function diagnosticsRoute() {
  return (c: Context<AppEnv>) => {
    if (!diagnosticsEnabled(c.env)) return errorResponse('not_found', `No route for GET ${c.req.path}.`, 404);
    const body: DiagnosticsResponse = { ...diagnostics(), headCache: headCache.stats };
    c.header('cache-control', 'no-store');
    return c.json(body);
  };
}

/** Handler factory for the in-isolate forward-pass timing route. */
export function forwardTimingRoute() {
  return async (c: Context<AppEnv>) => {
    if (!diagnosticsEnabled(c.env)) return errorResponse('not_found', `No route for GET ${c.req.path}.`, 404);
    const n = Math.min(200, Math.max(1, Number(c.req.query('n') ?? 20) || 20));
    const runtime = await getRuntime(c.env);
    const { width, height } = runtime.manifest.backbone.normalization;
    const input = new Float32Array(width * height * 3).map((_, i) => ((i * 2654435761) >>> 24) / 255);
    let forward = () => runtime.backbone.embedPreprocessed(input);
    if (c.req.query('unfolded') === '1') {
      const model = await runtime.backbone.layersModel();
      forward = async () => {
        const out = tf.tidy(() => model.predict(tf.tensor4d(input, [1, height, width, 3])) as tf.Tensor);
        try {
          return (await out.data()) as Float32Array;
        } finally {
          out.dispose();
        }
      };
    }
    const ms: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await forward();
      ms.push(performance.now() - t0);
    }
    const body: ForwardTimingResponse = { ms };
    c.header('cache-control', 'no-store');
    return c.json(body);
  };
}

/** Handler factory for the storage-counts route: `{d1Queries, r2Operations}` since the isolate started. */
export function storageCountsRoute() {
  return (c: Context<AppEnv>) => {
    if (!diagnosticsEnabled(c.env)) return errorResponse('not_found', `No route for GET ${c.req.path}.`, 404);
    c.header('cache-control', 'no-store');
    return c.json({ ...isolateStorageCounts });
  };
}
