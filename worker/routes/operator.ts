/**
 * The operator API (behind worker/http/operator-auth.ts): publishing default heads that survive
 * redeploys, stored in R2 + D1 (worker/store/published.ts) and listed in `/v1/models` next to
 * the heads shipped with the deploy.
 *
 * - `PUT /v1/operator/heads/<name>[?replace=1]`: a head document (JSON) published as default head
 *   `<name>` (lowercase words). Validated completely first (shared/head/validate.ts); nothing is
 *   written when it fails. A name that is already published, or shipped with the deploy
 *   (dist/public/models.json), is a 409 unless `replace=1`: then the new head replaces the
 *   published one, or shadows the shipped one until it is deleted. 201 created, 200 replaced.
 * - `DELETE /v1/operator/heads/<name>`: 204; the shipped head of that name (if any) is served again.
 * - `GET /v1/operator/heads`: the published heads.
 * - `GET /v1/published-heads/<name>/<write id>/<file>` (public, like model files): a published
 *   version's files, immutable.
 *
 * At most `MAX_PUBLISHED_HEADS` (20) heads are published, each document at most
 * `MAX_PUBLISHED_HEAD_BYTES` (8 MiB); both are refused before anything is stored (worker/store/quotas.ts).
 */
import type { Context } from 'hono';
import { HEAD_TYPE, type PublishedHeadSummary, type PublishedHeadsResponse } from '../../shared/api/types.ts';
import { TannerinError } from '../../shared/errors.ts';
import { needsBackboneLayers } from '../../shared/head/backbone-layers.ts';
import { isFineTuned } from '../../shared/head/document.ts';
import { isDefaultHeadName, parseHeadDocument, validateHeadDocument } from '../../shared/head/validate.ts';
import { HEAD_LIMITS } from '../../shared/limits.ts';
import type { Manifest } from '../../shared/model/manifest.ts';
import type { AppEnv } from '../env.ts';
import { quoteEtag } from '../http/etag.ts';
import { getBackboneModelJson, getManifest } from '../inference/model-runtime.ts';
import type { PublishedIndex } from '../inference/published-index.ts';
import { quotas } from '../store/quotas.ts';
import { mediaType, readBody } from '../http/read-body.ts';
import {
  countPublished,
  findPublished,
  listPublished,
  PUBLISHED_FILES,
  publishedKey,
  publishedQuotaExceeded,
  publishHead,
  unpublishHead,
  type PublishedRow,
} from '../store/published.ts';

/** Longest published name. */
export const MAX_PUBLISHED_NAME = 64;

function nameParam(c: Context<AppEnv>): string {
  const name = c.req.param('name') ?? '';
  if (!isDefaultHeadName(name) || name.length > MAX_PUBLISHED_NAME) {
    throw new TannerinError(
      'invalid_request',
      `A published head's name is lowercase words joined by hyphens (e.g. "emoji-kinds"), at most ${MAX_PUBLISHED_NAME} characters; got "${name.slice(0, 80)}".`,
    );
  }
  return name;
}

const isShipped = (manifest: Manifest, name: string): boolean => manifest.heads.some((h) => h.id === name);

function summary(row: PublishedRow, manifest: Manifest): PublishedHeadSummary {
  return {
    name: row.name,
    displayName: row.display_name,
    sourceId: row.source_id,
    etag: quoteEtag(row.etag),
    version: row.version,
    backbone: row.backbone,
    classes: JSON.parse(row.classes) as string[],
    bytes: row.bytes,
    shadowsShipped: isShipped(manifest, row.name),
    created: new Date(row.created_at).toISOString(),
    updated: new Date(row.updated_at).toISOString(),
  };
}

