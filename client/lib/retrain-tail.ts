/**
 * A correction's retraining of a fine-tuned model (a head document with a `backboneTail`, made by
 * `improve()`; issue 18 pt 1): the tail stays as it is, frozen now, and only the head retrains, on
 * the embeddings the tail gives (client/lib/tail-embeddings.ts, cached per tail), from the
 * fine-tuned model's own head (a warm start, shared/learn/warm-start.ts: on the tail's embeddings
 * that head is a plain softmax head). The guard judges it as any retraining (shared/learn/train-app.ts),
 * all of it on the tail's embeddings: the new head, kNN, and the previous head when it can be
 * compared fairly (through its judged twin, which a retraining here stores without the tail: it
 * reads the same tail as the head it judges, and a head state need not hold 5 MB of tail twice).
 *
 * When the guard prefers kNN, the tail gives way: this device predicts a fine-tuned model with its
 * head only (client/lib/predict.ts), so the model is retrained as Train retrains it, a plain head on
 * the frozen embeddings judged again by the guard (which may choose kNN there); the report says so
 * (`TrainReport.fineTuned`). So does a model on another backbone than the loaded one, or a tail
 * that cannot run on it.
 */
import type { HeadDocument } from '../../shared/head/document.ts';
import { trainAndGuard, type PreviousHead, type TrainAndGuardOptions } from '../../shared/learn/train-app.ts';
import type { Example } from '../../shared/learn/examples.ts';
import type { Backbone } from '../../shared/model/backbone.ts';
import type { HeadStateRecord } from './db.ts';
import { knnBeatHead, type Retrained } from './retrain-guard.ts';
import { tailExamples } from './tail-embeddings.ts';

/** How a correction's retraining of a fine-tuned model went (`TrainReport.fineTuned`). */
export interface TailRetraining {
  /** Whether the model in use keeps the tail: the head retrained on it (or the guard kept the previous fine-tuned model). */
  kept: boolean;
  /** Why the model was retrained as a plain head on the frozen embeddings instead, when it was. */
  reason?: string;
  /** Example views passed through the backbone and the tail now, and read from the cache. */
  viewsComputed: number;
  viewsCached: number;
  /** Milliseconds spent on the tail's embeddings. */
  embedMs: number;
}

/**
 * Retrains fine-tuned `previous`'s head on its tail (module comment), with the options of the
 * training (`common`: classes, id, name, seed...). `trained` is the result to store, its documents
 * carrying the tail; absent when the model is to be retrained as a plain head (`report.reason`).
 */
export async function retrainOnTail(
  backbone: Backbone,
  examples: readonly Example[],
  previous: HeadDocument,
  previousState: HeadStateRecord | undefined,
  common: TrainAndGuardOptions,
): Promise<Retrained<TailRetraining>> {
  const tail = previous.backboneTail;
  const none = { viewsComputed: 0, viewsCached: 0, embedMs: 0 };
  if (!tail) throw new Error(`head ${previous.id} is not fine-tuned`);
  if (previous.backbone !== backbone.ref) {
    return { report: { kept: false, reason: `the fine-tuned model runs on ${previous.backbone}, not on the loaded ${backbone.ref}: retrained as a plain head on the frozen embeddings`, ...none } };
  }
  const t0 = performance.now();
  let onTail: Awaited<ReturnType<typeof tailExamples>>;
  try {
    onTail = await tailExamples(backbone, previous, examples);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return { report: { kept: false, reason: `its tail could not embed the photos (${why}): retrained as a plain head on the frozen embeddings`, ...none } };
  }
  const work = { viewsComputed: onTail.computed, viewsCached: onTail.cached, embedMs: performance.now() - t0 };

  // On the tail's embeddings, the fine-tuned model's head is a plain head: the warm start and the guard's previous head.
  // Its judged twin (a retraining here stored it without the tail: the same as the head's, 5 MB not
  // stored twice) too; a twin with a tail of its own cannot be judged on these embeddings.
  const judged = previousState?.judged;
  const previousHead: PreviousHead = {
    doc: withoutTail(previous),
    trainedOn: previousState?.trainedOn ?? null,
    ...(judged && judged.doc.backboneTail === undefined ? { judged } : {}),
  };
  const trained = await trainAndGuard(onTail.examples, { ...common, previous: previousHead, initial: withoutTail(previous) });
  if (trained.outcome === 'knn') {
    const why = knnBeatHead(trained, { knnOn: 'the fine-tuned embeddings', head: 'the head on the tail', model: 'a fine-tuned model' });
    return { report: { kept: false, reason: `${why}: retrained as a plain head on the frozen embeddings, as Train does`, ...work } };
  }
  // The model stored keeps the tail; its judged twin (`heldOutDoc`, kept in the head's state) is stored without it (above).
  trained.training.doc = { ...trained.training.doc, backboneTail: tail };
  return { trained, report: { kept: true, ...work } };
}

/** The document's head alone, as a plain head on the tail's embeddings. */
function withoutTail(doc: HeadDocument): HeadDocument {
  const { backboneTail: _tail, ...head } = doc;
  return head;
}
