/**
 * The augmented views of a photo, embedded in the background after `addExample`
 * (client/lib/examples.ts) has stored the photo with its original view: the photo counts for
 * training at once, and its views (3 by default: mirrored, cropped and jittered) follow without
 * holding up the next photo.
 *
 * A stored example whose views are still to come has `pendingViews` set (how many it lacks; the
 * sparse `by-pending` index finds them without reading any other record, client/lib/db.ts). They
 * are embedded:
 * - right after `addExample`, from the photo's own pixels, held in memory until then (about 0.8 MB
 *   a photo at the 448-px working size), so the views are exactly those a synchronous add made;
 * - after a page closed before they were stored: when models are next loaded ({@link
 *   resumePendingViews}, called by `loadModels`) or when Train starts ({@link
 *   completePendingViews}), from the stored photo copy (the same seeded views of the JPEG copy
 *   instead of the original pixels, as a re-embed does, client/lib/reembed.ts).
 *
 * Rules:
 * - Photos first: a view waits while an `addExample` is in progress in this page, so a burst is
 *   held up by at most the one view embedding already running.
 * - One photo at a time in the whole origin: a job holds the Web Lock {@link VIEWS_LOCK} while it
 *   reads the record, embeds and writes, and reads the record again under it, so a tab that gets
 *   the lock after another tab finished the photo finds nothing to do. In a page a photo is queued
 *   once. No view is embedded twice.
 * - Written in one transaction (the record and the backbone's embedding pack that holds the photo,
 *   client/lib/embedding-packs.ts), only if the record is still there with the views it had, still
 *   pending, on the same backbone: a photo deleted, moved on to another backbone or finished
 *   meanwhile gets nothing. A failed write (storage full) leaves the photo pending for a later try.
 * - The event loop gets a turn before each view (shared/util/yield.ts); cancellation is checked
 *   there. Deleting a photo or its class cancels its job ({@link cancelPendingViews}).
 * - Tensors: `Backbone.embed` disposes its own; nothing here holds one. The backbone is leased
 *   while a view is embedded (client/lib/current-backbone.ts).
 */
import { augmentedViews } from '../../shared/image/augment.ts';
import type { RgbaPixels } from '../../shared/image/preprocess.ts';
import { yieldToEventLoop } from '../../shared/util/yield.ts';
import { notifyChange } from './changes.ts';
import { currentBackboneOrNull, withBackboneLease } from './current-backbone.ts';
import { openTannerinDb, readPhotoBytes, type ExampleView, type StoredExampleRecord, type TannerinDb } from './db.ts';
import { appendEmbeddings } from './embedding-packs.ts';
import { pixelsOfBytes } from './embed.ts';
import { awaitQueuedJobs } from './queued-jobs.ts';

/** The Web Lock a job holds while it embeds and stores one photo's views (one photo at a time per origin). */
export const VIEWS_LOCK = 'tannerin-example-views';

/** How one photo's job ended. */
export type ViewsOutcome =
  /** The views were embedded and stored. */
  | 'stored'
  /** Nothing to do: the photo is gone, or its views were stored meanwhile (by another tab). */
  | 'nothing'
  /** Left pending: embedded by another backbone than the loaded one (re-embed it), or no backbone loaded. */
  | 'skipped'
  /** Cancelled: the photo or its class was deleted. */
  | 'cancelled'
  /** Left pending after an error (storage full, an undecodable copy): tried again later. */
  | 'failed';

interface Job {
  id: string;
  /** The photo's working pixels while the job waits (dropped when it starts); else the stored copy is decoded. */
  pixels: RgbaPixels | undefined;
  controller: AbortController;
  settled: Promise<ViewsOutcome>;
  resolve: (outcome: ViewsOutcome) => void;
}

/** Jobs waiting, in the order the photos were added. */
const queue: Job[] = [];
/** Every job waiting or running, by example id: a photo is queued once. */
const jobs = new Map<string, Job>();
let running: Job | null = null;
let draining = false;
let viewsEmbedded = 0;
let lastError: string | null = null;

let photosInProgress = 0;
let photosDone: (() => void)[] = [];

/**
 * Marks a photo being added in this page (`addExample`): background views wait until every such
 * photo is stored. Returns the function that ends the mark (idempotent).
 */
