/**
 * Each example's detector crop (issue 17: detectors are opt-in, and only then does the guard try
 * them): while "find the object first" is on (client/lib/detector.ts), every photo on a backbone
 * that makes crops (MobileNetV2) gets the box the detector finds in it, the box cut and embedded
 * like its feature-map crop, so that Train's guard can judge the detector's crops on the same
 * held-out photos (shared/learn/crop-choice.ts `tryCrops`) and a detector-crop head retrains on
 * them when a photo is corrected (client/lib/retrain-crop.ts).
 *
 * - Made in the background, not when the photo counts (issue 17 pt 2): `addExample` queues the
 *   new photo's ({@link queueDetectorCrop}) after it is stored, and turning the detector on (in
 *   this tab or another: the `models-updated` change) fills in every photo still without one
 *   ({@link fillDetectorCrops}), with progress ({@link detectorCropsProgress}, the Models screen's
 *   card); so does the start of a page with it on ({@link resumeDetectorCrops}, a few seconds after
 *   the models are loaded: a fill the last page did not finish); turning it off cancels what is queued. Jobs follow pending-views' rules (photos first,
 *   one job at a time in the origin under its Web Lock, `withExampleTurn`; the record read again
 *   under it, so a photo done by another tab is not done twice; written only if the person's box
 *   did not move meanwhile). Train completes what is still missing ({@link completeDetectorCrops},
 *   with progress). No IndexedDB index: a scan of the records finds the photos without one.
 * - From the stored copy (shorter side 299 px; the full-size photo is never kept): one detector
 *   pass for the box (shared/crop/crop-step.ts's rule, `detectorCropBox`: the whole frame below the
 *   minimum score), the box cut at the backbone's input size and embedded
 *   (client/lib/detector-crop-make.ts). About a detector pass and a backbone pass a photo, once. A
 *   corrected photo's comes from its prediction by a detector-crop head (no second pass).
 * - The person's word wins: a photo whose crop box the person moved (`ExampleCrop.byPerson`) uses
 *   that box for this method too; a photo whose crop they turned off gives its whole frame.
 * - Stored: the box and the detection's score in the record (`detectorCrop`, {@link ExampleDetectorCrop},
 *   no JPEG: the box is cut again from the copy if ever needed), the embedding in `embeddingPacks`
 *   under `<backbone>#detector`, so a delete removes it with the example's other embeddings. It is
 *   made again when the backbone, the detector's version or the person's box changes.
 */
import type { Box } from '../../shared/crop/box.ts';
import type { DetectorCrop } from '../../shared/head/crop.ts';
import type { Example } from '../../shared/learn/examples.ts';
import type { Backbone } from '../../shared/model/backbone.ts';
import { yieldToEventLoop } from '../../shared/util/yield.ts';
import { currentBackboneOrNull, withBackboneLease } from './current-backbone.ts';
import { openTannerinDb, type StoredExampleRecord } from './db.ts';
import { detectorPackRef, makeDetectorCrop, needsDetectorCrop, personBoxOf, sameBox, storeDetectorCrop } from './detector-crop-make.ts';
import { activeDetectorRef, onDetectorChoice } from './detector.ts';
import { cropSettingOf } from './example-crops.ts';
import { readEmbeddings } from './embedding-packs.ts';
import { withExampleTurn } from './pending-views.ts';
import { awaitQueuedJobs } from './queued-jobs.ts';

/** A photo's detector crop as its record stores it (module comment). */
export interface ExampleDetectorCrop {
  /** The crop setting the box was found with (a head kept on these crops records it). */
  setting: DetectorCrop;
  /** `<id>@<version>` of the detector that found it. */
  detector: string;
  /** `<backbone id>@<version>` that embedded the crop (its embedding is packed under `<backbone>#detector`). */
  backbone: string;
  /** The box cut: [0, 1] fractions of the photo. */
  box: Box;
  /** The best detection's score (null: none, or not known: a corrected photo's, from its prediction); below the setting's minimum the box is the whole frame. */
  score: number | null;
  /** Set when the box is the person's (their moved crop box), not the detector's. */
  byPerson?: true;
}

