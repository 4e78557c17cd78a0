/**
 * Test page: exposes the browser library on `window.tannerin` for the Playwright-driven tests in
 * tests/browser, plus a few helpers that take and return plain data (base64 strings, number
 * arrays), which is what `page.evaluate` can pass.
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadLayersModel } from '@tensorflow/tfjs-layers';
import { base64ToBytes, bytesToBase64 } from '../../shared/util/base64.ts';
import { transformInput } from '../../shared/predict/predictor.ts';
import * as lib from '../lib/internal.ts';
import { forwardTimesMs } from '../lib/backbone-choice.ts';
import { blobOf, errorData, exampleSummary, median, sourceOf, type ClassArg, type ImageArg, type SourceKind } from './harness-data.ts';
import { storageHelpers } from './harness-storage.ts';
import { correctionHelpers } from './harness-correct.ts';
import { detectorHelpers } from './harness-detector.ts';

/** What the heads-changed callback reported (for the multi-tab test). */
const headChanges: lib.HeadChange[] = [];

const harness = {
  ...lib,
  ...storageHelpers,
  ...correctionHelpers,
  ...detectorHelpers,
  /** Embeds an image file passed as base64, through a source of the given kind. */
  async embedImage(img: ImageArg, kind: SourceKind = 'blob'): Promise<number[]> {
    const { source, cleanup } = await sourceOf(kind, img);
    try {
      return Array.from(await lib.embed(source));
    } finally {
      cleanup();
    }
  },
  /** Embeds an image file passed as base64 on each of the loaded backbones `refs` (a pair's members, say). */
  async embedOn(img: ImageArg, refs: readonly string[]): Promise<number[][]> {
    const out: number[][] = [];
    for (const ref of refs) {
      const backbone = lib.loadedBackbone(ref);
      if (!backbone) throw new Error(`${ref} is not loaded`);
      out.push(Array.from(await lib.embed(blobOf(img), { backbone })));
    }
    return out;
  },
  /** Loads the models from this origin; returns the summary a test checks (no tensors). */
  async load(apiBase: string = location.origin) {
    const progress: [number, number][] = [];
    const t0 = performance.now();
    const m = await lib.loadModels(apiBase, { onProgress: (done, total) => progress.push([done, total]) });
    return {
      ms: performance.now() - t0,
      backbone: m.backbone.ref,
      manifestSource: m.manifestSource,
      bytesDownloaded: m.bytesDownloaded,
      bytesFromStore: m.bytesFromStore,
      filesRemoved: m.filesRemoved,
      storageError: m.storageError ?? null,
      defaultHeads: m.defaultHeads.map((h) => ({ id: h.id, classes: h.classes, weightBytes: h.weightData.length })),
      manifestBytes: [...m.manifest.backbone.files, ...m.manifest.heads.flatMap((h) => h.files)].reduce((a, f) => a + f.bytes, 0),
      backboneBytes: m.manifest.backbone.files.reduce((a, f) => a + f.bytes, 0),
      progress: { calls: progress.length, last: progress.at(-1) ?? null, monotonic: progress.every((p, i) => i === 0 || p[0] >= (progress[i - 1] as [number, number])[0]) },
    };
  },
  /** Model files stored in IndexedDB: path, size and backbone of each. */
  async storedModelFiles() {
    const db = await lib.openTannerinDb();
    return (await db.getAll('modelFiles')).map((r) => ({ path: r.path, sha256: r.sha256, bytes: r.bytes.length, backbone: r.backbone }));
  },
  /** Median forward time (batch 1) of the current backbone on a fixed input, after warm-up. */
  async forwardMs(runs = 15, warmup = 3): Promise<{ median: number; runs: number[] }> {
    // The passes the app times at first run (client/lib/backbone-choice.ts), with every run kept.
    const times = await forwardTimesMs(lib.currentBackbone(), runs, warmup);
    return { median: median(times), runs: times };
  },
  /**
   * The folded forward pass against the unfolded layers model (built here on first call), batch 1,
   * alternated in `rounds` rounds of `runs` each so that noise hits both alike; medians in ms.
   */
  async forwardFoldedVsUnfoldedMs(rounds = 3, runs = 8): Promise<{ folded: number; unfolded: number }> {
    const backbone = lib.currentBackbone();
    const model = await backbone.layersModel();
    const { width, height } = backbone.manifest.normalization;
    const input = new Float32Array(width * height * 3).map((_, i) => (i % 251) / 250);
    const unfolded = async (): Promise<void> => {
      const out = tf.tidy(() => model.predict(tf.tensor4d(input, [1, height, width, 3])) as tf.Tensor);
      await out.data();
      out.dispose();
    };
    await unfolded();
    await backbone.embedPreprocessed(input);
    const times = { folded: [] as number[], unfolded: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      for (const [which, run] of [['folded', () => backbone.embedPreprocessed(input)], ['unfolded', unfolded]] as const) {
        for (let i = 0; i < runs; i++) {
          const t0 = performance.now();
          await run();
          times[which].push(performance.now() - t0);
        }
      }
    }
    return { folded: median(times.folded), unfolded: median(times.unfolded) };
  },
  /** Embeds the same image `n` times; tensor counts before and after (and after the first). */
  async embedRepeatedly(img: ImageArg, n: number): Promise<{ before: number; afterFirst: number; after: number; bytesBefore: number; bytesAfter: number }> {
    const blob = blobOf(img);
    const pixels = await lib.pixelsOf(blob);
    const imageData = new ImageData(new Uint8ClampedArray(pixels.data), pixels.width, pixels.height);
    // Warm up both paths (first calls create the decoder and the kernels' scratch).
    await lib.embed(blob);
    await lib.embed(imageData);
    const before = tf.memory().numTensors;
    const bytesBefore = tf.memory().numBytes;
    await lib.embed(blob);
    const afterFirst = tf.memory().numTensors;
    for (let i = 1; i < n; i++) await lib.embed(i % 2 ? blob : imageData);
    return { before, afterFirst, after: tf.memory().numTensors, bytesBefore, bytesAfter: tf.memory().numBytes };
  },
  /** Re-encodes an image in the browser (e.g. as `image/webp`), returned as an ImageArg. */
  async reencode(img: ImageArg, type: string): Promise<ImageArg> {
    const bitmap = await createImageBitmap(blobOf(img));
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    (canvas.getContext('2d') as OffscreenCanvasRenderingContext2D).drawImage(bitmap, 0, 0);
    bitmap.close();
    const out = await canvas.convertToBlob({ type, quality: 1 });
    const bytes = new Uint8Array(await out.arrayBuffer());
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return { base64: btoa(binary), type: out.type };
  },
  /**
   * Adds the classes (or reuses ones with the same name) and teaches each image as one example;
   * seeds are fixed (index-based) so the run is reproducible. Each photo's augmented views are
   * stored before the next photo is added. Returns the class ids and, per photo, the time until
   * `addExample` resolved (`msToUsable`: the photo counts for training) and until its augmented
   * views were stored too (`msPerPhoto`: the whole example).
   */
  async teach(classes: ClassArg[], options: { augment?: boolean; seed?: number } = {}) {
    const existing = await lib.listClasses();
    const ids: string[] = [];
    const msPerPhoto: number[] = [];
    const msToUsable: number[] = [];
    let k = 0;
    for (const c of classes) {
      const cls = existing.find((e) => e.name === c.name) ?? (await lib.addClass(c.name));
      ids.push(cls.id);
      for (const img of c.images) {
        const t0 = performance.now();
        const record = await lib.addExample(cls.id, blobOf(img), { augment: options.augment ?? true, seed: (options.seed ?? 1) + k++ });
        msToUsable.push(performance.now() - t0);
        await lib.pendingViewsSettled(record.id);
        msPerPhoto.push(performance.now() - t0);
      }
    }
    return { classIds: ids, msPerPhoto, msToUsable };
  },
  /**
   * Adds each image to a class without waiting for its augmented views (they follow in the
   * background); the summaries as `addExample` returned them, and the trainingSet's size right
   * after each.
   */
  async addPhotos(classId: string, images: ImageArg[], seed = 1) {
    const added = [];
    for (const [i, img] of images.entries()) {
      const record = await lib.addExample(classId, blobOf(img), { seed: seed + i });
      const set = await lib.trainingSet();
      added.push({ example: exampleSummary(record, record.embeddings), trainingPhotos: set.photos, trainingVectors: set.examples.length, pendingViews: set.pendingViews });
    }
    return added;
  },
  /**
   * Grows the stored examples to `photos` photos without the backbone (the bench's 1,000-photo
   * training): copies of the stored examples, round-robin, each with its photo bytes and its
   * embeddings plus seeded noise (std `noise` times each float's own size, the same noise draw for
   * every view of a copy, so views stay together as a photo's do), written straight to the store.
   */
  async cloneExamples(photos: number, options: { noise?: number; seed?: number } = {}) {
    const { noise = 0.3, seed = 1 } = options;
    const db = await lib.openTannerinDb();
    const ref = lib.currentBackbone().ref;
    const stored = await db.getAll('examples');
    const storedEmbeddings = await lib.readEmbeddings(db.transaction('embeddingPacks').store, ref);
    if (!stored.length) throw new Error('no stored examples to copy');
    let state = seed >>> 0;
    const uniform = (): number => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = Math.imul(state ^ (state >>> 15), state | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const records = [];
    const entries: lib.EmbeddingEntry[] = [];
    for (let n = stored.length; n < photos; n++) {
      const from = stored[n % stored.length] as (typeof stored)[number];
      const fromEmbeddings = storedEmbeddings.get(from.id) ?? [];
      const size = (fromEmbeddings[0] as Float32Array).length;
      const draw = Float32Array.from({ length: size }, () => 2 * uniform() - 1);
      const embeddings = fromEmbeddings.map((e) => Float32Array.from(e, (x, i) => Math.max(0, x * (1 + noise * Math.sqrt(3) * (draw[i] as number)))));
      const id = crypto.randomUUID();
      records.push({ ...from, id });
      entries.push({ id, embeddings });
    }
    const tx = db.transaction(['examples', 'embeddingPacks'], 'readwrite');
    await Promise.all([...records.map((r) => tx.objectStore('examples').add(r)), lib.appendToPacks(tx.objectStore('embeddingPacks'), ref, entries), tx.done]);
    return { photos: stored.length + records.length };
  },
  /** Trains; `abortAtEpoch` aborts from the progress callback. Errors come back as data. */
  async trainNow(options: { headId?: string; name?: string; abortAtEpoch?: number; epochs?: number; hidden?: number } = {}) {
    const progress: lib.EpochProgress[] = [];
    const viewsProgress: [number, number][] = [];
    const embedProgress: [number, number][] = [];
    const controller = new AbortController();
    const before = tf.memory().numTensors;
    try {
      const report = await lib.train({
        ...(options.headId ? { headId: options.headId } : {}),
        ...(options.name ? { name: options.name } : {}),
        ...(options.epochs ? { epochs: options.epochs } : {}),
        ...(options.hidden ? { hidden: options.hidden } : {}),
        signal: controller.signal,
        onProgress: (e) => {
          progress.push(e);
          if (options.abortAtEpoch !== undefined && e.epoch >= options.abortAtEpoch) controller.abort();
        },
        onViewsProgress: (done, total) => viewsProgress.push([done, total]),
        onEmbedProgress: (done, total) => embedProgress.push([done, total]),
      });
      return { ok: true as const, report, progress, viewsProgress, embedProgress, tensorsBefore: before, tensorsAfter: tf.memory().numTensors };
    } catch (err) {
      return { ok: false as const, error: errorData(err), progress, viewsProgress, embedProgress, tensorsBefore: before, tensorsAfter: tf.memory().numTensors };
    }
  },
  /**
   * Times "press Train until the new head predicts": from the `train()` call until the head is
   * saved and a prediction of `img` has come back.
   */
  async trainAndPredict(img: ImageArg) {
    const blob = blobOf(img);
    const t0 = performance.now();
    const report = await lib.train();
    const result = await lib.predict(blob);
    const ms = performance.now() - t0;
    return { ms, trainMs: report.ms, epochs: report.epochsRun, vectors: report.examples.vectors, guard: report.guard.choice, head: result.head };
  },
  /** Predicts each image (a Blob, as a file would come). */
  async predictImages(images: ImageArg[], options: lib.PredictOptions = {}) {
    const out: lib.PredictResult[] = [];
    for (const img of images) out.push(await lib.predict(blobOf(img), options));
    return out;
  },
  /** Predicts the same image `n` times; tensor counts before (after one warm-up) and after. */
  async predictRepeatedly(img: ImageArg, n: number) {
    const blob = blobOf(img);
    await lib.predict(blob);
    const before = tf.memory().numTensors;
    const bytesBefore = tf.memory().numBytes;
    for (let i = 0; i < n; i++) await lib.predict(blob);
    return { before, after: tf.memory().numTensors, bytesBefore, bytesAfter: tf.memory().numBytes };
  },
  /** The stored classes and example summaries. */
  async stored() {
    // Each with its embeddings on the loaded backbone (or, before loading, the one it was added on).
    const examples = await Promise.all((await lib.listExamples()).map(async (r) => exampleSummary(r, (await lib.getExample(r.id))?.embeddings ?? [])));
    return { classes: await lib.listClasses(), examples, heads: await lib.listHeads() };
  },
  /**
   * Every stored embedding on the loaded backbone (before loading: on the one each example was
   * added on), base64 of its float32 bytes, by example id (bitwise comparisons).
   */
  async storedEmbeddings(): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {};
    for (const r of await lib.listExamples()) {
      const embeddings = (await lib.getExample(r.id))?.embeddings ?? [];
      out[r.id] = embeddings.map((e) => bytesToBase64(new Uint8Array(e.buffer, e.byteOffset, e.byteLength)));
    }
    return out;
  },
  /**
   * Moves `n` examples' embeddings to another backbone and tags them with it, as a backbone
   * upgrade leaves them (no embeddings on the loaded backbone).
   */
  async makeStale(n: number): Promise<string[]> {
    const old = 'old_backbone@0000000000000000';
    const db = await lib.openTannerinDb();
    const records = (await db.getAll('examples')).slice(0, n);
    const tx = db.transaction(['examples', 'embeddingPacks'], 'readwrite');
    const packs = tx.objectStore('embeddingPacks');
    for (const r of records) {
      const embeddings = (await lib.readExampleEmbeddings(packs, r.backbone, r.id)) ?? [];
      await lib.deleteEmbeddings(packs, [r.id]);
      await lib.putEmbeddings(packs, old, [{ id: r.id, embeddings: embeddings.map((e) => e.slice()) }]);
      await tx.objectStore('examples').put({ ...r, backbone: old });
    }
    await tx.done;
    return records.map((r) => r.id);
  },
  /** Sets how the device predicts with a head, as the guard would (the kNN path without a rigged guard). */
  async setPredictWith(headId: string, predictWith: 'head' | 'knn'): Promise<void> {
    const db = await lib.openTannerinDb();
    const state = await db.get('headStates', headId);
    if (!state) throw new Error(`no state for head ${headId}`);
    await db.put('headStates', { ...state, predictWith });
    lib.notifyChange({ type: 'head-saved', id: headId });
  },
  /** Re-embeds stale examples, recording progress. */
  async reembed() {
    const progress: [number, number][] = [];
    const result = await lib.reembedAll({ onProgress: (done, total) => progress.push([done, total]) });
    return { ...result, progress };
  },
  /**
   * Exports a head as downloadable files, loads them with stock TF.js (`tf.loadLayersModel` on
   * `browserFiles`) and imports them back. Returns the imported document, the file names and the
   * stock model's scores for the first stored example next to the head runner's.
   */
  async exportImport(headId: string, options: lib.ImportHeadOptions = {}) {
    const files = await lib.exportHeadBlobs(headId);
    const doc = (await lib.getHead(headId)) as lib.HeadDocument;
    const stock = await loadLayersModel(tf.io.browserFiles([files.modelJson, files.weights]));
    const example = (await lib.getExample(((await lib.listExamples())[0] as lib.ExampleRecord).id)) as lib.ExampleWithEmbeddings;
    const input = transformInput(example.embeddings[0] as Float32Array, lib.currentBackbone().manifest, doc.input);
    const out = tf.tidy(() => stock.predict(tf.tensor2d(input, [1, input.length])) as tf.Tensor);
    const stockScores = Array.from(await out.data());
    out.dispose();
    stock.dispose();
    const ownScores = (await lib.predictEmbedding(example.embeddings[0] as Float32Array, { headId })).predictions;
    const imported = await lib.importHead(files.modelJson, files.weights, options);
    return {
      imported,
      names: [files.modelJson.name, files.weights.name],
      weightsBytes: files.weights.size,
      stockScores,
      ownScores: doc.classes.map((c) => ownScores.find((p) => p.label === c)?.score ?? NaN),
    };
  },
  /** Imports a head from files given as data (the bad-input tests). */
  async importFiles(modelJson: Record<string, unknown>, weightsBase64: string, options: lib.ImportHeadOptions = {}) {
    try {
      return { ok: true as const, doc: await lib.importHead(modelJson, base64ToBytes(weightsBase64), options) };
    } catch (err) {
      return { ok: false as const, error: errorData(err) };
    }
  },
  /** Exported files as data. */
  async exportData(headId: string) {
    const e = await lib.exportHead(headId);
    return { modelJson: e.modelJson, weightsBase64: bytesToBase64(e.weights), names: [e.modelJsonFile, e.weightsFile] };
  },
  /** Starts recording head changes (`onHeadsChanged`). */
  watchHeads(): void {
    lib.onHeadsChanged((c) => headChanges.push(c));
  },
  headChanges: () => [...headChanges],
  /** Adds one example, reporting a failure (e.g. the quota) as data. */
  async tryAddExample(classId: string, img: ImageArg) {
    try {
      const record = await lib.addExample(classId, blobOf(img), { seed: 7 });
      // The whole example: its augmented views stored (or failed) too.
      await lib.pendingViewsSettled(record.id);
      return { ok: true as const, example: exampleSummary(record, (await lib.getExample(record.id))?.embeddings ?? []) };
    } catch (err) {
      return { ok: false as const, error: errorData(err) };
    }
  },
  /** This device's sync token (read from IndexedDB), or null while sync is off. */
  async syncToken(): Promise<string | null> {
    const db = await lib.openTannerinDb();
    return (await db.get('syncAccount', 'account'))?.token ?? null;
  },
  /** Every head's sync record, as stored. */
  async syncStates(): Promise<lib.SyncStateRecord[]> {
    const db = await lib.openTannerinDb();
    return db.getAll('syncStates');
  },
  /**
   * Stores a copy of a head (new id) that claims another backbone, as a head trained before a
   * backbone upgrade would be; returns its id.
   */
  async storeHeadForBackbone(id: string, backbone: string): Promise<string> {
    const db = await lib.openTannerinDb();
    const doc = await db.get('heads', id);
    if (!doc) throw new Error(`no head ${id}`);
    const copy: lib.HeadDocument = { ...doc, id: crypto.randomUUID(), name: `${doc.name} (old backbone)`, backbone };
    await db.put('heads', copy);
    return copy.id;
  },
  /** A stored head document, serialised as sync sends it. */
  async headJson(id: string): Promise<string | null> {
    const doc = await lib.getHead(id);
    return doc ? JSON.stringify(doc) : null;
  },
  /**
   * Polls the sync status until the overall status is `wanted` (and no run is in flight), or gives
   * up after `timeoutMs` (a hang guard, not a timing check); returns the last status.
   */
  async waitForSync(wanted: lib.OverallSyncStatus, timeoutMs = 30_000): Promise<lib.SyncStatus> {
    const until = performance.now() + timeoutMs;
    for (;;) {
      const status = await lib.getSyncStatus();
      if (status.status === wanted || performance.now() > until) return status;
      await new Promise((r) => setTimeout(r, 50));
    }
  },
  /** Calls a sync function, reporting a failure as data. */
  async trySync(step: 'enable' | 'pair' | 'token' | 'sync', arg = '') {
    try {
      if (step === 'enable') return { ok: true as const, value: await lib.enableSync({ label: 'device A' }) };
      if (step === 'pair') return { ok: true as const, value: await lib.restoreWithPairingCode(arg, { label: 'device B' }) };
      if (step === 'token') return { ok: true as const, value: await lib.restoreWithToken(arg) };
      await lib.syncNow();
      return { ok: true as const, value: '' };
    } catch (err) {
      return { ok: false as const, error: errorData(err) };
    }
  },
  /**
   * Stores a head document given as JSON text (e.g. a fine-tuned model made on the Node side)
   * after the library's checks, as an imported head; returns its id or the error as data.
   */
  async storeDocument(json: string, activate = false) {
    try {
      const doc = lib.checkHead(JSON.parse(json), { requireHeadId: true });
      await lib.storeHead(doc, { id: doc.id, predictWith: 'head', classIds: null, trainedOn: null, training: null, updated: new Date().toISOString() }, { activate });
      return { ok: true as const, id: doc.id };
    } catch (err) {
      return { ok: false as const, error: errorData(err) };
    }
  },
  /** `predictEmbedding`, reporting a failure as data. */
  async tryPredictEmbedding(embedding: number[], options: lib.PredictOptions = {}) {
    try {
      return { ok: true as const, result: await lib.predictEmbedding(Float32Array.from(embedding), options) };
    } catch (err) {
      return { ok: false as const, error: errorData(err) };
    }
  },
  /**
   * Exports a head as the files a user downloads (a fine-tuned model: four) and imports them back,
   * with or without the tail files; the imported document as JSON text, or the error as data.
   */
  async exportImportAll(headId: string, withTail: boolean, options: lib.ImportHeadOptions = {}) {
    const files = await lib.exportHeadBlobs(headId);
    const names = [files.modelJson, files.weights, files.tailModelJson, files.tailWeights].filter((f) => f !== undefined).map((f) => f.name);
    try {
      const tail = withTail && files.tailModelJson && files.tailWeights ? { tail: { modelJson: files.tailModelJson, weights: files.tailWeights } } : {};
      const doc = await lib.importHead(files.modelJson, files.weights, { ...options, ...tail });
      return { ok: true as const, names, json: JSON.stringify(doc) };
    } catch (err) {
      return { ok: false as const, names, error: errorData(err) };
    }
  },
  /**
   * `useBackbone` with its download and re-embedding progress recorded; `abortAtReembedded` aborts
   * from the re-embedding progress once that many examples are done. Errors come back as data.
   */
  async switchBackbone(id: string, options: { abortAtReembedded?: number } = {}) {
    const download: [number, number][] = [];
    const reembed: [number, number][] = [];
    const controller = new AbortController();
    try {
      const report = await lib.useBackbone(id, {
        signal: controller.signal,
        onDownloadProgress: (done, total) => download.push([done, total]),
        onReembedProgress: (done, total) => {
          reembed.push([done, total]);
          if (options.abortAtReembedded !== undefined && done >= options.abortAtReembedded) controller.abort();
        },
      });
      return { ok: true as const, report, download, reembed, current: lib.currentBackbone().ref };
    } catch (err) {
      return { ok: false as const, error: errorData(err), download, reembed, current: lib.currentBackbone().ref };
    }
  },
  /** `loadServedBackbone` with its download progress recorded; the backbone's ref, or the error as data. */
  async downloadBackbone(idOrRef: string) {
    const download: [number, number][] = [];
    try {
      const backbone = await lib.loadServedBackbone(idOrRef, { onProgress: (done, total) => download.push([done, total]) });
      return { ok: true as const, ref: backbone.ref, download };
    } catch (err) {
      return { ok: false as const, error: errorData(err), download };
    }
  },
  /** `predict` of one image with a head, reporting a failure as data (a `BackboneNeededError` with its fields). */
  async tryPredict(img: ImageArg, options: lib.PredictOptions = {}) {
    try {
      return { ok: true as const, result: await lib.predict(blobOf(img), options) };
    } catch (err) {
      const needed = err instanceof lib.BackboneNeededError ? { backbone: err.backbone, downloadBytes: err.downloadBytes } : null;
      return { ok: false as const, error: errorData(err), needed };
    }
  },
  /** `tf.memory()`, as plain data. */
  memory() {
    const m = tf.memory();
    return { numTensors: m.numTensors, numBytes: m.numBytes };
  },
  /** Resizes for upload; returns the result's type, size and bytes (base64 is not needed). */
  async downscale(img: ImageArg, maxSide?: number) {
    const input = blobOf(img);
    const out = await lib.downscaleForUpload(input, maxSide);
    const bitmap = await createImageBitmap(out);
    const result = { type: out.type, bytes: out.size, width: bitmap.width, height: bitmap.height, unchanged: out === input };
    bitmap.close();
    return result;
  },
};

declare global {
  interface Window {
    tannerin: typeof harness;
  }
}

window.tannerin = harness;
document.getElementById('log')?.append(`ready (crossOriginIsolated: ${String(globalThis.crossOriginIsolated)})\n`);
