/** `GET /v1/models`: the manifest, with absolute URLs of the model files. */
import type { Context } from 'hono';
import type { ModelsResponse } from '../../shared/api.ts';
import type { ManifestFile } from '../../shared/manifest.ts';
import type { AppEnv } from '../env.ts';
import { getManifest } from '../model-runtime.ts';

/** Handler factory for the models route. */
export function modelsRoute() {
  return async (c: Context<AppEnv>) => {
    const manifest = await getManifest(c.env);
    const origin = new URL(c.req.url).origin;
    const served = (f: ManifestFile) => ({ ...f, url: `${origin}/${f.path}` });
    const body: ModelsResponse = {
      backbone: { ...manifest.backbone, files: manifest.backbone.files.map(served) },
      heads: manifest.heads.map((h) => ({ ...h, url: `${origin}/${h.url}`, document: served(h.document), files: h.files.map(served) })),
    };
    // The manifest changes with every model deploy: revalidate, never cache blindly.
    c.header('cache-control', 'no-cache');
    return c.json(body);
  };
}
