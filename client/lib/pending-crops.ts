/**
 * Examples' crops (client/lib/example-crops.ts), embedded and stored in the background after
 * `addExample` has stored the photo: the photo counts at once, its crop follows, like its augmented
 * views (client/lib/pending-views.ts, whose rules this follows: photos first, one job at a time in
 * the origin under the same Web Lock, written only if the record is still there and still pending,
 * a failure leaves it pending for a later try).
 *
 * A record with `cropPending` set lacks its crop (or its crop's embedding). The crop comes from:
 * - right after `addExample`: the box that photo's own pass found and the cut of the original photo
 *   at the input size ({@link queuePendingCrop}'s `made`), so nothing is computed twice;
 * - after the person moved the box ({@link setCropBox}) or put it back: their box (or the found
 *   one), cut from the stored copy (shorter side 299 px: the original photo is never kept, so a
 *   moved crop is a little softer than one cut at the add), no pass for the box;
 * - else (a page closed first, or an example of database version 8, which the upgrade to 9 marks
 *   pending): the stored copy, one pass for the box and the cut from the copy.
 *   Train completes every pending crop first ({@link completePendingCrops}).
 * On a backbone that makes no crops (InceptionV3, the pair) a job leaves the example pending. A crop
 * made on another backbone (before a re-embed) is marked pending again by {@link completePendingCrops}
 * (a box the person set is kept; a found one is found again on this backbone).
 * Tensors: `Backbone.run`/`embed` dispose their own; the backbone is leased while it runs.
 */
import type { Box } from '../../shared/crop/box.ts';
import { yieldToEventLoop } from '../../shared/util/yield.ts';
import { notifyChange } from './changes.ts';
import { currentBackboneOrNull, withBackboneLease } from './current-backbone.ts';
import { openTannerinDb, readPhotoBytes, type StoredExampleRecord } from './db.ts';
import { encodeJpeg, pixelsOf, pixelsOfBytes } from './embed.ts';
import { cropPackRef, cropSettingOf, cropsOff, cutCrop, embedWithBox, type ExampleCrop } from './example-crops.ts';
import { putEmbeddings } from './embedding-packs.ts';
import { queueDetectorCrop } from './detector-crops.ts';
import { withExampleTurn } from './pending-views.ts';
import { awaitQueuedJobs } from './queued-jobs.ts';

/** How one crop job ended: as pending views' ({@link import('./pending-views.ts').ViewsOutcome}). */
export type CropOutcome = 'stored' | 'nothing' | 'skipped' | 'cancelled' | 'failed';

/**
 * The crop the photo's own add made: its box, found on `backbone`, and the cut at the input size;
 * `embedding`, the crop's, when a crop head's prediction of the photo computed it (a correction:
 * client/lib/correct.ts), so it is not computed again.
 */
