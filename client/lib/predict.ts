/**
 * Predictions on the device, offline: the active personal head (or the head named), or kNN over
 * the stored examples when the guard chose kNN for that head; with no personal head, the
 * manifest's default head (stored with the backbone by `loadModels`).
 *
 * Loaded heads are cached per page and dropped when a head is saved or deleted, here or in another
 * tab (the next prediction loads the stored version); kNN classifiers are dropped when examples
 * change. A head being used by a prediction in flight is disposed only once that prediction is
 * done. Tensors: embedding and head run inside `tf.tidy` (shared/model/backbone.ts,
 * shared/predict/head-runner.ts) and kNN is plain JavaScript, so the tensor count stays flat.
 *
 * A fine-tuned model (a head with a `backboneTail`) runs through shared/predict/tail-runner.ts, the same
 * runtime as the Worker's: the frozen backbone to the cut, its own top layers, its head. It needs
 * the photo (`predict`); `predictEmbedding` cannot use it and says so.
 */
import type { Prediction } from '../../shared/api.ts';
import type { Example } from '../../shared/learn/examples.ts';
import type { HeadDocument } from '../../shared/head/document.ts';
import { loadHead } from '../../shared/predict/head-runner.ts';
import { fitKnn } from '../../shared/learn/knn.ts';
import { preprocess, type RgbaPixels } from '../../shared/image/preprocess.ts';
import { loadTailedHead } from '../../shared/predict/tail-runner.ts';
import { currentBackbone, defaultHeads } from './current-backbone.ts';
import { onChange } from './changes.ts';
import { openTannerinDb, type HeadStateRecord } from './db.ts';
import { embed, pixelsOf, type EmbedSource } from './embed.ts';

