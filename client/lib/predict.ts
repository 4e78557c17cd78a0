/**
 * Predictions on the device, offline: the active personal head (or the head named), or kNN over
 * the stored examples when the guard chose kNN for that head; with no personal head, the
 * manifest's default head (stored with the backbone by `loadModels`).
 *
 * Every head, plain or fine-tuned, predicts through the prediction layer the Worker uses
 * (shared/predict/predictor.ts): a photo enters from its pixels, a stored embedding as a frozen
 * pass. A fine-tuned model (a head with a `backboneTail`) needs the photo (`predict`);
 * `predictEmbedding` cannot use it and says so.
 *
 * A head that records test-time augmentation (shared/head/tta.ts, kept by Train's guard unless it
 * was significantly worse on the held-out photos) predicts a photo as the mean of its probabilities over the photo
 * and its augmented views, as at the edge: one backbone pass per view (4 with Train's 3 views).
 * `testTimeAugmentation: false` skips it (the app's live camera does, to keep its frame rate;
 * a photo taken or chosen uses it). kNN and `predictEmbedding` predict from one embedding.
 *
 * A head that records a crop (shared/head/crop.ts, e.g. one trained with `tannerin train --crop
 * featuremap` and imported or published) predicts the photo's crop, as at the edge: one more
 * backbone pass finds the box (the same box as the edge and Node for the same pixels), and the
 * answer's `crop` says which. Such a head needs the photo (`predictEmbedding` says so), and its
 * prediction returns no `embedding` (the crop's would not be the photo's, which `correct()` stores)
 * but the crop's, `cropEmbedding`, which `correct()` stores as the photo's crop's.
 *
 * Each head predicts on the backbone it was trained on, whichever backbone is current: another
 * served backbone is loaded from its stored files when a head on it first predicts
 * (client/lib/backbones.ts `backboneForHead`; `BackboneNeededError`, naming the download, when they
 * are not on the device).
 *
 * Loaded heads are kept in the page's LRU cache (shared/predict/cache.ts, the Worker's cache type)
 * and dropped when a head is saved or deleted, here or in another tab (the next prediction loads
 * the stored version); kNN classifiers are dropped when examples change. A head being used by a
 * prediction in flight is disposed only once that prediction is done, and so is its backbone (a
 * prediction leases it, client/lib/current-backbone.ts). Tensors: every forward pass
 * runs inside `tf.tidy` and kNN is plain JavaScript, so the tensor count stays flat.
 *
 * Learning from mistakes (client/lib/correct.ts): a prediction returns the photo's key
 * (client/lib/photo-key.ts) and, when it computed one (a plain head or kNN), the photo's frozen
 * embedding, which `correct()` reuses; and a photo corrected before is named as corrected, first
 * with score 1 (client/lib/corrections.ts), whatever the model says (by a personal head only).
 */
import type { Prediction } from '../../shared/api/types.ts';
import type { Example } from '../../shared/learn/examples.ts';
import type { HeadDocument } from '../../shared/head/document.ts';
import type { CropUsed } from '../../shared/head/crop.ts';
import { fitKnn, type KnnClassifier } from '../../shared/learn/knn.ts';
import { LruCache } from '../../shared/predict/cache.ts';
import { loadPredictor, type Predictor } from '../../shared/predict/predictor.ts';
import type { Backbone } from '../../shared/model/backbone.ts';
import { backboneForHead } from './backbones.ts';
import { BackboneReleasedError, currentBackbone, defaultHeads, onBackboneDisposed, withBackboneLease } from './current-backbone.ts';
import { onChange } from './changes.ts';
import { openTannerinDb, type HeadStateRecord } from './db.ts';
import { pixelsOf, type EmbedSource } from './embed.ts';
import { storedEmbeddings } from './examples.ts';
import { correctedClass } from './corrections.ts';
import { photoKeyOf } from './photo-key.ts';

/** Options for {@link predict}. */
export interface PredictOptions {
  /** A personal head's id, or a default head's id (e.g. `content-safety`). Default: the active head. */
  headId?: string;
  /** Only the best `top` classes (default: all). */
  top?: number;
  /**
   * Average over the photo's augmented views when the head records test-time augmentation
   * (default true); false predicts from the photo alone (e.g. live camera frames, 4x cheaper).
   */
  testTimeAugmentation?: boolean;
}

