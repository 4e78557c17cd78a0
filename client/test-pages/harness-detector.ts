/**
 * The test page's helpers for the opt-in detector (client/lib/detector.ts; harness.ts spreads them
 * into `window.tannerin`): turning it on with progress or a cancel, its box for an image, and its
 * time next to a backbone pass.
 */
import * as lib from '../lib/internal.ts';
import { detectorPackRef } from '../lib/detector-crop-make.ts';
import { completeDetectorCrops, detectorCropExamples, detectorCropsProgress, detectorCropsSettled, fillDetectorCrops, onDetectorCropsProgress } from '../lib/detector-crops.ts';
import * as tf from '@tensorflow/tfjs-core';
import { blobOf, errorData, median, type ImageArg } from './harness-data.ts';

/** The detector helpers of `window.tannerin`. */
export const detectorHelpers = {
  /** Turns the detector on; with `cancelAt` (a fraction of its bytes), cancels the download there. Returns the outcome as data. */
  async detectorOn(cancelAt?: number) {
    const progress: [number, number][] = [];
    const controller = new AbortController();
    try {
      const status = await lib.turnDetectorOn({
        signal: controller.signal,
        onProgress: (done, total) => {
          progress.push([done, total]);
          if (cancelAt !== undefined && done >= cancelAt * total && done < total) controller.abort();
        },
      });
      return { ok: true as const, status, progress: { calls: progress.length, last: progress.at(-1) ?? null } };
    } catch (err) {
      return { ok: false as const, error: errorData(err), status: await lib.detectorStatus(), progress: { calls: progress.length, last: progress.at(-1) ?? null } };
    }
  },
  /** The detector's best detection in an image (decoded in the page). */
  async detectImage(img: ImageArg) {
    return lib.detectBox(await lib.pixelsOf(blobOf(img)));
  },
  /**
   * Median ms of the detector's pass and of a backbone pass (embed) on the same decoded image,
   * alternated `runs` times after one warm-up each, so that noise hits both alike.
   */
  async detectorVsBackboneMs(img: ImageArg, runs = 7) {
    const pixels = await lib.pixelsOf(blobOf(img));
    await lib.detectBox(pixels);
    await lib.currentBackbone().embed(pixels);
    const detector: number[] = [];
    const backbone: number[] = [];
    for (let i = 0; i < runs; i++) {
      let t0 = performance.now();
      await lib.detectBox(pixels);
      detector.push(performance.now() - t0);
      t0 = performance.now();
      await lib.currentBackbone().embed(pixels);
      backbone.push(performance.now() - t0);
    }
    return { detector: median(detector), backbone: median(backbone), detectorRuns: detector, backboneRuns: backbone };
  },
  /** A prediction's crop as data: its method, box and crop embedding (whole, to compare bit for bit). */
  async predictCrop(img: ImageArg) {
    const p = await lib.predict(blobOf(img));
    return { method: p.crop?.method ?? null, box: p.crop?.box ?? null, cropEmbedding: p.cropEmbedding ? Array.from(p.cropEmbedding) : null, head: p.head.id };
  },
  /** Example `id`'s detector crop (client/lib/detector-crops.ts) and its packed embedding on the loaded backbone (whole), or nulls. */
  async detectorCropOf(id: string) {
    const db = await lib.openTannerinDb();
    const record = await db.get('examples', id);
    const packs = await lib.readEmbeddings(db.transaction('embeddingPacks').store, detectorPackRef(lib.currentBackbone().ref));
    const embedding = packs.get(id)?.[0];
    return { crop: record?.detectorCrop ?? null, embedding: embedding ? Array.from(embedding) : null };
  },
  /** The detector crops' background: waits for the jobs queued now, then gives its progress (0 of 0 when idle). */
  async detectorCropsIdle() {
    await detectorCropsSettled();
    return detectorCropsProgress();
  },
  /** The detector crops' background now (done, total, last error), without waiting. */
  detectorCropsNow: () => detectorCropsProgress(),
  /** Queues every photo still without a detector crop (the background fill); how many. */
  fillDetectorCrops: () => fillDetectorCrops(),
  /** Starts recording the detector crops' progress events (done, total); {@link detectorCropsSeen} gives them. */
  watchDetectorCrops() {
    progressSeen.length = 0;
    offProgress?.();
    offProgress = onDetectorCropsProgress((done, total) => progressSeen.push([done, total]));
  },
  /** The progress events recorded since {@link watchDetectorCrops}. */
  detectorCropsSeen: (): [number, number][] => [...progressSeen],
  /**
   * Train's two detector-crop steps as Train makes them on the loaded backbone (completeDetectorCrops,
   * then detectorCropExamples with its scan, or with none: `scan: false`), counting the reads of the
   * example records they make; the crop examples as data, their time.
   */
  async detectorCropSteps(options: { scan?: boolean } = {}) {
    const backbone = lib.currentBackbone();
    const { examples } = await lib.trainingSet(backbone.ref);
    const reads = { getAll: 0, cursor: 0, get: 0 };
    const t0 = performance.now();
    const detected = await countingExampleReads(reads, async () => {
      const { made, scan } = await completeDetectorCrops(backbone);
      return { made, crops: await detectorCropExamples(backbone, examples, options.scan === false ? undefined : scan) };
    });
    const ms = performance.now() - t0;
    const crops = detected.crops && { setting: detected.crops.setting, examples: detected.crops.cropExamples.map((e) => ({ photoId: e.photoId, label: e.label, embedding: Array.from(e.embedding) })) };
    return { made: detected.made, crops, reads, ms };
  },
  /** This page's reads of the detector setting (IndexedDB `settings`, key `detector`) since the first call (0 then): counted from that call on. */
  detectorSettingReads(): number {
    if (!countingSettingReads) {
      countingSettingReads = true;
      const get = IDBObjectStore.prototype.get;
      IDBObjectStore.prototype.get = function (this: IDBObjectStore, query: IDBValidKey | IDBKeyRange) {
        if (this.name === 'settings' && query === 'detector') settingReads++;
        return get.call(this, query);
      };
    }
    return settingReads;
  },
  /** The live tensors in this page. */
  numTensors: () => tf.memory().numTensors,
};

const progressSeen: [number, number][] = [];
let offProgress: (() => void) | undefined;
let countingSettingReads = false;
let settingReads = 0;

/** Runs `job` counting its reads of the `examples` store into `reads` (getAll, openCursor, get on the store; nothing else should run meanwhile). */
async function countingExampleReads<T>(reads: { getAll: number; cursor: number; get: number }, job: () => Promise<T>): Promise<T> {
  const proto = IDBObjectStore.prototype;
  const saved = { getAll: proto.getAll, openCursor: proto.openCursor, get: proto.get };
  const counted = <A extends unknown[], R>(name: keyof typeof reads, original: (this: IDBObjectStore, ...args: A) => R) =>
    function (this: IDBObjectStore, ...args: A): R {
      if (this.name === 'examples') reads[name]++;
      return original.apply(this, args);
    };
  proto.getAll = counted('getAll', saved.getAll);
  proto.openCursor = counted('cursor', saved.openCursor);
  proto.get = counted('get', saved.get);
  try {
    return await job();
  } finally {
    Object.assign(proto, saved);
  }
}
