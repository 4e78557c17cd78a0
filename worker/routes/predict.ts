/**
 * `POST /v1/predict`: an image or an embedding in, ranked labels out. `?head=` names a default head
 * (lowercase words, e.g. `content-safety`) or one of the caller's own heads by its UUID; the two
 * kinds of name never collide (shared/head/validate.ts). A personal head needs its owner's token:
 * 401 without a token, 404 for a head the token's account does not have. A default head name is
 * first looked up among the heads the operator published (routes/operator.ts), which may shadow a
 * shipped head of the same name, then among the shipped ones. That lookup reads the isolate's
 * copy of the published-head index (worker/inference/published-index.ts), so an anonymous prediction with
 * a shipped head makes no D1 query and no R2 read once the isolate is warm.
 */
import type { Context } from 'hono';
import type { PredictResponse } from '../../shared/api.ts';
import { TannerinError } from '../../shared/errors.ts';
import { isDefaultHeadName, isHeadId } from '../../shared/head/validate.ts';
import { backboneRef } from '../../shared/model/manifest.ts';
import { unauthorized } from '../http/auth.ts';
import type { AppEnv } from '../env.ts';
import { embeddingFromRequest } from '../inference/embedding-input.ts';
import { quoteEtag } from '../http/etag.ts';
import { getManifest, getRuntime } from '../inference/model-runtime.ts';
import { findRunnableHead, personalHeadCache, withPersonalHead } from '../inference/personal-heads.ts';
import { estimatedLoadedBytes, loadedBytes, loadRunnableHead, predictInput, readHeadDocument, runHead } from '../inference/runnable-head.ts';
import type { PublishedIndex } from '../inference/published-index.ts';
import { publishedKey, type PublishedRow } from '../store/published.ts';

export const DEFAULT_HEAD = 'content-safety';

/** Parses `top`: absent means every class; otherwise a whole number from 1. */
function parseTop(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new TannerinError('invalid_request', `Query "top" must be a whole number of at least 1; got "${raw}".`);
  return n;
}

/** Handler factory for the predict route; `published` is the isolate's published-head index. */
export function predictRoute(published: PublishedIndex) {
  return async (c: Context<AppEnv>) => {
    const top = parseTop(c.req.query('top'));
    const headId = c.req.query('head') || DEFAULT_HEAD;
    if (isHeadId(headId)) return predictPersonal(c, headId, top);
    const row = isDefaultHeadName(headId) ? await published.find(c.env.DB, headId) : null;
    if (row) return predictPublished(c, published, row, top);
    const runtime = await getRuntime(c.env);
    const head = await runtime.head(headId); // unknown head: 404 before the body is read
    const embedding = await embeddingFromRequest(c.req.raw, runtime, true);
    const body: PredictResponse = {
      backbone: runtime.backbone.ref,
      head: head.doc.id,
      predictions: await head.predict(embedding, top),
    };
    return c.json(body);
  };
}

/** A prediction with the caller's own head. */
async function predictPersonal(c: Context<AppEnv>, headId: string, top: number | undefined): Promise<Response> {
  const caller = c.get('caller');
  if (!caller) throw unauthorized(`Head ${headId} is a personal head: send its owner's token (Authorization: Bearer <token>).`, false);
  // Unknown head or wrong backbone: answered before the model loads or the body is read.
  const row = await findRunnableHead(c.env.DB, caller, headId, (await getManifest(c.env)).backbone);
  const runtime = await getRuntime(c.env);
  // A fine-tuned model needs the image (an embedding is a 422), known from the index row.
  const input = await predictInput(c.req.raw, runtime, row.fine_tuned === 1, headId);
  const predictions = await withPersonalHead(c.env, row, runtime.backbone, (head) => runHead(head, input, top));
  const body: PredictResponse = { backbone: runtime.backbone.ref, head: headId, predictions };
  c.header('x-tannerin-head-etag', quoteEtag(row.etag));
  c.header('cache-control', 'no-store');
  return c.json(body);
}

/**
 * A prediction with a head the operator published (it shadows a shipped head of the same name).
 * Loaded from R2 into the isolate's head cache under its name and ETag, so a replacement is a new
 * entry and the old one ages out.
 */
async function predictPublished(c: Context<AppEnv>, index: PublishedIndex, row: PublishedRow, top: number | undefined): Promise<Response> {
  const manifest = await getManifest(c.env);
  const served = backboneRef(manifest.backbone);
  if (row.backbone !== served) {
    throw new TannerinError('backbone_mismatch', `Published head ${row.name} was made for backbone ${row.backbone}, but this server runs ${served}; publish it again retrained.`);
  }
  const runtime = await getRuntime(c.env);
  const input = await predictInput(c.req.raw, runtime, false, row.name);
  const predictions = await personalHeadCache.use(
    `published/${row.name}@${row.etag}`,
    async () => {
      const object = await c.env.HEADS.get(publishedKey(row.name, row.write_id, 'head.json'));
      // Replaced or deleted since the row was read (perhaps a stale cached row): as if it were
      // never there, and the index is read afresh for the next request.
      if (!object) {
        index.invalidate();
        throw new TannerinError('not_found', `Head "${row.name}" was just replaced or deleted; try again.`);
      }
      const { doc, documentBytes } = await readHeadDocument(object);
      return { value: await loadRunnableHead(doc, runtime.backbone), bytes: loadedBytes(doc, documentBytes) };
    },
    (head) => runHead(head, input, top),
    { estimatedBytes: estimatedLoadedBytes(row.bytes) },
  );
  const body: PredictResponse = { backbone: runtime.backbone.ref, head: row.name, predictions };
  c.header('x-tannerin-head-etag', quoteEtag(row.etag));
  return c.json(body);
}
