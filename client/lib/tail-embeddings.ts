/**
 * The embeddings a fine-tuned model's head reads, for the stored examples: what a correction's
 * retraining of a fine-tuned model (a head document with a `backboneTail`, made by `improve()`)
 * trains its head on (client/lib/train.ts, issue 18 pt 1). The tail stays as it is; only the head
 * retrains, on these.
 *
 * Each example view goes through the frozen backbone to the model's cut and then through its
 * personal tail, as a prediction with that model does (shared/predict/predictor.ts `frozenPass`,
 * `embed`): the stored 299-px copy for view 0 and its augmented views from the example's
 * `augmentSeed` (the views Train's embeddings come from), as `improve()` fine-tuned on copies.
 *
 * That is one backbone pass per view, so the results are kept in memory per tail (its identity: a
 * SHA-256 of the tail's cut and weights, on a backbone) and per view (example id, view index): a
 * photo's copy and seed never change, so a view's embedding through a given tail never does
 * either, and a second correction passes only the photos new since the first. A retrained model
 * keeps its tail, so its cache carries over; `improve()` fills it for the fine-tuned model it keeps
 * ({@link rememberTailEmbeddings}), from the cut activations it computed anyway; after a reload,
 * `warmCorrections()` fills it in the background ({@link warmTailEmbeddings}). Bounded ({@link TAIL_CACHE_LIMITS}): the tails used
 * least recently go first, then a tail's oldest views. Nothing is stored in IndexedDB.
 */
import type { BackboneTail, HeadDocument } from '../../shared/head/document.ts';
import { augmentedView } from '../../shared/image/augment.ts';
import { preprocess } from '../../shared/image/preprocess.ts';
import type { Example } from '../../shared/learn/examples.ts';
import type { Backbone } from '../../shared/model/backbone.ts';
import { loadPredictor, type FrozenActivations, type Predictor } from '../../shared/predict/predictor.ts';
import { sha256Hex } from '../../shared/util/hash.ts';
import { yieldToEventLoop } from '../../shared/util/yield.ts';
import { BackboneReleasedError, leaseBackbone } from './current-backbone.ts';
import { openTannerinDb } from './db.ts';
import { photoPixels } from './examples.ts';

/**
 * The cache's bounds: tails kept, and views kept per tail (MobileNetV2's 2,816 floats a view: 4,000
 * views are 45 MB; 50 photos with 3 views each are 200).
 */
export const TAIL_CACHE_LIMITS = { tails: 2, views: 4000 };

/** Per tail identity (least recently used first): view key -> embedding through that tail. */
const cache = new Map<string, Map<string, Float32Array>>();

/** What {@link tailExamples} gives: the examples with their embeddings through the tail, and the work it took. */
export interface TailExamples {
  /** The same examples, in order, each with the embedding the fine-tuned head reads. Examples whose record is gone are left out. */
  examples: Example[];
  /** Views passed through the backbone and the tail now. */
  computed: number;
  /** Views read from the cache. */
  cached: number;
}

/**
 * The identity of a fine-tuned model's tail on a backbone: a hex SHA-256 of the backbone's ref and
 * the tail's cut, topology and weights (a retrained head keeping its tail keeps its identity).
 */
export async function tailIdentity(backboneRef: string, tail: BackboneTail): Promise<string> {
  const { weightData, ...rest } = tail;
  return sha256Hex(`${backboneRef}\n${JSON.stringify(rest)}\n${weightData}`);
}

/** `doc`'s tail identity on `backbone` ({@link tailIdentity}); throws for a head without a tail. */
function identityOf(backbone: Backbone, doc: HeadDocument): Promise<string> {
  if (!doc.backboneTail) throw new Error(`head ${doc.id} is not fine-tuned: it has no tail to embed through`);
  return tailIdentity(backbone.ref, doc.backboneTail);
}

/**
 * `examples` (as `trainingSet` gives them: each photo's views together, view 0 first) with their
 * embeddings through `doc`'s tail on `backbone` (module comment), from the cache where it has
 * them. `doc` must be fine-tuned and run on `backbone` (the predictor checks its cut).
 */