function parseReplace(raw: string | undefined): boolean {
  if (raw === undefined || raw === '' || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw new TannerinError('invalid_request', `Query "replace" must be 1 or 0; got "${raw.slice(0, 20)}".`);
}

/**
 * Handler factory for `PUT /v1/operator/heads/:name`. The row it replaces is read from D1, never
 * from `published`, the isolate's cached index, which it drops once the write is done.
 */
export function publishRoute(published: PublishedIndex) {
  return async (c: Context<AppEnv>) => {
    const name = nameParam(c);
    const replace = parseReplace(c.req.query('replace'));
    if (mediaType(c.req.raw) !== HEAD_TYPE) throw new TannerinError('unsupported_media_type', `Send the head document as ${HEAD_TYPE}.`);
    const limits = quotas(c.env);
    // At most MAX_PUBLISHED_HEAD_BYTES (8 MiB by default), refused (413) before it is read in full.
    const bytes = await readBody(c.req.raw, Math.min(HEAD_LIMITS.maxDocumentBytes, limits.maxPublishedHeadBytes));
    const manifest = await getManifest(c.env);
    const parsed = parseHeadDocument(bytes);
    if (isFineTuned(parsed)) {
      // Browsers load default heads as plain TF.js files (model.json + weights.bin), which would
      // drop the fine-tuned layers and score the frozen embedding: refuse rather than mislead.
      throw new TannerinError(
        'invalid_head',
        'Invalid head document: it is a fine-tuned model (backboneTail); only plain heads can be published as default heads so far (train with --recipe head). Fine-tuned models run at the edge as personal heads (PUT /v1/heads/<id>).',
      );
    }
    // A crop's layer is checked against the backbone's model.json on upload (422), not at predict time.
    const doc = validateHeadDocument(parsed, manifest.backbone, needsBackboneLayers(parsed) ? { backboneModel: await getBackboneModelJson(c.env, manifest.backbone) } : {}).doc;

    const shipped = isShipped(manifest, name);
    const current = await findPublished(c.env.DB, name);
    if (!replace && (current || shipped)) {
      throw new TannerinError(
        'conflict',
        current
          ? `A head named "${name}" is already published (version ${current.version}, ${JSON.parse(current.classes).length} classes); pass replace=1 (tannerin publish --replace) to replace it.`
          : `"${name}" is a head shipped with this deploy; pass replace=1 (tannerin publish --replace) to serve the published one instead (deleting it brings the shipped one back).`,
      );
    }
    if (!current) {
      // A new name: refused before anything is stored when the limit is reached (and checked again
      // in the insert, so concurrent publishes cannot pass it together).
      const count = await countPublished(c.env.DB);
      if (count >= limits.maxPublishedHeads) throw publishedQuotaExceeded(count, limits.maxPublishedHeads);
    }
    let row: PublishedRow;
    try {
      row = await publishHead(c.env.DB, c.env.HEADS, name, doc, current, limits.maxPublishedHeads, c.get('now')());
    } finally {
      // Written or lost to another write: either way this isolate's copy may be stale now.
      published.invalidate();
    }
    c.header('etag', quoteEtag(row.etag));
    c.header('cache-control', 'no-store');
    if (!current) c.header('location', `/v1/operator/heads/${name}`);
    return c.json(summary(row, manifest), current ? 200 : 201);
  };
}

/** Handler factory for `DELETE /v1/operator/heads/:name`; drops the isolate's cached index (`published`). */
export function unpublishRoute(published: PublishedIndex) {
  return async (c: Context<AppEnv>) => {
    const name = nameParam(c);
    const manifest = await getManifest(c.env);
    const current = await findPublished(c.env.DB, name);
    if (!current) {
      if (isShipped(manifest, name)) throw new TannerinError('conflict', `"${name}" is shipped with the deploy, not published: it cannot be deleted here.`);
      throw new TannerinError('not_found', `No head named "${name}" is published.`);
    }
    try {
      await unpublishHead(c.env.DB, c.env.HEADS, current);
    } finally {
      published.invalidate();
    }
    return c.body(null, 204);
  };
}

/** Handler factory for `GET /v1/operator/heads`. */
export function listPublishedRoute() {
  return async (c: Context<AppEnv>) => {
    const manifest = await getManifest(c.env);
    const body: PublishedHeadsResponse = { heads: (await listPublished(c.env.DB)).map((r) => summary(r, manifest)) };
    c.header('cache-control', 'no-store');
    return c.json(body);
  };
}

/** Handler factory for `GET /v1/published-heads/:name/:write/:file`: a published version's file. */
export function publishedFileRoute() {
  return async (c: Context<AppEnv>) => {
    const { name = '', write = '', file = '' } = c.req.param();
    const known = isDefaultHeadName(name) && /^[0-9a-f-]{36}$/.test(write) && (PUBLISHED_FILES as readonly string[]).includes(file);
    const object = known ? await c.env.HEADS.get(publishedKey(name, write, file)) : null;
    if (!object) throw new TannerinError('not_found', `No published head file ${c.req.path}.`);
    return c.body(object.body, 200, {
      'content-type': file === 'weights.bin' ? 'application/octet-stream' : 'application/json',
      'content-length': String(object.size),
      // A new version gets a new write id: a path's bytes never change.
      'cache-control': 'public, max-age=31536000, immutable',
      etag: object.httpEtag,
    });
  };
}