export interface MadeCrop {
  backbone: string;
  box: Box;
  cut: Promise<ImageBitmap>;
  embedding?: Float32Array;
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
    const person = personBox(record.crop);
    // The box already known: the person's, or one this backbone found (a reset, a switch back).
    const known = person ?? (record.crop?.backbone === backbone.ref ? record.crop.box : undefined);
    const crop = await withBackboneLease(backbone, async () => {
      let box: Box;
      let bitmap: ImageBitmap;
      let given: Float32Array | undefined;
      if (!person && job.made && job.made.backbone === backbone.ref) {
        box = job.made.box;
        bitmap = await job.made.cut;
        given = job.made.embedding;
      } else {
        // Cut from the stored copy: the original photo is not kept.
        const { bytes, type } = await readPhotoBytes(record.photo);
        const copy = await pixelsOfBytes(bytes, type);
        box = known ?? (await embedWithBox(backbone, copy, setting)).box;
        bitmap = await cutCrop(copy, box, side);
      }
      await yieldToEventLoop();
      signal.throwIfAborted();
      const [encoded, embedding] = await Promise.all([encodeJpeg(bitmap, side, side, CROP_QUALITY), given ?? pixelsOf(bitmap).then((pixels) => backbone.embed(pixels))]);
      const stored: ExampleCrop = { setting, backbone: backbone.ref, box, photo: await readPhotoBytes(encoded), width: side, height: side };
      return { stored, embedding };
    });
    signal.throwIfAborted();
    const tx = db.transaction(['examples', 'embeddingPacks'], 'readwrite');
    tx.done.catch(() => undefined);
    const examples = tx.objectStore('examples');
    const now = await examples.get(job.id);
    // Not pending any more, or the person moved (or reset) the box meanwhile: the job queued by
    // that move cuts the crop they chose.
    if (!now?.cropPending || !sameBox(personBox(now.crop), person)) {
      await tx.done;
      return 'nothing';
    }
    const { cropPending: _done, ...rest } = now;
    // A crop cut again (another backbone, a moved box) keeps what the person chose: off, their box.
    const stored: ExampleCrop = {
      ...crop.stored,
      ...(now.crop?.off ? { off: true as const } : {}),
      ...(person ? { byPerson: true as const, ...(now.crop?.found ? { found: now.crop.found } : {}) } : {}),
    };
    const complete: StoredExampleRecord = { ...rest, crop: stored, updated: new Date().toISOString() };
    await Promise.all([putEmbeddings(tx.objectStore('embeddingPacks'), cropPackRef(backbone.ref), [{ id: job.id, embeddings: [crop.embedding] }]), examples.put(complete), tx.done]);
    cropsEmbedded++;
    notifyChange({ type: 'examples-changed', classId: now.classId });
    return 'stored';
  });
}

/** The box the person set on this crop, if they did. */
function personBox(crop: ExampleCrop | undefined): Box | undefined {
  return crop?.byPerson ? crop.box : undefined;
}

const sameBox = (a: Box | undefined, b: Box | undefined): boolean =>
  a === b || (!!a && !!b && a.x === b.x && a.y === b.y && a.width === b.width && a.height === b.height);

/** `box` checked and moved inside the photo (its size kept). */
function insidePhoto(box: Box): Box {
  const { x, y, width, height } = box;
  if (![x, y, width, height].every(Number.isFinite) || !(width > 0 && width <= 1 && height > 0 && height <= 1)) {
    throw new RangeError(`a crop box needs a size in (0, 1] of the photo and a finite place, got ${JSON.stringify(box)}`);
  }
  return { x: Math.min(Math.max(x, 0), 1 - width), y: Math.min(Math.max(y, 0), 1 - height), width, height };
}

/**
 * Moves example `id`'s crop box to `box` (fractions of the photo, as {@link ExampleCrop}'s box;
 * moved inside the photo if it pokes out; keep it square in the photo's pixels, as found boxes are:
 * the crop is scaled to the square input), the person's choice (the Teach screen), or with null
 * puts back the box that was found. The record keeps the box with `byPerson` (and the found box,
 * for the reset), and is marked pending: the crop is cut again from the stored copy and embedded
 * in the background (Train waits for it). The old crop's embedding is removed in the same write,
 * so nothing uses it once the box moved. Whether the crop is off is kept. Resolves false when the
 * photo has no crop yet (still pending, or none on this backbone); rejects with a RangeError for a
 * box without a size.
 */
export async function setCropBox(id: string, box: Box | null): Promise<boolean> {
  const moved = box && insidePhoto(box);
  const db = await openTannerinDb();
  const tx = db.transaction(['examples', 'embeddingPacks'], 'readwrite');
  tx.done.catch(() => undefined);
  const examples = tx.objectStore('examples');
  const record = await examples.get(id);
  if (!record?.crop || (!moved && !record.crop.byPerson)) {
    await tx.done;
    // Nothing to put back: the found box is in use already.
    return !!record?.crop;
  }
  const { byPerson: _by, found: _found, ...kept } = record.crop;
  const found = (record.crop.byPerson ? record.crop.found : undefined) ?? record.crop.box;
  const crop: ExampleCrop = moved ? { ...kept, box: moved, byPerson: true, found } : { ...kept, box: found };
  await Promise.all([
    // Stale-pack rule: the old box's crop embedding goes with the move.
    putEmbeddings(tx.objectStore('embeddingPacks'), cropPackRef(record.crop.backbone), [{ id, embeddings: [] }]),
    examples.put({ ...record, crop, cropPending: 1, updated: new Date().toISOString() }),
    tx.done,
  ]);
  notifyChange({ type: 'examples-changed', classId: record.classId });
  void requeuePendingCrop(id);
  // The person's box wins for the detector's crop too (made in the background while it is on).
  void queueDetectorCrop(id);
  return true;
}

