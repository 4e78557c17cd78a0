/** `GET /v1/models`: the manifest, with absolute URLs of the model files; ETag and 304 (worker/http/conditional.ts). */
import type { Context } from 'hono';
import type { ModelsResponse } from '../../shared/api/types.ts';
import type { ManifestFile } from '../../shared/model/manifest.ts';
import type { AppEnv } from '../env.ts';
import { conditionalJson } from '../http/conditional.ts';
import { getManifest } from '../inference/model-runtime.ts';
import { backboneRef } from '../../shared/model/manifest.ts';
import type { PublishedIndex } from '../inference/published-index.ts';
import { publishedManifestEntry } from '../store/published.ts';

/**
 * Handler factory for the models route; `published` is the isolate's published-head index, so the
 * route reads D1 at most once per isolate per TTL (worker/inference/published-index.ts).
 */
export function modelsRoute(published: PublishedIndex) {
  return async (c: Context<AppEnv>) => {
    const manifest = await getManifest(c.env);
    const origin = new URL(c.req.url).origin;
    const served = (f: ManifestFile) => ({ ...f, url: `${origin}/${f.path}` });
    // Heads the operator published (for this backbone) join the shipped ones; one published with
    // replace=1 under a shipped head's name takes its place.
    const ref = backboneRef(manifest.backbone);
    const entries = (await published.list(c.env.DB)).filter((r) => r.backbone === ref).map(publishedManifestEntry);
    const names = new Set(entries.map((h) => h.id));
    const heads = [...manifest.heads.filter((h) => !names.has(h.id)), ...entries];
    const body: ModelsResponse = {
      backbone: { ...manifest.backbone, files: manifest.backbone.files.map(served) },
      heads: heads.map((h) => ({ ...h, url: `${origin}/${h.url}`, document: served(h.document), files: h.files.map(served) })),
    };
    // The manifest changes with every model deploy: revalidate (a 304 on a matching ETag), never
    // cache blindly.
    return conditionalJson(c, body, { 'cache-control': 'no-cache' });
  };
}
