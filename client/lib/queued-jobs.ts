/**
 * Waiting for a background job per photo (the augmented views, the feature-map crops, the detector
 * crops: pending-views.ts, pending-crops.ts, detector-crops.ts), as Train does before it trains.
 */

/**
 * Queues `job(id)` for each id and resolves when all are done, reporting `onProgress(done, total)`
 * as each ends. An abort of `signal` rejects at once with its reason and stops the wait only: the
 * jobs go on in the background (the photo's own queue runs them).
 */
export async function awaitQueuedJobs(
  ids: readonly string[],
  job: (id: string) => Promise<unknown>,
  options: { signal?: AbortSignal | undefined; onProgress?: ((done: number, total: number) => void) | undefined } = {},
): Promise<void> {
  const { signal, onProgress } = options;
  let done = 0;
  onProgress?.(0, ids.length);
  const all = Promise.all(ids.map((id) => job(id).then(() => onProgress?.(++done, ids.length))));
  if (!signal) {
    await all;
    return;
  }
  let stop: () => void = () => undefined;
  const aborted = new Promise<never>((_, reject) => {
    stop = () => reject(signal.reason as Error);
    signal.addEventListener('abort', stop, { once: true });
  });
  try {
    await Promise.race([all, aborted]);
  } finally {
    signal.removeEventListener('abort', stop);
  }
}
