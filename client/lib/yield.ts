/** Giving the page a turn between chunks of work, so taps, frames and aborts get through. */

interface Scheduler {
  yield?: () => Promise<void>;
}

/**
 * Resolves after the event loop has had a turn: `scheduler.yield()` where the browser has it (it
 * resumes ahead of other queued tasks, so background work does not fall behind), else a timer.
 */
export function yieldToEventLoop(): Promise<void> {
  const scheduler = (globalThis as { scheduler?: Scheduler }).scheduler;
  if (typeof scheduler?.yield === 'function') return scheduler.yield();
  return new Promise((resolve) => setTimeout(resolve, 0));
}
