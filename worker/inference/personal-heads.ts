/**
 * Running a signed-in user's own head on the server's backbone: the index row decides (only the
 * owner's account is searched), the document comes from R2, and the loaded head is kept in the
 * isolate's LRU cache under its account, id and ETag, so a new version is a new entry and the old
 * one ages out.
 */
import type { Backbone } from '../../shared/model/backbone.ts';
import { TannerinError } from '../../shared/errors.ts';
import { backboneRef, type BackboneManifest } from '../../shared/model/manifest.ts';
import type { Caller, Env } from '../env.ts';
import { LruCache } from '../../shared/predict/cache.ts';
import { estimatedLoadedBytes, loadedBytes, loadRunnableHead, readHeadDocument, type RunnableHead } from './runnable-head.ts';
import { findHead, readHead, type HeadRow } from '../store/heads.ts';

/**
 * Budget of loaded personal heads per isolate. The isolate has 128 MB, of which the backbone's
 * forward pass takes ~70 MB of WASM heap (shared/limits.ts); typical heads are tens of KB, a
 * fine-tuned model ~4 MB of weights (~0.9M floats for MobileNetV2's top block) plus its ~5 MB
 * document, so about one fine-tuned model fits next to many plain heads.
 */
export const HEAD_CACHE_BYTES = 16 * 1024 * 1024;

/**
 * The isolate's cache of loaded personal heads (plain and fine-tuned). Its budget holds under
 * concurrency (worker/inference/head-cache.ts): a request that finds it full of heads in use waits up to 2 s,
 * then gets 503 `model_unavailable` with `Retry-After: 1`.
 */
export const personalHeadCache = new LruCache<RunnableHead>(HEAD_CACHE_BYTES);

/** The caller's head `id` as indexed, or 404 / 409 (another backbone) before anything is loaded. */
export async function findRunnableHead(db: D1Database, caller: Caller, id: string, backbone: BackboneManifest): Promise<HeadRow> {
  const row = await findHead(db, caller.accountId, id);
  // The same answer whether the id is unknown or another account's: existence never leaks.
  if (!row) throw new TannerinError('not_found', `Unknown head "${id}".`);
  const served = backboneRef(backbone);
  if (row.backbone !== served) {
    throw new TannerinError(
      'backbone_mismatch',
      `Head ${id} was made for backbone ${row.backbone}, but this server runs ${served}. Retrain it on ${served} and upload it again.`,
    );
  }
  return row;
}

/** Runs `fn` with the loaded head of `row` (from the cache, or loaded from R2 into it). */
export function withPersonalHead<R>(env: Env, row: HeadRow, backbone: Backbone, fn: (head: RunnableHead) => Promise<R>): Promise<R> {
  const key = `${row.account_id}/${row.id}@${row.etag}`;
  return personalHeadCache.use(
    key,
    async () => {
      const stored = await readHead(env.DB, env.HEADS, row.account_id, row.id);
      if (!stored) throw new TannerinError('not_found', `Unknown head "${row.id}".`);
      // Stored documents were validated on upload against this backbone (checked again above).
      const { doc, documentBytes } = await readHeadDocument(stored.body);
      return { value: await loadRunnableHead(doc, backbone), bytes: loadedBytes(doc, documentBytes) };
    },
    fn,
    { estimatedBytes: estimatedLoadedBytes(row.bytes) },
  );
}
