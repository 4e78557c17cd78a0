/**
 * Warming up the first correction of a fine-tuned model: a correction retrains its head on the
 * embeddings its tail gives every stored view (client/lib/retrain-tail.ts), cached in memory per
 * tail (client/lib/tail-embeddings.ts). `improve()` fills that cache for the model it keeps, but
 * after a reload, or for an imported or synced fine-tuned model, the first correction computed
 * every view (6-9 s with 48 photos in Chromium, against about 1 s for a second one). This computes
 * them in the background beforehand, a few photos at a time, so that correction finds them cached.
 * A plain head needs nothing (a correction reads the stored frozen embeddings).
 */
import { activeHeadId, getHead } from './heads.ts';
import { currentBackboneOrNull } from './current-backbone.ts';
import { trainingSet } from './examples.ts';
import { warmTailEmbeddings } from './tail-embeddings.ts';

/** Options of {@link warmCorrections}. */
export interface WarmCorrectionsOptions {
  /** The model to warm up; default the active one (then the warm-up stops when another becomes active). */
  headId?: string;
  /** Stops the warm-up between chunks (what is done stays cached). */
  signal?: AbortSignal;
}

/** What {@link warmCorrections} did. */
export interface WarmCorrectionsReport {
  /** The model considered (null: no active personal model). */
  headId: string | null;
  /** Whether it is fine-tuned on the loaded backbone (otherwise nothing was done: nothing to warm). */
  fineTuned: boolean;
  /** Example views passed through the backbone and the tail now (the others were cached already). */
  viewsComputed: number;
  /** Whether it stopped before the end: aborted, another model became active, or the backbone was released. */
  stopped: boolean;
  /** Milliseconds it took. */
  ms: number;
}

/**
 * Computes ahead, in the background, what the next correction of the active (or `headId`'s)
 * fine-tuned model would compute first: every stored example view's embedding through its tail
 * (module comment), so that correction passes only its new photo. A few photos at a time, yielding
 * to the page between views (predictions stay responsive); a correction that starts meanwhile
 * reuses what is done and computes the rest (no view twice). Does nothing for a plain head, or a
 * fine-tuned model on another backbone than the loaded one (a correction retrains it as a plain head).
 */
export async function warmCorrections(options: WarmCorrectionsOptions = {}): Promise<WarmCorrectionsReport> {
  const t0 = performance.now();
  const { signal } = options;
  const headId = options.headId ?? (await activeHeadId());
  const done = (fineTuned: boolean, viewsComputed = 0, stopped = false): WarmCorrectionsReport => ({ headId, fineTuned, viewsComputed, stopped, ms: performance.now() - t0 });
  if (headId === null) return done(false);
  const doc = await getHead(headId);
  const backbone = currentBackboneOrNull();
  if (!doc?.backboneTail || !backbone || doc.backbone !== backbone.ref) return done(false);
  if (signal?.aborted) return done(true, 0, true);
  const { examples } = await trainingSet(backbone.ref);
  const keepGoing = async (): Promise<boolean> => !signal?.aborted && (options.headId !== undefined || (await activeHeadId()) === headId);
  const warm = await warmTailEmbeddings(backbone, doc, examples, { keepGoing });
  return done(true, warm.computed, warm.stopped);
}