/** Queues example `id`'s crop after the job running for it now, if any (that one read the record before a move). */
function requeuePendingCrop(id: string): Promise<CropOutcome> {
  const running = jobs.get(id);
  // The running job's end removes it from `jobs` before this continues (its `finally` was chained first).
  return running ? running.settled.then(() => queuePendingCrop(id)) : queuePendingCrop(id);
}

/** Cancels the crop jobs of these examples (deleted): nothing of them is stored. */
export function cancelPendingCrops(ids: Iterable<string>): void {
  for (const id of ids) jobs.get(id)?.controller.abort();
}

/** Options of {@link completePendingCrops}. */
export interface CompleteCropsOptions {
  /** Aborting stops the wait (rejects with its reason); the crops keep coming in the background. */
  signal?: AbortSignal;
  /** (photos done, photos pending): (0, total) first, then after each crop. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Embeds and stores the crop of every stored example still without one (Train calls it first),
 * with progress. Resolves with how many were pending, how many still are (on a backbone that makes
 * no crops, all of them), and which photos' crops the person turned off (from the same scan of the
 * records, so Train's cropExamples need not read them again); never rejects but on abort.
 */
export async function completePendingCrops(options: CompleteCropsOptions = {}): Promise<{ photos: number; left: number; off: ReadonlySet<string> }> {
  const { signal, onProgress } = options;
  signal?.throwIfAborted();
  const db = await openTannerinDb();
  const backbone = currentBackboneOrNull();
  const makes = !!backbone && !!cropSettingOf(backbone);
  const { pending: ids, off } = makes ? await scanCrops(backbone.ref) : { pending: await db.getAllKeysFromIndex('examples', 'by-crop-pending'), off: new Set<string>() };
  if (!ids.length || !makes) return { photos: ids.length, left: ids.length, off };
  await awaitQueuedJobs(ids, queuePendingCrop, { signal, onProgress });
  return { photos: ids.length, left: (await db.getAllKeysFromIndex('examples', 'by-crop-pending')).length, off };
}

/**
 * One read of every example record for Train's crops: the ids pending, those whose crop is off, and
 * the crops made on another backbone than `ref` (a re-embed after a backbone switch or upgrade
 * keeps the record's crop, whose embedding is then under the old backbone's key), which are
 * marked pending here, to be cut and embedded again keeping whether the person turned them off
 * and a box they set. A getAll, then a write only for those few (each record read again in the
 * write, so a change meanwhile is not overwritten): at 200 photos the cursor this replaced, plus
 * cropExamples' own read of the records, took ~360 ms in Chromium (see the commit).
 */
async function scanCrops(ref: string): Promise<{ pending: string[]; off: Set<string> }> {
  const db = await openTannerinDb();
  const records = await db.getAll('examples');
  const pending: string[] = [];
  const stale: string[] = [];
  for (const r of records) {
    if (r.cropPending) pending.push(r.id);
    else if (r.crop && r.crop.backbone !== ref) stale.push(r.id);
  }
  if (stale.length) {
    const tx = db.transaction('examples', 'readwrite');
    const marked = await Promise.all(
      stale.map(async (id) => {
        const r = await tx.store.get(id);
        if (!r?.crop || r.crop.backbone === ref || r.cropPending) return r?.cropPending ? id : null;
        await tx.store.put({ ...r, cropPending: 1 });
        return id;
      }),
    );
    await tx.done;
    for (const id of marked) if (id !== null) pending.push(id);
  }
  // In the store's key order, as the index read this replaced gave them.
  pending.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { pending, off: cropsOff(records) };
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
