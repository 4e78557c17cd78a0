/**
 * The backbone loads once per isolate: concurrent cold requests share one load. Its own file, so
 * that nothing in this module instance has loaded the runtime before.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { Env } from '../../worker/env.ts';
import { getRuntime, stats } from '../../worker/inference/model-runtime.ts';

describe('cold start', () => {
  it('two concurrent cold requests load the backbone once', async () => {
    expect(stats.modelLoads).toBe(0);
    const [a, b] = [getRuntime(env as Env), getRuntime(env as Env)];
    expect(a).toBe(b);
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra).toBe(rb);
    expect(stats.modelLoads).toBe(1);
    await getRuntime(env as Env);
    expect(stats.modelLoads).toBe(1);
  });
});