/** How one photo's detector-crop job ended (as pending views'). */
export type DetectorCropOutcome = 'stored' | 'nothing' | 'skipped' | 'cancelled' | 'failed';

interface DetectorJob {
  id: string;
  controller: AbortController;
  settled: Promise<DetectorCropOutcome>;
}

const jobs = new Map<string, DetectorJob>();
let chain: Promise<unknown> = Promise.resolve();
/** Jobs settled and queued since the queue was last empty (the progress the Models screen shows). */
let progress = { done: 0, total: 0 };
let lastError: string | null = null;
const progressListeners = new Set<(done: number, total: number) => void>();
/** The choice as the watcher ({@link watchDetectorChoice}) last heard it. */
let knownOn: boolean | null = null;
let watching = false;

function tellProgress(): void {
  for (const listener of [...progressListeners]) listener(progress.done, progress.total);
}

/**
 * Queues example `id`'s detector crop (once; nothing to do when the detector is off, the loaded
 * backbone makes no crops, or its crop is up to date). Resolves with how the job ended; never
 * rejects. Not awaited by `addExample`: the photo counts at once.
 */
export function queueDetectorCrop(id: string): Promise<DetectorCropOutcome> {
  watchDetectorChoice();
  const existing = jobs.get(id);
  if (existing) return existing.settled;
  const controller = new AbortController();
  const job: DetectorJob = { id, controller, settled: Promise.resolve('nothing') };
  job.settled = chain.then(() =>
    runJob(job).catch((err: unknown): DetectorCropOutcome => {
      if (controller.signal.aborted) return 'cancelled';
      lastError = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      return 'failed';
    }),
  );
  chain = job.settled.finally(() => {
    jobs.delete(id);
    progress = { ...progress, done: progress.done + 1 };
    tellProgress();
    if (jobs.size) return;
    // Idle again: the next job starts a new count.
    progress = { done: 0, total: 0 };
    tellProgress();
  });
  jobs.set(id, job);
  progress = { ...progress, total: progress.total + 1 };
  tellProgress();
  return job.settled;
}

async function runJob(job: DetectorJob): Promise<DetectorCropOutcome> {
  const { signal } = job.controller;
  // Off: no turn of the lock is taken (a photo added while it is off costs nothing: the choice is
  // kept in memory, client/lib/detector.ts).
  if (!(await activeDetectorRef())) return 'skipped';
  return withExampleTurn(signal, job.id, async (_db, record) => {
    const detector = await activeDetectorRef();
    const backbone = currentBackboneOrNull();
    if (!record) return 'nothing';
    if (!detector || !backbone || !cropSettingOf(backbone)) return 'skipped';
    if (!needsDetectorCrop(record, backbone.ref, detector)) return 'nothing';
    await yieldToEventLoop();
    signal.throwIfAborted();
    const made = await withBackboneLease(backbone, () => makeDetectorCrop(backbone, detector, record));
    signal.throwIfAborted();
    // The person moved (or reset) the box meanwhile: the crop of their box is made next time. A
    // crop stored meanwhile (a correction's, from its prediction) is kept.
    const fits = (now: StoredExampleRecord): boolean => sameBox(personBoxOf(now), personBoxOf(record)) && needsDetectorCrop(now, backbone.ref, detector);
    return (await storeDetectorCrop(job.id, made, fits)) ? 'stored' : 'nothing';
  });
}

/** What one read of the example records says about their detector crops on a backbone (Train's one scan: {@link completeDetectorCrops}, then {@link detectorCropExamples}). */
export interface DetectorCropScan {
  /** `<backbone id>@<version>` (one that makes crops). */
  backbone: string;
  /** `<id>@<version>` of the detector, on when read. */
  detector: string;
  /** Each example's detector crop and crop as read (only these fields: the photos are not held). */
  records: ReadonlyMap<string, CropFields>;
  /** The ids whose detector crop was missing or stale then: queued, and read again by {@link detectorCropExamples}. */
  missing: readonly string[];
}

