/**
 * Found by the load bench: `GET /_diag/memory` on an isolate that had not loaded the model yet (a
 * fresh start, or right after `wrangler dev` restarted it) was a 500, because `tf.memory()` tries
 * to initialise a TF.js backend when none is set. Its own file, so that this module instance has
 * loaded nothing before the call.
 */
import { createExecutionContext, env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { DiagnosticsResponse } from '../../shared/api/types.ts';
import worker from '../../worker/index.ts';
import { stats } from '../../worker/inference/model-runtime.ts';
import { testEnv } from './helpers.ts';

describe('diagnostics on a cold isolate', () => {
  it('answers before the model is loaded, then counts the model once it is', async () => {
    const memory = async () => worker.fetch(new Request('https://tannerin.test/_diag/memory'), testEnv(env), createExecutionContext());
    expect(stats.modelLoads).toBe(0);
    const cold = await memory();
    expect(cold.status, await cold.clone().text()).toBe(200);
    expect(((await cold.json()) as DiagnosticsResponse).modelLoads).toBe(0);
    const health = await worker.fetch(new Request('https://tannerin.test/v1/predict', { method: 'POST', body: new Uint8Array(2816 * 4), headers: { 'content-type': 'application/octet-stream' } }), testEnv(env), createExecutionContext());
    expect(health.status).toBe(200);
    const warm = (await (await memory()).json()) as DiagnosticsResponse;
    expect(warm.modelLoads).toBe(1);
    expect(warm.numTensors).toBeGreaterThan(100);
    expect(warm.wasmHeapBytes).toBeGreaterThan(0);
  });
});