/** Which head answered. */
export interface PredictingHead {
  id: string;
  name: string;
  /** `personal`: trained or imported on this device. `default`: served with the backbone. */
  kind: 'personal' | 'default';
  /** `knn`: the head's classes predicted by kNN over the stored examples (the guard's choice). */
  predictWith: 'head' | 'knn';
  backbone: string;
  /** A fine-tuned model (its own copies of the backbone's top layers): predicts from photos only. */
  fineTuned: boolean;
}

/** What {@link predictEmbedding} answers. */
export interface EmbeddingPredictResult {
  head: PredictingHead;
  /** Descending scores. */
  predictions: Prediction[];
  /** Augmented views averaged with the photo for this prediction (0: the photo or embedding alone). */
  testTimeViews: number;
}

/** What {@link predict} answers. */
export interface PredictResult extends EmbeddingPredictResult {
  /**
   * The photo's frozen embedding on the head's backbone, when this prediction computed one (a
   * plain head or kNN); absent for a fine-tuned model and a head with a crop. `correct()` reuses it.
   */
  embedding?: Float32Array;
  /**
   * For a head with a crop: the box the photo was cut to before it was predicted, in [0, 1]
   * fractions of the photo's width (`x`, `width`) and height (`y`, `height`), and its method.
   */
  crop?: CropUsed;
  /**
   * For a plain head with a crop: the frozen embedding of the crop it predicted (the box in
   * `crop`), on the head's backbone. `correct()` stores it as the corrected photo's crop's (no
   * second pass for the crop).
   */
  cropEmbedding?: Float32Array;
  /**
   * Identifies the photo: SHA-256 (hex) of a Blob's bytes, or of the pixels of a frame, canvas or
   * ImageData (client/lib/photo-key.ts). Only with a personal head (a default head's predictions
   * are never corrected).
   */
  photoKey?: string;
  /**
   * This same photo was corrected before (`correct`, `labelUnlabeled`): `predictions` name that
   * class first, with score 1, whatever the model decided (the model's other scores follow).
   */
  corrected?: { classId: string; className: string };
}

/** Labels and scores for a photo (see the module comment). Needs `loadModels` first. */
export async function predict(source: EmbedSource, options: PredictOptions = {}): Promise<PredictResult> {
  let keying: Promise<string> | null = null;
  const result = await withHead(options, async (head) => {
    // Read inside the lease, as embed() does: a job decoding its photo keeps its backbone.
    const pixels = await pixelsOf(source);
    // Only a personal head's predictions can be corrected: a default head's (the live camera's
    // too, without a personal model) skip the hash and the corrections read.
    if (head.info.kind === 'personal') {
      keying = photoKeyOf(source, pixels);
      keying.catch(() => undefined);
    }
    if (head.knn) {
      const embedding = await head.backbone.embed(pixels);
      return { predictions: head.knn.predict(embedding), testTimeViews: 0, embedding };
    }
    const tta = options.testTimeAugmentation ?? true;
    const { predictions, frozen, crop } = await head.predictor.classifyPixels(pixels, undefined, { testTimeAugmentation: tta });
    const testTimeViews = tta ? (head.predictor.doc.testTimeAugmentation?.views ?? 0) : 0;
    // A fine-tuned model's frozen pass lacks its tail's parts, a crop head's is the crop's: neither is the photo's embedding.
    const photoEmbedding = head.info.fineTuned ? {} : crop ? { cropEmbedding: frozen.embedding } : { embedding: frozen.embedding };
    return { predictions, testTimeViews, ...photoEmbedding, ...(crop ? { crop } : {}) };
  });
  const photoKey = keying ? await keying : undefined;
  const corrected = photoKey === undefined ? null : await correctedClass(photoKey);
  const predictions = corrected
    ? [{ label: corrected.className, score: 1 }, ...result.predictions.filter((p) => p.label !== corrected.className)]
    : result.predictions;
  return { ...result, predictions: options.top === undefined ? predictions : predictions.slice(0, options.top), ...(photoKey === undefined ? {} : { photoKey }), ...(corrected ? { corrected } : {}) };
}