export async function tailExamples(backbone: Backbone, doc: HeadDocument, examples: readonly Example[]): Promise<TailExamples> {
  const identity = await identityOf(backbone, doc);
  const keys = viewKeys(examples);
  let predictor: Predictor | undefined;
  try {
    // In turn with a warm-up's chunk ({@link warmTailEmbeddings}): what it has done is read from the cache, the rest computed here.
    const { computed, missing, gone } = await inTurn(async () => embedMissing(backbone, viewsOf(identity), keys, async () => (predictor ??= await loadPredictor(doc, backbone))));
    const views = viewsOf(identity);
    const out: Example[] = [];
    examples.forEach((e, i) => {
      const embedding = views.get((keys[i] as ViewKey).key);
      if (embedding) out.push({ ...e, embedding });
      else if (!gone.has(e.photoId)) throw new Error(`no embedding through the tail for ${e.photoId}`);
    });
    // Bounded after the lookups: this call's views are all used, even beyond the limit.
    trim(views);
    return { examples: out, computed, cached: keys.length - missing };
  } finally {
    predictor?.dispose();
  }
}

/** What {@link warmTailEmbeddings} did. */
export interface TailWarmUp {
  /** Views passed through the backbone and the tail now. */
  computed: number;
  /** Whether it stopped before the end (`keepGoing` said so, or the backbone was released). */
  stopped: boolean;
}

/**
 * Fills the cache with `examples`' embeddings through `doc`'s tail ahead of a correction (the first
 * correction after a reload then computes only its new photo's views): a few photos at a time
 * (`photosPerChunk`, default 2), each chunk holding a lease on `backbone` and taking its turn with a
 * correction's {@link tailExamples} (neither computes a view the other has), the event loop getting a
 * turn between views and chunks. Asks `keepGoing` before each chunk; stops when it says no or the
 * backbone was released. `doc` must be fine-tuned and run on `backbone`.
 */
export async function warmTailEmbeddings(
  backbone: Backbone,
  doc: HeadDocument,
  examples: readonly Example[],
  options: { keepGoing: () => Promise<boolean>; photosPerChunk?: number },
): Promise<TailWarmUp> {
  const identity = await identityOf(backbone, doc);
  const keys = viewKeys(examples);
  const photos = [...new Set(keys.map((k) => k.photoId))];
  const per = Math.max(1, options.photosPerChunk ?? 2);
  let predictor: Predictor | undefined;
  let computed = 0;
  try {
    for (let i = 0; i < photos.length; i += per) {
      await yieldToEventLoop();
      if (!(await options.keepGoing())) return { computed, stopped: true };
      const chunk = new Set(photos.slice(i, i + per));
      const chunkKeys = keys.filter((k) => chunk.has(k.photoId));
      let end: () => void;
      try {
        end = leaseBackbone(backbone);
      } catch (error) {
        if (error instanceof BackboneReleasedError) return { computed, stopped: true };
        throw error;
      }
      try {
        const done = await inTurn(async () => embedMissing(backbone, viewsOf(identity), chunkKeys, async () => (predictor ??= await loadPredictor(doc, backbone))));
        computed += done.computed;
      } finally {
        end();
      }
    }
    trim(viewsOf(identity));
    return { computed, stopped: false };
  } finally {
    predictor?.dispose();
  }
}

/** A view of an example: its photo, its index among the photo's views (0: the copy), and its cache key. */
interface ViewKey {
  photoId: string;
  index: number;
  key: string;
}

/** The view keys of `examples` (each photo's views together, view 0 first), in order. */
function viewKeys(examples: readonly { photoId: string }[]): ViewKey[] {
  const counts = new Map<string, number>();
  return examples.map((e) => {
    const index = counts.get(e.photoId) ?? 0;
    counts.set(e.photoId, index + 1);
    return { photoId: e.photoId, index, key: `${e.photoId}#${index}` };
  });
}

/** One at a time: a correction's and a warm-up's computing (so a view is never computed twice). */
let turn: Promise<unknown> = Promise.resolve();

