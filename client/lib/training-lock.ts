/**
 * One training at a time in the whole origin: `train()` (the Train button), a correction's
 * retraining (client/lib/retrain.ts) and `improve()` each hold the Web Lock {@link TRAINING_LOCK}
 * while they read the examples, train and store the head. Why: two trainings at once would each
 * read the examples before the other stored its head, and the later store would win with a head
 * that never saw the other's photos; one after another, each reads what the one before left,
 * so nothing taught meanwhile is lost. Other tabs respect the same lock (Web Locks are per
 * origin: Chromium, Firefox and WebKit have them); where the API is missing, the trainings of
 * this page queue in order instead.
 *
 * Requests are granted in the order they were made, so a training asked for while another runs
 * starts right after it.
 */

/** The Web Lock held while a training reads the examples, trains and stores its head. */
export const TRAINING_LOCK = 'tannerin-training';

/** This page's queue where Web Locks are missing: the end of the last training asked for. */
let tail: Promise<unknown> = Promise.resolve();

/**
 * Runs `job` holding {@link TRAINING_LOCK}, after every training asked for before it (here or in
 * another tab) has ended. `signal` stops the wait (rejects with its reason, an `AbortError`);
 * once the job runs, it is the job's to watch. The job never starts in the caller's turn, so a
 * caller can record the pending job before it runs.
 */
export async function withTrainingLock<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  signal?.throwIfAborted();
  const locks = typeof navigator === 'undefined' ? undefined : navigator.locks;
  if (locks) return (await locks.request(TRAINING_LOCK, signal ? { signal } : {}, job)) as T;
  // Each waiter's turn ends when both the one before it and its own job have ended (an aborted
  // waiter leaves at once, yet the next still waits for the one before).
  const previous = tail;
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  tail = Promise.all([previous, done]);
  try {
    await untilAborted(previous, signal);
    return await job();
  } finally {
    release();
  }
}

/** `wait`, or a rejection with `signal`'s reason once it aborts. */
function untilAborted(wait: Promise<unknown>, signal: AbortSignal | undefined): Promise<unknown> {
  if (!signal) return wait;
  return new Promise((resolve, reject) => {
    const stop = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', stop, { once: true });
    void wait.then((value) => {
      signal.removeEventListener('abort', stop);
      resolve(value);
    });
  });
}