/**
 * The same as {@link predict}, for an embedding already computed (e.g. a stored one). A fine-tuned
 * model cannot use one (its own layers start below the embedding): that is an Error saying so.
 */
export async function predictEmbedding(embedding: Float32Array, options: PredictOptions = {}): Promise<EmbeddingPredictResult> {
  return withHead(options, async (head) => {
    if (head.knn) return { predictions: head.knn.predict(embedding, options.top), testTimeViews: 0 };
    if (head.info.fineTuned) {
      throw new Error(`head "${head.info.name}" is a fine-tuned model: its own copies of the backbone's top layers need the photo, not an embedding; use predict(photo)`);
    }
    if (head.predictor.doc.crop) throw new Error(`head "${head.info.name}" crops each photo before it embeds it (${head.predictor.doc.crop.method}): it needs the photo, not an embedding; use predict(photo)`);
    return { predictions: await head.predictor.predictFrozen({ embedding }, options.top), testTimeViews: 0 };
  });
}

/** Drops every cached head and classifier (they reload on the next prediction). */
export function clearPredictCache(): void {
  cache.clear();
  active = null;
}

// ---------------------------------------------------------------------------------------------
// Cache

/** A head as the page predicts with it: its predictor, or kNN over the stored examples (the guard's choice). */
type LoadedHead = { info: PredictingHead; /** The backbone it runs on (its own, loaded for it if need be). */ backbone: Backbone; /** Bytes it holds, for the cache budget. */ bytes: number; dispose(): void } & ({ predictor: Predictor; knn?: undefined } | { knn: KnnClassifier; predictor?: undefined });

/**
 * Budget of the page's loaded heads: a fine-tuned MobileNetV2 model holds ~4 MB of weights, a
 * plain head tens of KB, so this keeps several of each.
 */
const PAGE_CACHE_BYTES = 64 * 1024 * 1024;

const cache = new LruCache<LoadedHead>(PAGE_CACHE_BYTES);
let active: Promise<string | null> | null = null;
let watching = false;

const defaultKey = (ref: string): string => `${ref}|default:`;

/**
 * Runs `fn` with the head `options` name (cached; see the module comment), its backbone leased. A
 * head whose backbone was released just before (between its load and this use) is loaded again, once.
 */
async function withHead<R extends Omit<EmbeddingPredictResult, 'head'>>(options: PredictOptions, fn: (head: LoadedHead) => Promise<R>): Promise<R & { head: PredictingHead }> {
  try {
    return await withHeadOnce(options, fn);
  } catch (err) {
    if (!(err instanceof BackboneReleasedError)) throw err;
    cache.evictWhere((_, head) => head?.backbone.ref === err.backbone);
    return withHeadOnce(options, fn);
  }
}

async function withHeadOnce<R extends Omit<EmbeddingPredictResult, 'head'>>(options: PredictOptions, fn: (head: LoadedHead) => Promise<R>): Promise<R & { head: PredictingHead }> {
  watchChanges();
  const ref = currentBackbone().ref;
  const id = options.headId ?? (await activeId());
  const key = id === null ? defaultKey(ref) : `${ref}|${id}`;
  return cache.use(
    key,
    async () => {
      const head = await loadHead(id, options.headId === undefined);
      return { value: head, bytes: head.bytes };
    },
    (head) => withBackboneLease(head.backbone, async () => ({ head: head.info, ...(await fn(head)) })),
  );
}

function activeId(): Promise<string | null> {
  if (!active) {
    const read = openTannerinDb().then(async (db) => (await db.get('settings', 'activeHead'))?.headId ?? null);
    read.catch(() => {
      if (active === read) active = null;
    });
    active = read;
  }
  return active;
}