/** Options for {@link predict}. */
export interface PredictOptions {
  /** A personal head's id, or a default head's id (e.g. `content-safety`). Default: the active head. */
  headId?: string;
  /** Only the best `top` classes (default: all). */
  top?: number;
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

/** What {@link predict} answers. */
export interface PredictResult {
  head: PredictingHead;
  /** Descending scores. */
  predictions: Prediction[];
}

/** Labels and scores for a photo (see the module comment). Needs `loadModels` first. */
export async function predict(source: EmbedSource, options: PredictOptions = {}): Promise<PredictResult> {
  return withRunner(options, async (runner) =>
    runner.predictPixels ? runner.predictPixels(await pixelsOf(source), options.top) : runner.predict(await embed(source), options.top),
  );
}

/**
 * The same as {@link predict}, for an embedding already computed (e.g. a stored one). A fine-tuned
 * model cannot use one (its own layers start below the embedding): that is an Error saying so.
 */
export async function predictEmbedding(embedding: Float32Array, options: PredictOptions = {}): Promise<PredictResult> {
  return withRunner(options, (runner) => {
    if (runner.predictPixels) {
      throw new Error(`head "${runner.info.name}" is a fine-tuned model: its own copies of the backbone's top layers need the photo, not an embedding; use predict(photo)`);
    }
    return runner.predict(embedding, options.top);
  });
}

/** Runs `fn` with the runner of the head `options` name (cached; see the module comment). */
async function withRunner(options: PredictOptions, fn: (runner: Runner) => Promise<Prediction[]> | Prediction[]): Promise<PredictResult> {
  watchChanges();
  const ref = currentBackbone().ref;
  const id = options.headId ?? (await activeId());
  const key = id === null ? defaultKey(ref) : `${ref}|${id}`;
  let entry = cache.get(key);
  if (!entry) {
    const created: Entry = { runner: buildRunner(id, options.headId === undefined, ref), users: 0, stale: false, predictWith: null };
    created.runner.then(
      (r) => (created.predictWith = r.info.predictWith),
      () => {
        if (cache.get(key) === created) cache.delete(key);
      },
    );
    cache.set(key, created);
    entry = created;
  }
  entry.users++;
  try {
    const runner = await entry.runner;
    return { head: runner.info, predictions: await fn(runner) };
  } finally {
    entry.users--;
    if (entry.stale && entry.users === 0) dispose(entry);
  }
}

/** Drops every cached head and classifier (they reload on the next prediction). */
export function clearPredictCache(): void {
  for (const key of [...cache.keys()]) invalidate(key);
  active = null;
}

// ---------------------------------------------------------------------------------------------
// Cache

/** A loaded way of predicting. */
interface Runner {
  info: PredictingHead;
  predict(embedding: Float32Array, top?: number): Promise<Prediction[]> | Prediction[];
  /** Set for fine-tuned models, which predict from the photo's pixels only. */
  predictPixels?: (pixels: RgbaPixels, top?: number) => Promise<Prediction[]>;
  dispose(): void;
}

interface Entry {
  runner: Promise<Runner>;
  /** Predictions in flight using it. */
  users: number;
  /** Dropped from the cache; dispose once `users` is 0. */
  stale: boolean;
  /** Known once the runner is built. */
  predictWith: PredictingHead['predictWith'] | null;
}

const cache = new Map<string, Entry>();
let active: Promise<string | null> | null = null;
let watching = false;

const defaultKey = (ref: string): string => `${ref}|default:`;

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

function dispose(entry: Entry): void {
  entry.runner.then(
    (r) => r.dispose(),
    () => undefined,
  );
}

function invalidate(key: string): void {
  const entry = cache.get(key);
  if (!entry) return;
  cache.delete(key);
  entry.stale = true;
  if (entry.users === 0) dispose(entry);
}

/** Drops cached entries when heads, the active head or examples change, here or in another tab. */
function watchChanges(): void {
  if (watching) return;
  watching = true;
  onChange((message) => {
    switch (message.type) {
      case 'head-saved':
      case 'head-deleted':
        for (const key of [...cache.keys()]) if (key.endsWith(`|${message.id}`)) invalidate(key);
        break;
      case 'active-head-changed':
        active = null;
        // The fallback to the default head is keyed separately; nothing else to drop.
        break;
      case 'examples-changed':
      case 'classes-changed':
        // kNN classifiers are built from the examples (entries still loading may become one).
        for (const [key, entry] of [...cache.entries()]) if (entry.predictWith !== 'head') invalidate(key);
        break;
      case 'models-updated':
        clearPredictCache();
        break;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Building runners

/**
 * The runner for head `id`: a personal head, else a default head of that id; with no id, or an
 * active head that has just been deleted, the first default head.
 */
async function buildRunner(id: string | null, isActive: boolean, ref: string): Promise<Runner> {
  if (id !== null) {
    const db = await openTannerinDb();
    const [doc, state] = await Promise.all([db.get('heads', id), db.get('headStates', id)]);
    if (doc) return personalRunner(doc, state, ref);
  }
  const defaults = defaultHeads();
  const doc = id === null || isActive ? (defaults.find((d) => d.id === id) ?? defaults[0]) : defaults.find((d) => d.id === id);
  if (!doc) {
    throw new Error(id === null || isActive ? 'no head to predict with: call loadModels() first' : `no head ${id} on this device`);
  }
  return headRunner(doc, 'default', ref);
}

async function personalRunner(doc: HeadDocument, state: HeadStateRecord | undefined, ref: string): Promise<Runner> {
  if (doc.backbone !== ref) {
    throw new Error(
      `head "${doc.name}" was trained on backbone ${doc.backbone}, but ${ref} is loaded: re-embed the examples (reembedAll) and train it again`,
    );
  }
  // Its head was trained on the fine-tuned embedding: never run it on the frozen one.
  if (doc.backboneTail !== undefined) return fineTunedRunner(doc);
  if (state?.predictWith === 'knn' && state.classIds) {
    const knn = await knnRunner(doc, state.classIds, ref);
    if (knn) return knn;
  }
  return headRunner(doc, 'personal', ref);
}

async function headRunner(doc: HeadDocument, kind: PredictingHead['kind'], ref: string): Promise<Runner> {
  const backbone = currentBackbone();
  if (doc.backbone !== ref) throw new Error(`head "${doc.name}" is for backbone ${doc.backbone}, but ${ref} is loaded`);
  const head = await loadHead(doc, backbone.manifest);
  return {
    info: { id: doc.id, name: doc.name, kind, predictWith: 'head', backbone: doc.backbone, fineTuned: false },
    predict: (embedding, top) => head.predict(embedding, top),
    dispose: () => head.dispose(),
  };
}

/** A fine-tuned model, on the loaded backbone (shared/predict/tail-runner.ts, as at the edge). */
async function fineTunedRunner(doc: HeadDocument): Promise<Runner> {
  const backbone = currentBackbone();
  const model = await loadTailedHead(doc, backbone);
  const spec = backbone.manifest.normalization;
  return {
    info: { id: doc.id, name: doc.name, kind: 'personal', predictWith: 'head', backbone: doc.backbone, fineTuned: true },
    predict: () => {
      throw new Error(`head "${doc.name}" is a fine-tuned model: it predicts from photos, not embeddings`);
    },
    predictPixels: (pixels, top) => model.predictPreprocessed(preprocess(pixels, spec), top),
    dispose: () => model.dispose(),
  };
}

/**
 * kNN (k = 3, cosine, as the guard measured it) over the fresh stored examples of the head's
 * classes, labelled with the head's class names. Null when no such example is left (the caller
 * then predicts with the head itself).
 */
async function knnRunner(doc: HeadDocument, classIds: string[], ref: string): Promise<Runner | null> {
  const backbone = currentBackbone();
  const db = await openTannerinDb();
  const labelOf = new Map(classIds.map((id, i) => [id, doc.classes[i] as string]));
  const examples: Example[] = [];
  for (const r of await db.getAll('examples')) {
    const label = labelOf.get(r.classId);
    if (label === undefined || r.backbone !== ref) continue;
    r.embeddings.forEach((embedding, i) => examples.push({ photoId: r.id, label, embedding, augmented: r.views[i]?.augmented ?? i > 0 }));
  }
  if (examples.length === 0) return null;
  const knn = fitKnn(examples, backbone.manifest, { k: 3, classes: doc.classes });
  return {
    info: { id: doc.id, name: doc.name, kind: 'personal', predictWith: 'knn', backbone: doc.backbone, fineTuned: false },
    predict: (embedding, top) => knn.predict(embedding, top),
    dispose: () => undefined,
  };
}