export function holdViewsForPhoto(): () => void {
  photosInProgress++;
  let ended = false;
  return () => {
    if (ended) return;
    ended = true;
    if (--photosInProgress === 0) {
      const waiting = photosDone;
      photosDone = [];
      for (const resume of waiting) resume();
    }
  };
}

/** Resolves when no photo is being added in this page (background work waits for it: photos first). */
export function noPhotoInProgress(): Promise<void> {
  return photosInProgress === 0 ? Promise.resolve() : new Promise((resolve) => photosDone.push(resolve));
}

/**
 * Queues the embedding of example `id`'s pending views (a photo already queued is not queued
 * again); `pixels` are the photo's working pixels, if still in memory. Resolves with how the job
 * ended; never rejects.
 */
export function queuePendingViews(id: string, pixels?: RgbaPixels): Promise<ViewsOutcome> {
  const existing = jobs.get(id);
  if (existing) {
    if (pixels && existing !== running) existing.pixels ??= pixels;
    return existing.settled;
  }
  let resolve!: (outcome: ViewsOutcome) => void;
  const settled = new Promise<ViewsOutcome>((r) => (resolve = r));
  const job: Job = { id, pixels, controller: new AbortController(), settled, resolve };
  jobs.set(id, job);
  queue.push(job);
  void drain();
  return settled;
}

/** Runs the queued jobs one after another. */
async function drain(): Promise<void> {
  if (draining) return;
  draining = true;
  try {
    for (let job = queue.shift(); job; job = queue.shift()) {
      running = job;
      let outcome: ViewsOutcome;
      try {
        outcome = await runJob(job);
      } catch (err) {
        if (job.controller.signal.aborted) outcome = 'cancelled';
        else {
          outcome = 'failed';
          lastError = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        }
      }
      running = null;
      job.pixels = undefined;
      jobs.delete(job.id);
      job.resolve(outcome);
    }
  } finally {
    draining = false;
  }
}

/** Runs `fn` holding {@link VIEWS_LOCK} (waiting for it); plainly where Web Locks are missing. */
async function withViewsLock<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  const locks = typeof navigator === 'undefined' ? undefined : navigator.locks;
  if (!locks) return fn();
  return (await locks.request(VIEWS_LOCK, { signal }, fn)) as T;
}

/**
 * One background job's turn on example `id` (its views here, its crop in pending-crops.ts): after
 * any photo being added, holding {@link VIEWS_LOCK}, with the record as it is now under the lock
 * (undefined once deleted) (see the module comment's rules).
 */
export async function withExampleTurn<T>(signal: AbortSignal, id: string, fn: (db: TannerinDb, record: StoredExampleRecord | undefined) => Promise<T>): Promise<T> {
  await noPhotoInProgress();
  signal.throwIfAborted();
  return withViewsLock(signal, async () => {
    const db = await openTannerinDb();
    return fn(db, await db.get('examples', id));
  });
}

/** Embeds and stores one photo's pending views (see the module comment). */
async function runJob(job: Job): Promise<ViewsOutcome> {
  const { signal } = job.controller;
  return withExampleTurn(signal, job.id, async (db, record) => {
    if (!record?.pendingViews) return 'nothing';
    const backbone = currentBackboneOrNull();
    // Stale (another backbone): a re-embed computes every view, pending ones included.
    if (!backbone || record.backbone !== backbone.ref) return 'skipped';
    const have = record.views.length - 1;
    let pixels = job.pixels;
    job.pixels = undefined;
    if (!pixels) {
      const { bytes, type } = await readPhotoBytes(record.photo);
      pixels = await pixelsOfBytes(bytes, type);
    }
    await yieldToEventLoop();
    signal.throwIfAborted();
    // View i does not depend on how many are made (shared/image/augment.ts): the missing ones.
    const views = augmentedViews(pixels, { count: have + record.pendingViews, seed: record.augmentSeed }).slice(have);
    const embeddings: Float32Array[] = [];
    for (const view of views) {
      await noPhotoInProgress();
      await yieldToEventLoop();
      signal.throwIfAborted();
      // A backbone swapped meanwhile: the record is stale now. Else it is leased for the view (a
      // switch ending during it disposes the old one only after).
      if (currentBackboneOrNull() !== backbone) return 'skipped';
      embeddings.push(await withBackboneLease(backbone, () => backbone.embed(view)));
      viewsEmbedded++;
    }
    signal.throwIfAborted();
    const tx = db.transaction(['examples', 'embeddingPacks'], 'readwrite');
    // The pack is written before `tx.done` is awaited: a failed write rejects there (the job
    // fails), and the transaction's abort is not left unhandled.
    tx.done.catch(() => undefined);
    const examples = tx.objectStore('examples');
    const packs = tx.objectStore('embeddingPacks');
    const now = await examples.get(job.id);
    // The pack gets the views only if it still holds the record's views (read and rewritten once).
    if (
      !now ||
      now.pendingViews !== record.pendingViews ||
      now.views.length !== record.views.length ||
      now.backbone !== record.backbone ||
      !(await appendEmbeddings(packs, now.backbone, now.id, now.views.length, embeddings))
    ) {
      await tx.done;
      return 'nothing';
    }
    const { pendingViews: _done, ...rest } = now;
    const complete: StoredExampleRecord = {
      ...rest,
      views: [...now.views, ...views.map((v): ExampleView => ({ augmented: true, ops: v.ops }))],
      updated: new Date().toISOString(),
    };
    await Promise.all([examples.put(complete), tx.done]);
    notifyChange({ type: 'examples-changed', classId: now.classId });
    return 'stored';
  });
}

