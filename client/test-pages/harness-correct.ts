/**
 * The test page's helpers for learning from mistakes (client/lib/correct.ts, asking.ts,
 * unlabeled.ts; harness.ts spreads them into `window.tannerin`): corrections with their background
 * retraining kept in the page (a promise cannot cross `page.evaluate`), counted backbone passes,
 * a Train started and left running, and the bench's correction timing.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as lib from '../lib/internal.ts';
import { blobOf, errorData, sourceOf, type ImageArg, type SourceKind } from './harness-data.ts';

/** A background promise's end, as data: when (page clock, ms) and how. */
interface Settled<T> {
  at: number;
  ok: boolean;
  value?: T;
  error?: ReturnType<typeof errorData>;
}

/** Retrainings of the corrections made here, by example id, and how they ended. */
const retrainings = new Map<string, Promise<lib.TrainReport>>();
const settled = new Map<string, Settled<lib.TrainReport>>();
/** The Train started by `startTrain`, and how it ended. */
let training: Promise<lib.TrainReport> | null = null;
let trainSettled: Settled<lib.TrainReport> | null = null;

/** Records how `promise` ends in `into` (never rejects). */
function watch<T>(promise: Promise<T>, into: (s: Settled<T>) => void): void {
  promise.then(
    (value) => into({ at: performance.now(), ok: true, value }),
    (err: unknown) => into({ at: performance.now(), ok: false, error: errorData(err) }),
  );
}

/** A prediction as data: the embeddings' lengths instead of their floats. */
const predictionData = (p: lib.PredictResult) => ({ ...p, embedding: p.embedding ? p.embedding.length : null, cropEmbedding: p.cropEmbedding ? p.cropEmbedding.length : null });

/** The crop embedding of the prediction each correction made here was given, by example id. */
const predictedCrops = new Map<string, Float32Array>();

const sameFloats = (a: Float32Array | undefined, b: Float32Array | undefined): boolean => !!(a && b && a.length === b.length && a.every((x, i) => Object.is(x, b[i])));

/**
 * Counts the loaded backbone's `embed` and `run` calls (every photo's backbone pass outside a
 * prediction; `addExample` on MobileNetV2 embeds through `run`, which also yields the crop's map)
 * while `fn` runs.
 */
async function countingEmbeds<T>(fn: () => Promise<T>): Promise<{ value: T; embeds: number }> {
  const backbone = lib.currentBackbone();
  const { embed, run } = backbone;
  let embeds = 0;
  backbone.embed = (...args) => {
    embeds++;
    return embed.apply(backbone, args);
  };
  backbone.run = (...args) => {
    embeds++;
    return run.apply(backbone, args);
  };
  try {
    return { value: await fn(), embeds };
  } finally {
    backbone.embed = embed;
    backbone.run = run;
  }
}

/** A correction label from data: a class by name (must exist), or a new class. */
async function labelOf(label: { className: string } | { newClassName: string }): Promise<lib.CorrectLabel> {
  if ('newClassName' in label) return label;
  const cls = (await lib.listClasses()).find((c) => c.name === label.className);
  if (!cls) throw new Error(`no class ${label.className}`);
  return { classId: cls.id };
}