/** Runs `job` after every job queued before it has settled. */
function inTurn<T>(job: () => Promise<T>): Promise<T> {
  const run = turn.then(job, job);
  turn = run.catch(() => undefined);
  return run;
}

/**
 * Computes the views of `keys` that `views` lacks (read in the caller's turn, so none is computed
 * twice) and puts them there. Returns how many it computed, how many were missing, and the photos whose record is gone.
 */
async function embedMissing(
  backbone: Backbone,
  views: Map<string, Float32Array>,
  keys: readonly ViewKey[],
  predictorFor: () => Promise<Predictor>,
): Promise<{ computed: number; missing: number; gone: Set<string> }> {
  const missing = new Map<string, number[]>();
  for (const k of keys) if (!views.has(k.key)) missing.set(k.photoId, [...(missing.get(k.photoId) ?? []), k.index]);
  const missingViews = [...missing.values()].reduce((a, v) => a + v.length, 0);
  let computed = 0;
  const gone = new Set<string>();
  if (!missing.size) return { computed, missing: missingViews, gone };
  const predictor = await predictorFor();
  const db = await openTannerinDb();
  for (const [photoId, indices] of missing) {
    const record = await db.get('examples', photoId);
    if (!record) {
      // Deleted since the examples were read: it takes no part.
      gone.add(photoId);
      continue;
    }
    const pixels = await photoPixels(record.photo);
    const frozen: FrozenActivations[] = [];
    for (const index of indices) {
      // A turn for the page between backbone passes (the person is using it meanwhile).
      await yieldToEventLoop();
      const view = index === 0 ? pixels : augmentedView(pixels, index - 1, { seed: record.augmentSeed });
      frozen.push(await predictor.frozenPass(preprocess(view, backbone.manifest.normalization)));
    }
    for (const [i, index] of indices.entries()) views.set(`${photoId}#${index}`, await predictor.embed(frozen[i] as FrozenActivations));
    computed += indices.length;
  }
  return { computed, missing: missingViews, gone };
}

/**
 * Puts in the cache the embeddings through `doc`'s tail of views whose frozen passes are at hand
 * (`improve()` computed every stored copy's and its views' cut activations to fine-tune): the
 * first correction of the model it kept then passes no photo through the backbone again. `views`
 * as `tailExamples` takes examples: each photo's views together, view 0 (the copy) first.
 */
export async function rememberTailEmbeddings(backbone: Backbone, doc: HeadDocument, views: readonly { photoId: string; cut: Float32Array; embedding: Float32Array }[]): Promise<void> {
  const tail = doc.backboneTail;
  if (!tail || views.length === 0) return;
  const cached = viewsOf(await tailIdentity(backbone.ref, tail));
  const keys = viewKeys(views);
  const predictor = await loadPredictor(doc, backbone);
  try {
    for (const [i, v] of views.entries()) {
      cached.set((keys[i] as ViewKey).key, await predictor.embed(v));
      await yieldToEventLoop();
    }
  } finally {
    predictor.dispose();
  }
  trim(cached);
}

/** Forgets every cached embedding (tests; a page that needs the memory back). */
export function clearTailEmbeddings(): void {
  cache.clear();
}

/** Views cached now, per tail (tests: the cache is bounded and reused). */
export function tailEmbeddingsCached(): number[] {
  return [...cache.values()].map((v) => v.size);
}

/** The views cached for a tail identity, made the most recently used (older tails beyond the limit go). */
function viewsOf(identity: string): Map<string, Float32Array> {
  const views = cache.get(identity) ?? new Map<string, Float32Array>();
  cache.delete(identity);
  cache.set(identity, views);
  for (const old of cache.keys()) {
    if (cache.size <= TAIL_CACHE_LIMITS.tails) break;
    cache.delete(old);
  }
  return views;
}

/** Drops a tail's oldest views beyond the limit (a Map iterates in insertion order). */
function trim(views: Map<string, Float32Array>): void {
  for (const key of views.keys()) {
    if (views.size <= TAIL_CACHE_LIMITS.views) break;
    views.delete(key);
  }
}
