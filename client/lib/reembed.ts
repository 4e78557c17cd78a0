/**
 * Re-embedding the stored examples for a backbone: from each example's stored photo copy
 * (client/lib/examples.ts; a 224-px copy from before database version 7 is upscaled by the
 * backbone's preprocessing), with the same augmented views (same seed and count), into that
 * backbone's embedding packs (client/lib/embedding-packs.ts). Other backbones' embeddings stay, so
 * heads on every backbone stay usable.
 *
 * Used when the person switches backbone (the app), when Train finds examples without embeddings on
 * the loaded backbone, and after a backbone upgrade ({@link reembedAll}).
 */
import type { Backbone } from '../../shared/model/backbone.ts';
import { notifyChange } from './changes.ts';
import { currentBackbone, withBackboneLease } from './current-backbone.ts';
import { openTannerinDb, type StoredExampleRecord } from './db.ts';
import { embeddedIds, putEmbeddings } from './embedding-packs.ts';
import { embedViews, photoPixels } from './examples.ts';
import { StorageError, isQuotaError, toStorageError } from './storage.ts';

/** Options for {@link reembedExamples}. */
export interface ReembedOptions {
  /**
   * Called with (0, total) before the first example when there is anything to do, then after each
   * example with (done, total).
   */
  onProgress?: (done: number, total: number) => void;
  /**
   * Stops before the next view (rejects with its reason, an `AbortError` by default); the examples
   * done so far stay stored, so a later call resumes with the rest.
   */
  signal?: AbortSignal;
  /** Re-embed the examples that already have embeddings on this backbone too (default: only those that lack them). */
  all?: boolean;
}

/** What {@link reembedExamples} did. */
export interface ReembedReport {
  /** Examples embedded and stored. */
  reembedded: number;
  /** Examples it set out to embed (some may have been deleted meanwhile). */
  total: number;
  /**
   * Examples whose stored copy could not be decoded or embedded: skipped (they stay without
   * embeddings on this backbone, and training leaves them out) rather than stopping the others.
   */
  failed: number;
}

/**
 * Embeds every stored example that has no embeddings on `backbone` (or every one, with `all`)
 * from its stored photo copy, all of its views (the photo and its augmented views, pending ones
 * included), and stores them in `backbone`'s packs, one example per transaction: an interrupted or
 * cancelled run keeps what it stored, and calling it again resumes with the examples still
 * lacking. `backbone` need not be the loaded one (the app may embed for a backbone it is switching
 * to); it is leased until this settles (client/lib/current-backbone.ts), so a switch or a release
 * meanwhile disposes it only after. Examples deleted meanwhile are skipped, and so
 * are examples whose copy cannot be decoded (counted in `failed`). Throws a `StorageError` when the
 * device is out of space (the examples done so far are kept).
 */
export function reembedExamples(backbone: Backbone, options: ReembedOptions = {}): Promise<ReembedReport> {
  return withBackboneLease(backbone, () => reembedLeased(backbone, options));
}

async function reembedLeased(backbone: Backbone, options: ReembedOptions): Promise<ReembedReport> {
  const { signal, onProgress } = options;
  signal?.throwIfAborted();
  const ref = backbone.ref;
  const db = await openTannerinDb();
  const tx = db.transaction(['examples', 'embeddingPacks']);
  const [ids, embedded] = await Promise.all([tx.objectStore('examples').getAllKeys(), options.all ? undefined : embeddedIds(tx.objectStore('embeddingPacks'))]);
  const have = embedded?.get(ref);
  const todo = have ? ids.filter((id) => !have.has(id)) : ids;
  if (!todo.length) return { reembedded: 0, total: 0, failed: 0 };
  onProgress?.(0, todo.length);
  let done = 0;
  let reembedded = 0;
  let failed = 0;
  const touched = new Set<string>();
  try {
    for (const id of todo) {
      signal?.throwIfAborted();
      const record = await db.get('examples', id);
      try {
        if (record && (await reembedOne(backbone, record, signal))) {
          touched.add(record.classId);
          reembedded++;
        }
      } catch (err) {
        // Cancelling and a full device stop the run; one photo that cannot be decoded does not.
        if (signal?.aborted || err instanceof StorageError || isQuotaError(err)) throw err;
        failed++;
      }
      onProgress?.(++done, todo.length);
    }
  } finally {
    for (const classId of touched) notifyChange({ type: 'examples-changed', classId });
  }
  return { reembedded, total: todo.length, failed };
}

/** Embeds one example's views on `backbone` and stores them; false if it was deleted meanwhile. */
async function reembedOne(backbone: Backbone, record: StoredExampleRecord, signal: AbortSignal | undefined): Promise<boolean> {
  const pixels = await photoPixels(record.photo);
  // Views still pending are made too (view i does not depend on how many are made).
  const count = record.views.length - 1 + (record.pendingViews ?? 0);
  const embedded = await embedViews(pixels, count, record.augmentSeed, signal, backbone);
  signal?.throwIfAborted();
  const db = await openTannerinDb();
  const tx = db.transaction(['examples', 'embeddingPacks'], 'readwrite');
  const now = await tx.objectStore('examples').get(record.id);
  if (!now) {
    await tx.done;
    return false;
  }
  const writes: Promise<unknown>[] = [putEmbeddings(tx.objectStore('embeddingPacks'), backbone.ref, [{ id: record.id, embeddings: embedded.embeddings }])];
  // The record describes its views on the backbone it was added on. When that is this one, or its
  // views there are still pending, it now describes these (complete) views; the background job of
  // the pending ones then finds nothing left to do. (A photo still pending on another backbone
  // keeps the views it has there.)
  if (now.backbone === backbone.ref || now.pendingViews) {
    const { pendingViews: _pending, ...complete } = now;
    writes.push(
      tx.objectStore('examples').put({ ...complete, backbone: backbone.ref, views: embedded.views, width: pixels.width, height: pixels.height, updated: new Date().toISOString() }),
    );
  }
  try {
    await Promise.all([...writes, tx.done]);
  } catch (err) {
    throw toStorageError(err, 'the re-embedded example', 'The examples done so far are kept.');
  }
  return true;
}

/**
 * After a backbone upgrade: embeds every example that lacks embeddings on the loaded backbone (or
 * every one, with `all`), as {@link reembedExamples} does for a given backbone. Returns how many
 * were re-embedded.
 */
export async function reembedAll(options: ReembedOptions = {}): Promise<{ reembedded: number }> {
  const { reembedded } = await reembedExamples(currentBackbone(), options);
  return { reembedded };
}