export const correctionHelpers = {
  /**
   * Predicts the image (unless `withPrediction` is false), then corrects it to `label` with that
   * prediction. Returns the prediction, the correction, the backbone passes `correct()` made, and
   * whether the stored example's own embedding is the prediction's, bit for bit; `startedAt`: the
   * page clock when `correct()` was called (the retraining's `at` minus it: correction to ready).
   * The retraining is kept for {@link correctionHelpers.retrained}.
   */
  async correctImage(img: ImageArg, label: { className: string } | { newClassName: string }, options: { withPrediction?: boolean; kind?: SourceKind } = {}) {
    const { source, cleanup } = await sourceOf(options.kind ?? 'blob', img);
    try {
      const prediction = options.withPrediction === false ? undefined : await lib.predict(source);
      const t0 = performance.now();
      const { value: c, embeds } = await countingEmbeds(async () => lib.correct(source, await labelOf(label), prediction ? { prediction } : {}));
      const storedMs = performance.now() - t0;
      retrainings.set(c.exampleId, c.retrained);
      watch(c.retrained, (s) => settled.set(c.exampleId, s));
      if (prediction?.cropEmbedding) predictedCrops.set(c.exampleId, prediction.cropEmbedding);
      const stored = (await lib.getExample(c.exampleId))?.embeddings[0];
      const same = !!(stored && prediction?.embedding && stored.length === prediction.embedding.length && stored.every((x, i) => Object.is(x, prediction.embedding?.[i])));
      return { prediction: prediction ? predictionData(prediction) : null, correction: { exampleId: c.exampleId, classId: c.classId, photoKey: c.photoKey }, embeds, storedMs, startedAt: t0, view0IsPredictions: same };
    } finally {
      cleanup();
    }
  },
  /**
   * Example `id`'s stored crop as data (which backbone found its box, the box, the size; not the
   * JPEG), whether it is still pending, whether the crops' training set (`cropExamples` on the
   * loaded backbone) holds its crop's embedding, and whether that is bit for bit the crop embedding
   * of the prediction its correction was given.
   */
  async exampleCrop(id: string) {
    const record = await (await lib.openTannerinDb()).get('examples', id);
    const backbone = lib.currentBackbone();
    const crops = await lib.cropExamples(backbone, (await lib.trainingSet(backbone.ref)).examples);
    const mine = crops?.find((e) => e.photoId === id)?.embedding;
    const crop = record?.crop ? { backbone: record.crop.backbone, box: record.crop.box, width: record.crop.width, height: record.crop.height, setting: record.crop.setting } : null;
    return { crop, pending: record?.cropPending === 1, inCrops: mine !== undefined, embeddingIsPredictions: sameFloats(mine, predictedCrops.get(id)) };
  },
  /** Labels an unlabeled photo; its retraining is kept as a correction's. */
  async labelUnlabeledAs(id: string, label: { className: string } | { newClassName: string }) {
    const c = await lib.labelUnlabeled(id, await labelOf(label));
    retrainings.set(c.exampleId, c.retrained);
    watch(c.retrained, (s) => settled.set(c.exampleId, s));
    return { exampleId: c.exampleId, classId: c.classId, photoKey: c.photoKey };
  },
  /** Waits for the retraining of the correction that made example `exampleId`; its report, or its error as data. */
  async retrained(exampleId: string): Promise<Settled<lib.TrainReport>> {
    const run = retrainings.get(exampleId);
    if (!run) throw new Error(`no correction made example ${exampleId} in this page`);
    await run.catch(() => undefined);
    return settled.get(exampleId) as Settled<lib.TrainReport>;
  },
  /** How the retraining of example `exampleId`'s correction ended, or null while it has not. */
  retrainedYet: (exampleId: string): Settled<lib.TrainReport> | null => settled.get(exampleId) ?? null,
  /** Whether two corrections got the very same retraining (one training for both). */
  sameRetraining: (a: string, b: string): boolean => retrainings.get(a) !== undefined && retrainings.get(a) === retrainings.get(b),
  /** Starts `train()` (the Train button) and returns at once; {@link correctionHelpers.trainEnded} says how it ended. */
  startTrain(options: { headId?: string } = {}): void {
    trainSettled = null;
    training = lib.train(options.headId ? { headId: options.headId } : {});
    watch(training, (s) => (trainSettled = s));
  },
  /** Waits for the Train started by {@link correctionHelpers.startTrain}. */
  async trainEnded(): Promise<Settled<lib.TrainReport>> {
    await training?.catch(() => undefined);
    return trainSettled as Settled<lib.TrainReport>;
  },
  /** How that Train ended, or null while it runs. */
  trainEndedYet: (): Settled<lib.TrainReport> | null => trainSettled,
  /** Predicts each image (Blobs); the results as data (embedding lengths, not floats). */
  async predictData(images: ImageArg[], options: lib.PredictOptions = {}) {
    const out = [];
    for (const img of images) out.push(predictionData(await lib.predict(blobOf(img), options)));
    return out;
  },
  /** Adds images to the unlabeled pool, each as a Blob, predicted first when `from` is `predict`; the ids (null: not kept). */
  async addToPool(images: ImageArg[], from: 'predict' | 'person') {
    const ids: (string | null)[] = [];
    for (const img of images) {
      const blob = blobOf(img);
      if (from === 'person') ids.push((await lib.addUnlabeled(blob)).id);
      else ids.push((await lib.addUnlabeled(blob, { from: 'predict', prediction: await lib.predict(blob) })).id);
    }
    return ids;
  },
  /** The unlabeled records as stored: id, source, key, skipped, cached embedding's backbone and length. */
  async rawUnlabeled() {
    const db = await lib.openTannerinDb();
    return (await db.getAllFromIndex('unlabeled', 'by-created')).map((r) => ({
      id: r.id,
      from: r.from ?? null,
      photoKey: r.photoKey ?? null,
      skipped: r.skipped ?? false,
      embedding: r.embedding ? { backbone: r.embedding.backbone, length: r.embedding.data.length } : null,
    }));
  },
  /** `photosToAsk`, as data (photo sizes, not bytes), with the tensor count before and after. */
  async askData(count?: number, options: { headId?: string } = {}) {
    const before = tf.memory().numTensors;
    const t0 = performance.now();
    const asked = await lib.photosToAsk(count, options);
    return {
      ms: performance.now() - t0,
      asked: asked.map((a) => ({ id: a.id, photoBytes: a.photo.bytes.byteLength, photoType: a.photo.type, guess: a.guess, uncertainty: a.uncertainty })),
      tensorsBefore: before,
      tensorsAfter: tf.memory().numTensors,
    };
  },
  /** The stored corrections (photo key and example). */
  async corrections(): Promise<lib.CorrectionRecord[]> {
    return (await lib.openTannerinDb()).getAll('corrections');
  },
  /**
   * The bench's `browser.correction_to_ready_ms`: predicts the image, then times `correct()` until
   * its retraining has settled, to the class the model ranked second (`runner-up`: a correction to
   * a class the model knows) or to a new class; then deletes the corrected example (and a new
   * class), leaving the stored examples as they were.
   */
  async correctionToReady(img: ImageArg, target: 'runner-up' | { newClassName: string }) {
    const blob = blobOf(img);
    const prediction = await lib.predict(blob);
    const label: lib.CorrectLabel = target === 'runner-up' ? await labelOf({ className: prediction.predictions[1]?.label as string }) : target;
    const t0 = performance.now();
    const c = await lib.correct(blob, label, { prediction });
    const storedMs = performance.now() - t0;
    const report = await c.retrained;
    const ms = performance.now() - t0;
    await lib.pendingViewsSettled(c.exampleId);
    await (target === 'runner-up' ? lib.deleteExample(c.exampleId) : lib.deleteClass(c.classId));
    return { ms, storedMs, trainMs: report.ms, epochs: report.epochsRun, vectors: report.examples.vectors, photos: report.examples.photos, split: report.split.method, outcome: report.outcome, warmStart: report.warmStart ?? null, fineTuned: report.fineTuned ?? null };
  },
};
