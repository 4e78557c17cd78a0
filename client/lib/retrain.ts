/**
 * The retraining that follows corrections (client/lib/correct.ts) and labels given when the app
 * asked (client/lib/asking.ts): the photo is stored at once, and the model is retrained in the
 * background, one training at a time (client/lib/training-lock.ts).
 *
 * Corrections coalesce: while a retraining of a head is waiting for its turn (another training
 * runs: the Train button, improve, a retraining in another tab), every further correction joins it
 * and gets the same report; once it has started (and read the examples), the next correction
 * queues a new one, which reads the examples after this one stored its head. So every correction
 * takes part in the retraining it waits for, and a burst of them costs one retraining after the
 * one running.
 */
import { retrainHeld, type TrainReport } from './train.ts';
import { withTrainingLock } from './training-lock.ts';

/** Retrainings asked for and not started yet, by head id ('' for the active head). */
const waiting = new Map<string, Promise<TrainReport>>();
let started = 0;

/**
 * The retraining of head `headId` (default: the active head when it starts) that the examples
 * stored now will take part in: the one waiting for its turn, else a new one (module comment).
 * Settles when the retrained head is stored and in use, or the guard kept the previous one (the
 * report says which); rejects only on failure (e.g. fewer than two classes with photos).
 */
export function retrainSoon(headId?: string): Promise<TrainReport> {
  const key = headId ?? '';
  const queued = waiting.get(key);
  if (queued) return queued;
  const run = withTrainingLock(async () => {
    // Started: from here on it reads the examples, so a later correction needs the next one.
    waiting.delete(key);
    started++;
    return retrainHeld(headId);
  });
  waiting.set(key, run);
  // A caller may ignore the promise; its failure is theirs to read, not an unhandled rejection.
  run.catch(() => {
    if (waiting.get(key) === run) waiting.delete(key);
  });
  return run;
}

/** Retrainings started in this page since it loaded (tests: corrections coalesce). */
export function retrainingsStarted(): number {
  return started;
}
