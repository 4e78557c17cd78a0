/**
 * Examples' crops (client/lib/example-crops.ts), embedded and stored in the background after
 * `addExample` has stored the photo: the photo counts at once, its crop follows, like its augmented
 * views (client/lib/pending-views.ts, whose rules this follows: photos first, one job at a time in
 * the origin under the same Web Lock, written only if the record is still there and still pending,
 * a failure leaves it pending for a later try).
 *
 * A record with `cropPending` set lacks its crop. The crop comes from:
 * - right after `addExample`: the box that photo's own pass found and the cut of the original photo
 *   at the input size ({@link queuePendingCrop}'s `made`), so nothing is computed twice;
 * - else (a page closed first, or an example of database version 8, which the upgrade to 9 marks
 *   pending): the stored copy (shorter side 299 px), one pass for the box and the cut from the copy.
 *   Train completes every pending crop first ({@link completePendingCrops}).
 * On a backbone that makes no crops (InceptionV3, the pair) a job leaves the example pending. A crop
 * made on another backbone (before a re-embed) is marked pending again by {@link completePendingCrops}.
 * Tensors: `Backbone.run`/`embed` dispose their own; the backbone is leased while it runs.
 */
import type { Box } from '../../shared/crop/box.ts';
import { yieldToEventLoop } from '../../shared/util/yield.ts';
import { notifyChange } from './changes.ts';
import { currentBackboneOrNull, withBackboneLease } from './current-backbone.ts';
import { openTannerinDb, readPhotoBytes, type StoredExampleRecord } from './db.ts';
import { encodeJpeg, pixelsOf, pixelsOfBytes } from './embed.ts';
import { cropPackRef, cropSettingOf, cutCrop, embedWithBox, type ExampleCrop } from './example-crops.ts';
import { putEmbeddings } from './embedding-packs.ts';
import { withExampleTurn } from './pending-views.ts';

/** How one crop job ended: as pending views' ({@link import('./pending-views.ts').ViewsOutcome}). */
export type CropOutcome = 'stored' | 'nothing' | 'skipped' | 'cancelled' | 'failed';

/** The crop the photo's own add made: its box, found on `backbone`, and the cut at the input size. */
export interface MadeCrop {
  backbone: string;
  box: Box;
  cut: Promise<ImageBitmap>;
}

interface CropJob {
  id: string;
  made: MadeCrop | undefined;
  controller: AbortController;
  settled: Promise<CropOutcome>;
}

/** JPEG quality of stored crops (as the photo copies'). */
const CROP_QUALITY = 0.92;

const jobs = new Map<string, CropJob>();
let chain: Promise<unknown> = Promise.resolve();
let cropsEmbedded = 0;
let lastError: string | null = null;

/**
 * Queues the crop of example `id` (once; `made` when the add found it). Resolves with how the job
 * ended; never rejects.
 */
export function queuePendingCrop(id: string, made?: MadeCrop): Promise<CropOutcome> {
  const existing = jobs.get(id);
  if (existing) return existing.settled;
  const controller = new AbortController();
  const job: CropJob = { id, made, controller, settled: Promise.resolve('nothing') };
  job.settled = chain.then(() =>
    runCropJob(job).catch((err: unknown): CropOutcome => {
      if (controller.signal.aborted) return 'cancelled';
      lastError = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      return 'failed';
    }),
  );
  chain = job.settled.finally(() => {
    jobs.delete(id);
    void made?.cut.then((b) => b.close(), () => undefined);
  });
  jobs.set(id, job);
  return job.settled;
}