/**
 * Cancels the jobs of these examples (deleted, or their class was): a waiting job is dropped at
 * once, a running one stops before its next view, and nothing of it is stored.
 */
export function cancelPendingViews(ids: Iterable<string>): void {
  for (const id of ids) {
    const job = jobs.get(id);
    if (!job) continue;
    job.controller.abort();
    const at = queue.indexOf(job);
    if (at >= 0) {
      queue.splice(at, 1);
      jobs.delete(id);
      job.pixels = undefined;
      job.resolve('cancelled');
    }
  }
}

/** Ids of the stored examples whose views are pending, in every tab's photos. */
async function pendingIds(): Promise<string[]> {
  const db = await openTannerinDb();
  return db.getAllKeysFromIndex('examples', 'by-pending');
}

/**
 * Queues every stored photo whose views are pending (a page closed before they were stored);
 * `loadModels` calls it once the backbone is loaded. Returns how many photos were pending.
 */
export async function resumePendingViews(): Promise<number> {
  const ids = await pendingIds();
  for (const id of ids) void queuePendingViews(id);
  return ids.length;
}

/** Options for {@link completePendingViews}. */
export interface CompleteViewsOptions {
  /** After each photo: (done, total). Called with (0, total) first when there is anything to do. */
  onProgress?: (done: number, total: number) => void;
  /** Stops waiting (rejects with an `AbortError`); the views keep coming in the background. */
  signal?: AbortSignal;
}

/**
 * Embeds and stores the pending views of every stored photo (Train calls it first), with
 * progress. Resolves with how many photos were pending and how many still are (stale ones,
 * failures); never rejects but on abort.
 */
export async function completePendingViews(options: CompleteViewsOptions = {}): Promise<{ photos: number; left: number }> {
  const { signal, onProgress } = options;
  signal?.throwIfAborted();
  const ids = await pendingIds();
  if (!ids.length) return { photos: 0, left: 0 };
  await awaitQueuedJobs(ids, queuePendingViews, { signal, onProgress });
  return { photos: ids.length, left: (await pendingIds()).length };
}

/**
 * Resolves when the views of example `id` (or, without an id, of every photo queued now) are
 * stored or their job has otherwise ended; at once if none is queued.
 */
export async function pendingViewsSettled(id?: string): Promise<void> {
  if (id !== undefined) {
    await jobs.get(id)?.settled;
    return;
  }
  await Promise.all([...jobs.values()].map((j) => j.settled));
}

/** The background's state in this page (the app's indicator, tests). */
export interface PendingViewsState {
  /** Photos whose views are queued or being embedded in this page. */
  queued: number;
  /** The example whose views are being embedded now, if any. */
  running: string | null;
  /** Views this page has embedded in the background since it loaded. */
  viewsEmbedded: number;
  /** The last job's error, if one failed. */
  lastError: string | null;
}

/** See {@link PendingViewsState}. */
export function pendingViewsState(): PendingViewsState {
  return { queued: jobs.size, running: running?.id ?? null, viewsEmbedded, lastError };
}