type CropFields = Pick<StoredExampleRecord, 'crop' | 'detectorCrop'>;

/** One read of the example records: which photos' detector crops are missing or stale on `backbone` (null when the detector is off or the backbone makes no crops). */
async function scanDetectorCrops(backbone: Backbone | null): Promise<DetectorCropScan | null> {
  const detector = await activeDetectorRef().catch(() => null);
  if (!detector || !backbone || !cropSettingOf(backbone)) return null;
  const all = await (await openTannerinDb()).getAll('examples');
  const records = new Map<string, CropFields>();
  const missing: string[] = [];
  for (const r of all) {
    records.set(r.id, { ...(r.crop ? { crop: r.crop } : {}), ...(r.detectorCrop ? { detectorCrop: r.detectorCrop } : {}) });
    if (needsDetectorCrop(r, backbone.ref, detector)) missing.push(r.id);
  }
  return { backbone: backbone.ref, detector, records, missing };
}

/** The ids of the examples whose detector crop is missing or stale on the loaded backbone (none when the detector is off or the backbone makes no crops). */
async function missingDetectorCrops(): Promise<readonly string[]> {
  return (await scanDetectorCrops(currentBackboneOrNull()))?.missing ?? [];
}

/**
 * Queues the detector crop of every example still without an up-to-date one (module comment),
 * in the background; resolves with how many were queued (their progress: {@link detectorCropsProgress}).
 */
export async function fillDetectorCrops(): Promise<number> {
  const ids = await missingDetectorCrops();
  for (const id of ids) void queueDetectorCrop(id);
  return ids.length;
}

/** How long after start-up {@link resumeDetectorCrops} waits before it looks at anything (then for an idle moment). */
export const RESUME_DELAY_MS = 3000;

/**
 * At start-up (`loadModels` calls it once the backbone is loaded, as it resumes pending views):
 * while the detector is on, every photo still without an up-to-date detector crop (the page was
 * closed while the fill ran, or the photo was added while the detector was loading or could not
 * load) gets it in the background, as after turning the detector on: the same queue, the same
 * progress (the Models card's words). It first waits `delayMs` and then for an idle moment, before
 * it reads the choice or the records, so that the first prediction and the photos added at once
 * go first (a photo added meanwhile also goes before each job: photos first); the detector is
 * loaded only if a photo needs it, from IndexedDB (offline too). Idempotent with the other fills:
 * a photo is queued once in a page, and done once in the origin (the record read again under the
 * lock). Resolves with how many were queued; never rejects.
 */
export async function resumeDetectorCrops(delayMs = RESUME_DELAY_MS): Promise<number> {
  await afterStartup(delayMs);
  try {
    if (!(await activeDetectorRef())) return 0;
    // On: turned off later, the queue is cancelled; a change that leaves it on fills nothing more.
    watchDetectorChoice();
    knownOn = true;
    return await fillDetectorCrops();
  } catch {
    return 0;
  }
}

/** Resolves `ms` from now, then at the page's next idle moment (`requestIdleCallback`, at most 2 s more; at once where there is none). */
function afterStartup(ms: number): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(() => {
      if (typeof requestIdleCallback === 'function') requestIdleCallback(() => resolve(), { timeout: 2000 });
      else resolve();
    }, ms);
  });
}

/** Cancels every queued detector-crop job (the detector was turned off): nothing more is stored. */
export function cancelDetectorCrops(): void {
  for (const job of jobs.values()) job.controller.abort();
}

/** The detector crops' background in this page: jobs settled of those queued since it was last idle (0 of 0: idle), the last failure. */
export function detectorCropsProgress(): { done: number; total: number; lastError: string | null } {
  watchDetectorChoice();
  return { ...progress, lastError };
}

/** Resolves when every detector-crop job queued now has ended. */
export async function detectorCropsSettled(): Promise<void> {
  await Promise.all([...jobs.values()].map((j) => j.settled));
}

