/**
 * A least-recently-used cache of loaded heads (predictors, shared/predict/predictor.ts), bounded by
 * bytes, whose budget holds under concurrency; the Worker, the browser library and Node use it.
 * Loaded heads hold TF.js tensors in the WASM heap, which a Worker isolate shares with the
 * backbone's forward pass (and which never shrinks), so the budget counts everything a head holds
 * from the moment its load starts until it is disposed:
 * - a load reserves its estimated bytes before it starts (a load in flight cannot be evicted);
 * - a value evicted while requests still use it keeps counting until the last one is done and it
 *   is disposed;
 * - when in-use and loading entries fill the budget, a new load waits briefly for room, then fails
 *   with 503 `model_unavailable` and `Retry-After` instead of going over.
 */
import { TannerinError } from '../errors.ts';

/** How often a load waiting for room checks again (ms). */
const POLL_MS = 25;

/** Anything the cache can free. */
export interface Disposable {
  dispose(): void;
}

interface Entry<T> {
  promise: Promise<T>;
  value: T | undefined;
  /** Bytes counted against the budget: the reservation while loading, then the value's size. */
  bytes: number;
  /** Requests currently using the value (or waiting for its load). */
  users: number;
  /** Dropped from the cache; dispose (and stop counting) when the last user is done. */
  evicted: boolean;
  /** Disposed and no longer counted. */
  freed: boolean;
}

/** Cache statistics, for `/_diag/memory` and tests. */
export interface CacheStats {
  entries: number;
  /** Bytes counted now: cached, loading (reserved) and evicted-but-in-use values. */
  bytes: number;
  maxBytes: number;
  /** Highest `bytes` ever counted: stays within `maxBytes` unless one value alone is larger. */
  peakBytes: number;
  /** Loads refused for want of room (503). */
  refused: number;
}

/** Settings of a cache. */
export interface LruCacheOptions {
  /** How long a load waits for room before it is refused (ms). Default 2,000. */
  waitMs?: number;
  /** `Retry-After` seconds sent with a refusal. Default 1. */
  retryAfterSeconds?: number;
}

/** An LRU cache of disposable values, keyed by string, bounded by the bytes each value reports. */
export class LruCache<T extends Disposable> {
  private readonly entries = new Map<string, Entry<T>>();
  /** Counted bytes of every live entry, in the cache or evicted but still in use. */
  private counted = 0;
  private peak = 0;
  private refused = 0;
  private readonly waitMs: number;
  private readonly retryAfterSeconds: number;

  constructor(
    readonly maxBytes: number,
    options: LruCacheOptions = {},
  ) {
    this.waitMs = options.waitMs ?? 2_000;
    this.retryAfterSeconds = options.retryAfterSeconds ?? 1;
  }

  get stats(): CacheStats {
    return { entries: this.entries.size, bytes: this.counted, maxBytes: this.maxBytes, peakBytes: this.peak, refused: this.refused };
  }

  /** True if `key` is cached (loaded or loading). */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /**
   * Runs `fn` with the value for `key`, loading it with `load` (which reports its size) if it is
   * not cached. `options.estimatedBytes` (an upper bound of that size) is reserved while it loads; when
   * the budget has no room for it, the call waits up to `waitMs` for requests to finish, then
   * rejects with 503 `model_unavailable`. Concurrent calls for one key share one load; a failed
   * load is not cached.
   */
  async use<R>(key: string, load: () => Promise<{ value: T; bytes: number }>, fn: (value: T) => Promise<R>, options: { estimatedBytes?: number } = {}): Promise<R> {
    const entry = this.entries.get(key) ?? (await this.admit(key, options.estimatedBytes ?? 0, load));
    // Most recently used goes last: Map iteration order is insertion order.
    if (this.entries.get(key) === entry) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    entry.users++;
    try {
      return await fn(await entry.promise);
    } finally {
      entry.users--;
      if (entry.users === 0) {
        if (entry.evicted) this.free(entry);
      }
    }
  }

  /** Drops everything not in use and disposes it (values in use are disposed after their use). */
  clear(): void {
    for (const key of [...this.entries.keys()]) this.drop(key);
  }

  /**
   * Drops the entries `select` picks by key and value (undefined while it loads), as {@link clear}
   * does (a load in flight is disposed when done).
   */
  evictWhere(select: (key: string, value: T | undefined) => boolean): void {
    for (const [key, entry] of [...this.entries]) if (select(key, entry.value)) this.drop(key);
  }

  /** Waits for room for `estimatedBytes`, then starts the load (or joins one started meanwhile). */
  private async admit(key: string, estimatedBytes: number, load: () => Promise<{ value: T; bytes: number }>): Promise<Entry<T>> {
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      const existing = this.entries.get(key);
      if (existing) return existing;
      this.evictIdle(estimatedBytes);
      // A value larger than the whole budget still runs when nothing else is counted.
      if (this.counted + estimatedBytes <= this.maxBytes || this.counted === 0) return this.startLoad(key, estimatedBytes, load);
      const left = deadline - Date.now();
      if (left <= 0) {
        this.refused++;
        throw new TannerinError('model_unavailable', 'The server is busy running other models; try again in a moment.', {
          headers: { 'retry-after': String(this.retryAfterSeconds) },
        });
      }
      // Poll with a timer of this request's own: workerd forbids one request to resolve a
      // promise or clear a timer that another request created.
      await new Promise<void>((resolve) => setTimeout(resolve, Math.min(left, POLL_MS)));
    }
  }

  private startLoad(key: string, reserved: number, load: () => Promise<{ value: T; bytes: number }>): Entry<T> {
    const state: Omit<Entry<T>, 'promise'> = { value: undefined, bytes: reserved, users: 0, evicted: false, freed: false };
    this.count(reserved);
    const promise = load().then(
      ({ value, bytes }) => {
        state.value = value;
        this.count(bytes - state.bytes);
        state.bytes = bytes;
        if (this.entries.get(key) !== state) {
          state.evicted = true; // cleared while loading
        } else if (bytes > this.maxBytes) {
          // Larger than the whole cache: serve the waiting requests, keep nothing.
          this.entries.delete(key);
          state.evicted = true;
        } else {
          this.evictIdle(0, key);
        }
        return value;
      },
      (err: unknown) => {
        if (this.entries.get(key) === state) this.entries.delete(key);
        state.evicted = true;
        this.count(-state.bytes);
        state.bytes = 0;
        state.freed = true;
        throw err;
      },
    );
    // The same object, so the identity checks above see the entry.
    const entry = Object.assign(state, { promise });
    this.entries.set(key, entry);
    return entry;
  }

  /** Evicts least recently used idle loaded entries (never `keep`) until `extra` more bytes fit. */
  private evictIdle(extra: number, keep?: string): void {
    for (const [key, entry] of this.entries) {
      if (this.counted + extra <= this.maxBytes) return;
      if (key !== keep && entry.users === 0 && entry.value !== undefined) this.drop(key);
    }
  }

  private drop(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    entry.evicted = true;
    if (entry.users === 0 && entry.value !== undefined) this.free(entry);
  }

  /** Disposes an evicted value no request uses, and stops counting it. */
  private free(entry: Entry<T>): void {
    if (entry.freed || entry.value === undefined) return;
    entry.freed = true;
    entry.value.dispose();
    this.count(-entry.bytes);
  }

  private count(delta: number): void {
    this.counted += delta;
    if (this.counted > this.peak) this.peak = this.counted;
  }
}
