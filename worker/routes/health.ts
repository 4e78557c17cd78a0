/** `GET /healthz`: the Worker is up and its manifest is readable. */
import type { Context } from 'hono';
import type { HealthResponse } from '../../shared/api/types.ts';
import { backboneRef } from '../../shared/model/manifest.ts';
import type { AppEnv } from '../env.ts';
import { getManifest } from '../inference/model-runtime.ts';

/** Handler factory for the health route. */
export function healthRoute() {
  return async (c: Context<AppEnv>) => {
    const manifest = await getManifest(c.env);
    const body: HealthResponse = { ok: true, backbone: backboneRef(manifest.backbone) };
    c.header('cache-control', 'no-store');
    return c.json(body);
  };
}
