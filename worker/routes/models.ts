/** `GET /v1/models`: the manifest, with absolute URLs of the model files; ETag and 304 (worker/http/conditional.ts). */
import type { Context } from 'hono';
import type { ModelsResponse } from '../../shared/api/types.ts';
import type { Manifest, ManifestFile } from '../../shared/model/manifest.ts';
import type { AppEnv } from '../env.ts';
import { conditionalJson, jsonEntity, type JsonEntity } from '../http/conditional.ts';
import { getManifest } from '../inference/model-runtime.ts';
import { backboneRef, servedBackbones, type BackboneManifest } from '../../shared/model/manifest.ts';
import type { PublishedIndex } from '../inference/published-index.ts';
import { publishedManifestEntry, type PublishedRow } from '../store/published.ts';

/** Origins whose answers are kept at once (a deploy has one or two: workers.dev, a custom domain). */
const MAX_ORIGINS = 8;

/** The answer: the shipped heads and the published ones for this backbone, with URLs under `origin`. */
function modelsBody(manifest: Manifest, rows: PublishedRow[], origin: string): ModelsResponse {
  const served = (f: ManifestFile) => ({ ...f, url: `${origin}/${f.path}` });
  const backbone = (b: BackboneManifest) => ({ ...b, files: b.files.map(served) });
  // Heads the operator published (for this backbone) join the shipped ones; one published with
  // replace=1 under a shipped head's name takes its place.
  const ref = backboneRef(manifest.backbone);
  const entries = rows.filter((r) => r.backbone === ref).map(publishedManifestEntry);
  const names = new Set(entries.map((h) => h.id));
  const heads = [...manifest.heads.filter((h) => !names.has(h.id)), ...entries];
  return {
    backbone: backbone(manifest.backbone),
    backbones: servedBackbones(manifest).map(backbone),
    heads: heads.map((h) => ({ ...h, url: `${origin}/${h.url}`, document: served(h.document), files: h.files.map(served) })),
    // Downloaded by the app on opt-in only (never run here); a manifest older than detectors has none.
    detectors: (manifest.detectors ?? []).map((d) => ({ ...d, files: d.files.map(served) })),
  };
}

/**
 * Handler factory for the models route; `published` is the isolate's published-head index, so the
 * route reads D1 at most once per isolate per TTL (worker/inference/published-index.ts). The
 * answer depends on the manifest, the index's rows and the request's origin only: it is built and
 * hashed once per origin while the manifest and the rows (the same array until the index's TTL
 * ends or a publish drops it) stay the same.
 */
export function modelsRoute(published: PublishedIndex) {
  let memo: { manifest: Manifest; rows: PublishedRow[]; byOrigin: Map<string, JsonEntity> } | null = null;
  return async (c: Context<AppEnv>) => {
    const manifest = await getManifest(c.env);
    const rows = await published.list(c.env.DB);
    if (memo?.manifest !== manifest || memo.rows !== rows) memo = { manifest, rows, byOrigin: new Map() };
    const { byOrigin } = memo;
    const origin = new URL(c.req.url).origin;
    let entity = byOrigin.get(origin);
    if (!entity) {
      entity = await jsonEntity(modelsBody(manifest, rows, origin));
      if (byOrigin.size >= MAX_ORIGINS) byOrigin.clear();
      byOrigin.set(origin, entity);
    }
    // The manifest changes with every model deploy: revalidate (a 304 on a matching ETag), never
    // cache blindly.
    return conditionalJson(c, entity, { 'cache-control': 'no-cache' });
  };
}