/** Calls `listener` (done, total) whenever {@link detectorCropsProgress} changes; returns the unsubscribe function. */
export function onDetectorCropsProgress(listener: (done: number, total: number) => void): () => void {
  watchDetectorChoice();
  progressListeners.add(listener);
  return () => progressListeners.delete(listener);
}

/**
 * Makes the detector crop of every example that lacks an up-to-date one (module comment; Train
 * calls it), through the background's queue, with progress (done, total); (0, total) first.
 * Nothing when the detector is off or `backbone` is not the loaded one making crops. Resolves with
 * how many were to make and the scan of the records that found them (null: detector off or no
 * crops here), which Train passes to {@link detectorCropExamples} so the records are read once;
 * abort stops the wait (the crops keep coming in the background).
 */
export async function completeDetectorCrops(
  backbone: Backbone,
  options: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
): Promise<{ made: number; scan: DetectorCropScan | null }> {
  const { signal, onProgress } = options;
  signal?.throwIfAborted();
  if (currentBackboneOrNull() !== backbone) return { made: 0, scan: null };
  const scan = await scanDetectorCrops(backbone);
  if (!scan?.missing.length) return { made: 0, scan };
  await awaitQueuedJobs(scan.missing, queueDetectorCrop, { signal, onProgress });
  return { made: scan.missing.length, scan };
}

/**
 * From the first use of this module in the page (a photo added, the Models screen's card, Train):
 * turned on (here or in another tab), the photos without a crop are filled in; turned off, the
 * queue is cancelled.
 */
function watchDetectorChoice(): void {
  if (watching) return;
  watching = true;
  onDetectorChoice(({ on }) => {
    if (on && knownOn !== true) void fillDetectorCrops().catch(() => undefined);
    if (!on) cancelDetectorCrops();
    knownOn = on;
  });
}

/**
 * The detector crops as training examples (one per photo, its id and label) for the photos of
 * `examples` (the whole frames' training set on `backbone`; a photo whose crop the person turned
 * off gives its whole frame), with the setting they were cut with; null unless the detector is on
 * and every photo has an up-to-date detector crop there. `scan`: Train's read of the records
 * ({@link completeDetectorCrops}), so only the photos it found missing are read again (a change
 * to another photo's box while Train runs counts from the next Train); null: the detector was off
 * then. Without it the records are read here.
 */
export async function detectorCropExamples(
  backbone: Backbone,
  examples: readonly Example[],
  scan?: DetectorCropScan | null,
): Promise<{ setting: DetectorCrop; cropExamples: Example[] } | null> {
  if (scan === null || (scan && scan.backbone !== backbone.ref)) return null;
  const detector = await activeDetectorRef().catch(() => null);
  if (!detector || !cropSettingOf(backbone) || (scan && scan.detector !== detector)) return null;
  const db = await openTannerinDb();
  const tx = db.transaction(['examples', 'embeddingPacks']);
  const store = tx.objectStore('examples');
  const [crops, records] = await Promise.all([
    readEmbeddings(tx.objectStore('embeddingPacks'), detectorPackRef(backbone.ref)),
    scan ? Promise.all(scan.missing.map((id) => store.get(id))) : store.getAll(),
  ]);
  const byId = new Map<string, CropFields>(scan?.records);
  for (const r of records) if (r) byId.set(r.id, r);
  const out: Example[] = [];
  let setting: DetectorCrop | undefined;
  for (const e of examples) {
    if (e.augmented) continue;
    const record = byId.get(e.photoId);
    if (!record || needsDetectorCrop(record, backbone.ref, detector)) return null;
    setting ??= record.detectorCrop?.setting;
    // Turned off for this photo: the whole photo is what to look at.
    const embedding = record.crop?.off ? e.embedding : crops.get(e.photoId)?.[0];
    if (!embedding) return null;
    out.push({ photoId: e.photoId, label: e.label, embedding, augmented: false });
  }
  return setting ? { setting, cropExamples: out } : null;
}