/** Drops cached entries when heads, the active head or examples change, here or in another tab. */
function watchChanges(): void {
  if (watching) return;
  watching = true;
  // Heads on a backbone just released (e.g. once the prediction that held it ended) go with it.
  onBackboneDisposed((backbone) => cache.evictWhere((_, head) => head?.backbone === backbone));
  onChange((message) => {
    switch (message.type) {
      case 'head-saved':
      case 'head-deleted':
        cache.evictWhere((key) => key.endsWith(`|${message.id}`));
        break;
      case 'active-head-changed':
        active = null;
        // The fallback to the default head is keyed separately; nothing else to drop.
        break;
      case 'examples-changed':
      case 'classes-changed':
        // kNN classifiers are built from the examples (entries still loading may become one).
        cache.evictWhere((_, head) => head?.predictor === undefined);
        break;
      case 'models-updated':
        clearPredictCache();
        break;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Loading heads

/**
 * Head `id`: a personal head, else a default head of that id; with no id, or an active head that
 * has just been deleted, the first default head.
 */
async function loadHead(id: string | null, isActive: boolean): Promise<LoadedHead> {
  if (id !== null) {
    const db = await openTannerinDb();
    const [doc, state] = await Promise.all([db.get('heads', id), db.get('headStates', id)]);
    if (doc) return personalHead(doc, state);
  }
  const defaults = defaultHeads();
  const doc = id === null || isActive ? (defaults.find((d) => d.id === id) ?? defaults[0]) : defaults.find((d) => d.id === id);
  if (!doc) {
    throw new Error(id === null || isActive ? 'no head to predict with: call loadModels() first' : `no head ${id} on this device`);
  }
  return predictorHead(doc, 'default');
}

async function personalHead(doc: HeadDocument, state: HeadStateRecord | undefined): Promise<LoadedHead> {
  // A fine-tuned model's head was trained on the fine-tuned embedding, a crop head's on crops: never kNN on the stored photos' embeddings.
  if (doc.backboneTail === undefined && doc.crop === undefined && state?.predictWith === 'knn' && state.classIds) {
    const knn = await knnHead(doc, state.classIds);
    if (knn) return knn;
  }
  return predictorHead(doc, 'personal');
}

/**
 * A head document, plain or fine-tuned, as a predictor on the backbone it was trained on (as at the
 * edge): the loaded one, or another served one, loaded from its stored files
 * (`BackboneNeededError` when they are not on the device).
 */
async function predictorHead(doc: HeadDocument, kind: PredictingHead['kind']): Promise<LoadedHead> {
  const backbone = await backboneForHead(doc.backbone, doc.name);
  const predictor = await loadPredictor(doc, backbone);
  const fineTuned = predictor.cut !== null;
  return {
    info: { id: doc.id, name: doc.name, kind, predictWith: 'head', backbone: doc.backbone, fineTuned },
    backbone,
    predictor,
    bytes: predictor.weightBytes,
    dispose: () => predictor.dispose(),
  };
}

/**
 * kNN (k = 3, cosine, as the guard measured it) over the stored examples of the head's classes,
 * embedded on the head's backbone (loaded for it if need be), labelled with the head's class names.
 * Null when no such example is left (the caller then predicts with the head itself).
 */
async function knnHead(doc: HeadDocument, classIds: string[]): Promise<LoadedHead | null> {
  const backbone = await backboneForHead(doc.backbone, doc.name);
  const labelOf = new Map(classIds.map((id, i) => [id, doc.classes[i] as string]));
  const examples: Example[] = [];
  for (const [classId, byId] of await storedEmbeddings(doc.backbone, classIds)) {
    const label = labelOf.get(classId);
    if (label === undefined) continue;
    for (const [photoId, views] of byId) views.forEach((embedding, i) => examples.push({ photoId, label, embedding, augmented: i > 0 }));
  }
  // In example id order, as the store keeps them (a stable sort keeps each photo's views in order).
  examples.sort((a, b) => (a.photoId < b.photoId ? -1 : a.photoId > b.photoId ? 1 : 0));
  if (examples.length === 0) return null;
  const knn = fitKnn(examples, backbone.manifest, { k: 3, classes: doc.classes });
  return {
    info: { id: doc.id, name: doc.name, kind: 'personal', predictWith: 'knn', backbone: doc.backbone, fineTuned: false },
    backbone,
    knn,
    // It keeps a unit vector of every example's transformed embedding.
    bytes: examples.length * backbone.manifest.embedding.size * 4,
    dispose: () => undefined,
  };
}
