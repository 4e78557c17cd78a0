/**
 * The index of the heads the operator published (D1 `published_heads`), cached per isolate so
 * that an anonymous default-head prediction and `GET /v1/models` cost no D1 query in the steady
 * state: one `SELECT` per isolate per {@link PUBLISHED_INDEX_TTL_MS} at most, shared by the
 * requests that arrive while it runs.
 *
 * Staleness: the isolate that publishes or unpublishes drops its own copy at once (the operator
 * routes call {@link PublishedIndex.invalidate}); every other isolate sees the change within the
 * TTL. A request that meets files deleted under a stale row (a replaced or deleted version) also
 * drops the copy, so the next request reads the index afresh.
 *
 * Writes never trust this copy: the operator routes read the row they compare-and-swap from D1.
 */
import { listPublished, type PublishedRow } from '../store/published.ts';

/** How long an isolate keeps its copy of the index: the bound on what other isolates see late. */
export const PUBLISHED_INDEX_TTL_MS = 30_000;

/** One isolate's copy of the published-head index. */
export class PublishedIndex {
  readonly #now: () => number;
  readonly #ttlMs: number;
  #cached: { rows: Promise<PublishedRow[]>; loadedAt: number } | null = null;

  /** `now` is the app's clock (tests inject theirs to cross the TTL). */
  constructor(now: () => number, ttlMs = PUBLISHED_INDEX_TTL_MS) {
    this.#now = now;
    this.#ttlMs = ttlMs;
  }

  /** Every published head, by name: the cached copy while it is younger than the TTL. */
  list(db: D1Database): Promise<PublishedRow[]> {
    const now = this.#now();
    const cached = this.#cached;
    // A clock that went backwards (an injected one) also refreshes.
    if (cached && now >= cached.loadedAt && now - cached.loadedAt < this.#ttlMs) return cached.rows;
    const entry = { rows: listPublished(db), loadedAt: now };
    this.#cached = entry;
    // A failed read is not kept: the next request tries again.
    entry.rows.catch(() => {
      if (this.#cached === entry) this.#cached = null;
    });
    return entry.rows;
  }

  /** The published head of this name, or null. */
  async find(db: D1Database, name: string): Promise<PublishedRow | null> {
    return (await this.list(db)).find((row) => row.name === name) ?? null;
  }

  /** Drops the copy: the next read goes to D1. */
  invalidate(): void {
    this.#cached = null;
  }
}
