/**
 * A least-recently-used cache of loaded heads, bounded by bytes. Loaded heads hold TF.js tensors in
 * the WASM heap, which the isolate shares with the backbone's forward pass, so the cache must stay
 * small and must free what it drops: an evicted head is disposed, but only once no request is
 * still predicting with it (each use holds a reference).
 */

/** Anything the cache can free. */
export interface Disposable {
  dispose(): void;
}

interface Entry<T> {
  promise: Promise<T>;
  value: T | undefined;
  bytes: number;
  /** Requests currently using the value. */
  users: number;
  /** Dropped from the cache; dispose when the last user is done. */
  evicted: boolean;
}

/** Cache statistics, for `/_diag/memory` and tests. */
export interface CacheStats {
  entries: number;
  bytes: number;
  maxBytes: number;
}

/** An LRU cache of disposable values, keyed by string, bounded by the bytes each value reports. */
export class LruCache<T extends Disposable> {
  private readonly entries = new Map<string, Entry<T>>();
  private total = 0;

  constructor(readonly maxBytes: number) {}

  get stats(): CacheStats {
    return { entries: this.entries.size, bytes: this.total, maxBytes: this.maxBytes };
  }

  /** True if `key` is cached (loaded or loading). */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /**
   * Runs `fn` with the value for `key`, loading it with `load` (which reports its size) if it is
   * not cached. Concurrent calls for one key share one load; a failed load is not cached.
   */
  async use<R>(key: string, load: () => Promise<{ value: T; bytes: number }>, fn: (value: T) => Promise<R>): Promise<R> {
    let entry = this.entries.get(key);
    if (entry) {
      // Most recently used goes last: Map iteration order is insertion order.
      this.entries.delete(key);
      this.entries.set(key, entry);
    } else {
      entry = this.startLoad(key, load);
    }
    entry.users++;
    try {
      return await fn(await entry.promise);
    } finally {
      entry.users--;
      if (entry.evicted && entry.users === 0) entry.value?.dispose();
    }
  }

  /** Drops everything not in use and disposes it (values in use are disposed after their use). */
  clear(): void {
    for (const key of [...this.entries.keys()]) this.drop(key);
  }

  private startLoad(key: string, load: () => Promise<{ value: T; bytes: number }>): Entry<T> {
    const state: Omit<Entry<T>, 'promise'> = { value: undefined, bytes: 0, users: 0, evicted: false };
    const promise = load().then(
      ({ value, bytes }) => {
        state.value = value;
        if (this.entries.get(key) !== state) {
          state.evicted = true; // cleared while loading
        } else if (bytes > this.maxBytes) {
          // Larger than the whole cache: serve the waiting requests, keep nothing.
          this.entries.delete(key);
          state.evicted = true;
        } else {
          state.bytes = bytes;
          this.total += bytes;
          this.evictOver(key);
        }
        return value;
      },
      (err: unknown) => {
        if (this.entries.get(key) === state) this.entries.delete(key);
        throw err;
      },
    );
    // The same object, so the identity checks above see the entry.
    const entry = Object.assign(state, { promise });
    this.entries.set(key, entry);
    return entry;
  }

  /** Evicts least recently used loaded entries (never `keep`) until the total fits. */
  private evictOver(keep: string): void {
    for (const [key, entry] of this.entries) {
      if (this.total <= this.maxBytes) return;
      if (key !== keep && entry.value !== undefined) this.drop(key);
    }
  }

  private drop(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.total -= entry.bytes;
    entry.evicted = true;
    if (entry.users === 0) entry.value?.dispose();
  }
}
