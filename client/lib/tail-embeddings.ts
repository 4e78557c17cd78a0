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
 * ({@link rememberTailEmbeddings}), from the cut activations it computed anyway. Bounded ({@link TAIL_CACHE_LIMITS}): the tails used
 * least recently go first, then a tail's oldest views. Nothing is stored in IndexedDB.
 */
import type { BackboneTail, HeadDocument } from '../../shared/head/document.ts';
import { augmentedView } from '../../shared/image/augment.ts';
import { preprocess } from '../../shared/image/preprocess.ts';
import type { Example } from '../../shared/learn/examples.ts';
import type { Backbone } from '../../shared/model/backbone.ts';
import { loadPredictor, type FrozenActivations } from '../../shared/predict/predictor.ts';
import { yieldToEventLoop } from '../../shared/util/yield.ts';
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
  const bytes = new TextEncoder().encode(`${backboneRef}\n${JSON.stringify(rest)}\n${weightData}`);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * `examples` (as `trainingSet` gives them: each photo's views together, view 0 first) with their
 * embeddings through `doc`'s tail on `backbone` (module comment), from the cache where it has
 * them. `doc` must be fine-tuned and run on `backbone` (the predictor checks its cut).
 */
export async function tailExamples(backbone: Backbone, doc: HeadDocument, examples: readonly Example[]): Promise<TailExamples> {
  const tail = doc.backboneTail;
  if (!tail) throw new Error(`head ${doc.id} is not fine-tuned: it has no tail to embed through`);
  const views = viewsOf(await tailIdentity(backbone.ref, tail));
  // View index of each example: its place among its photo's views.
  const counts = new Map<string, number>();
  const keys = examples.map((e) => {
    const index = counts.get(e.photoId) ?? 0;
    counts.set(e.photoId, index + 1);
    return { photoId: e.photoId, index, key: `${e.photoId}#${index}` };
  });
  const missing = new Map<string, number[]>();
  for (const k of keys) if (!views.has(k.key)) missing.set(k.photoId, [...(missing.get(k.photoId) ?? []), k.index]);
  const cached = keys.length - [...missing.values()].reduce((a, v) => a + v.length, 0);
  let computed = 0;
  const gone = new Set<string>();
  if (missing.size) {
    const predictor = await loadPredictor(doc, backbone);
    try {
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
    } finally {
      predictor.dispose();
    }
  }
  const out: Example[] = [];
  examples.forEach((e, i) => {
    const embedding = views.get((keys[i] as { key: string }).key);
    if (embedding) out.push({ ...e, embedding });
    else if (!gone.has(e.photoId)) throw new Error(`no embedding through the tail for ${e.photoId}`);
  });
  // Bounded after the lookups: this call's views are all used, even beyond the limit.
  trim(views);
  return { examples: out, computed, cached };
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
  const predictor = await loadPredictor(doc, backbone);
  try {
    const counts = new Map<string, number>();
    for (const v of views) {
      const index = counts.get(v.photoId) ?? 0;
      counts.set(v.photoId, index + 1);
      cached.set(`${v.photoId}#${index}`, await predictor.embed(v));
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