async function runCropJob(job: CropJob): Promise<CropOutcome> {
  const { signal } = job.controller;
  return withExampleTurn(signal, job.id, async (db, record) => {
    if (!record?.cropPending) return 'nothing';
    const backbone = currentBackboneOrNull();
    const setting = backbone && cropSettingOf(backbone);
    if (!backbone || !setting) return 'skipped';
    const side = backbone.manifest.normalization.width;
    const crop = await withBackboneLease(backbone, async () => {
      let box: Box;
      let bitmap: ImageBitmap;
      if (job.made && job.made.backbone === backbone.ref) {
        box = job.made.box;
        bitmap = await job.made.cut;
      } else {
        const { bytes, type } = await readPhotoBytes(record.photo);
        const copy = await pixelsOfBytes(bytes, type);
        box = (await embedWithBox(backbone, copy, setting)).box;
        bitmap = await cutCrop(copy, box, side);
      }
      await yieldToEventLoop();
      signal.throwIfAborted();
      const [encoded, pixels] = await Promise.all([encodeJpeg(bitmap, side, side, CROP_QUALITY), pixelsOf(bitmap)]);
      const embedding = await backbone.embed(pixels);
      const stored: ExampleCrop = { setting, backbone: backbone.ref, box, photo: await readPhotoBytes(encoded), width: side, height: side };
      return { stored, embedding };
    });
    signal.throwIfAborted();
    const tx = db.transaction(['examples', 'embeddingPacks'], 'readwrite');
    tx.done.catch(() => undefined);
    const examples = tx.objectStore('examples');
    const now = await examples.get(job.id);
    if (!now?.cropPending) {
      await tx.done;
      return 'nothing';
    }
    const { cropPending: _done, ...rest } = now;
    // A crop cut again (another backbone) stays off if the person turned it off.
    const stored: ExampleCrop = now.crop?.off ? { ...crop.stored, off: true } : crop.stored;
    const complete: StoredExampleRecord = { ...rest, crop: stored, updated: new Date().toISOString() };
    await Promise.all([putEmbeddings(tx.objectStore('embeddingPacks'), cropPackRef(backbone.ref), [{ id: job.id, embeddings: [crop.embedding] }]), examples.put(complete), tx.done]);
    cropsEmbedded++;
    notifyChange({ type: 'examples-changed', classId: now.classId });
    return 'stored';
  });
}

/** Cancels the crop jobs of these examples (deleted): nothing of them is stored. */
export function cancelPendingCrops(ids: Iterable<string>): void {
  for (const id of ids) jobs.get(id)?.controller.abort();
}

/**
 * Embeds and stores the crop of every stored example still without one (Train calls it first),
 * with progress (done, total). Resolves with how many were pending and how many still are (on a
 * backbone that makes no crops, all of them); never rejects.
 */
export async function completePendingCrops(onProgress?: (done: number, total: number) => void): Promise<{ photos: number; left: number }> {
  const db = await openTannerinDb();
  const backbone = currentBackboneOrNull();
  if (backbone && cropSettingOf(backbone)) await markStaleCrops(backbone.ref);
  const ids = await db.getAllKeysFromIndex('examples', 'by-crop-pending');
  if (!ids.length || !backbone || !cropSettingOf(backbone)) return { photos: ids.length, left: ids.length };
  let done = 0;
  onProgress?.(0, ids.length);
  await Promise.all(ids.map((id) => queuePendingCrop(id).then(() => onProgress?.(++done, ids.length))));
  return { photos: ids.length, left: (await db.getAllKeysFromIndex('examples', 'by-crop-pending')).length };
}

/**
 * Marks pending the crops made on another backbone than `ref` (a re-embed after a backbone switch
 * or upgrade keeps the record's crop, whose embedding is then under the old backbone's key): they
 * are cut and embedded again here, keeping whether the person turned them off.
 */
async function markStaleCrops(ref: string): Promise<void> {
  const db = await openTannerinDb();
  const tx = db.transaction('examples', 'readwrite');
  const writes: Promise<unknown>[] = [];
  for (let cursor = await tx.store.openCursor(); cursor; cursor = await cursor.continue()) {
    const record = cursor.value;
    if (record.crop && record.crop.backbone !== ref && !record.cropPending) writes.push(cursor.update({ ...record, cropPending: 1 }));
  }
  await Promise.all([...writes, tx.done]);
}

/** Resolves when the crop of example `id` (or of every photo queued now) is stored or its job has ended. */
export async function pendingCropsSettled(id?: string): Promise<void> {
  if (id !== undefined) await jobs.get(id)?.settled;
  else await Promise.all([...jobs.values()].map((j) => j.settled));
}

/** The crops' background in this page (tests, the app's indicator). */
export function pendingCropsState(): { queued: number; cropsEmbedded: number; lastError: string | null } {
  return { queued: jobs.size, cropsEmbedded, lastError };
}
