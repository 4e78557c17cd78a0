/** Giving the event loop a turn between chunks of work, so taps, frames and aborts get through. */

interface Scheduler {
  yield?: () => Promise<void>;
}

/** The part of `MessageChannel` used here, typed alike for the DOM and Node (whose `MessagePort` typing lacks `onmessage`). */
interface Channel {
  port1: { onmessage: (() => void) | null; close(): void };
  port2: { postMessage(message: null): void };
}

/**
 * Resolves after the event loop has had a turn (a task, not a microtask): `scheduler.yield()` where
 * the runtime has it (it resumes ahead of other queued tasks), else a `MessageChannel` message,
 * else a timer. Not a bare `setTimeout(0)`: nested timers are clamped to 4 ms, and a page the
 * browser deems hidden gets its timers throttled to about one a second (WebKit, Chromium), which
 * turns a 15 s training run that yields every 25 ms into many minutes.
 */
export function yieldToEventLoop(): Promise<void> {
  const scheduler = (globalThis as { scheduler?: Scheduler }).scheduler;
  if (typeof scheduler?.yield === 'function') return scheduler.yield();
  if (typeof MessageChannel === 'function') {
    return new Promise((resolve) => {
      const channel = new MessageChannel() as unknown as Channel;
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve();
      };
      channel.port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Gives the event loop a turn ({@link yieldToEventLoop}) at most every `intervalMs` of wall time,
 * for loops whose steps may be far shorter than a turn is worth (a training epoch on a few vectors
 * takes well under a millisecond; a fine-tuning step ~0.2 s, so it yields after every step). In
 * workerd the clock stands still during CPU work, so it never yields there; nothing waits.
 */
export class Yielder {
  private last = performance.now();

  constructor(private readonly intervalMs = 25) {}

  async maybeYield(): Promise<void> {
    if (performance.now() - this.last < this.intervalMs) return;
    await yieldToEventLoop();
    this.last = performance.now();
  }
}
