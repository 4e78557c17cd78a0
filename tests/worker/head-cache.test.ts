/**
 * The per-isolate LRU cache of loaded heads: bounded by bytes, least recently used out first,
 * evicted values disposed, but never while a request is still using them; loads in flight and
 * values evicted while in use are counted, and a load that finds no room waits, then gets a 503.
 */
import { describe, expect, it } from 'vitest';
import { TannerinError } from '../../shared/errors.ts';
import { LruCache } from '../../shared/predict/cache.ts';
import { HEAD_CACHE_BYTES } from '../../worker/inference/model-runtime.ts';

class Fake {
  disposed = 0;
  constructor(readonly name: string) {}
  dispose(): void {
    this.disposed++;
  }
}

function harness(maxBytes: number, waitMs = 50) {
  const cache = new LruCache<Fake>(maxBytes, { waitMs });
  const made = new Map<string, Fake[]>();
  const loads: string[] = [];
  const use = (key: string, bytes: number, fn: (v: Fake) => Promise<unknown> = async () => undefined) =>
    cache.use(
      key,
      async () => {
        loads.push(key);
        const value = new Fake(key);
        made.set(key, [...(made.get(key) ?? []), value]);
        return { value, bytes };
      },
      fn,
      { estimatedBytes: bytes },
    );
  return { cache, made, loads, use };
}

describe('LruCache', () => {
  it('the Worker’s budget is under 32 MB', () => {
    expect(HEAD_CACHE_BYTES).toBeLessThan(32 * 1024 * 1024);
  });

  it('stays within its byte budget, evicting the least recently used and disposing it', async () => {
    const { cache, made, loads, use } = harness(100);
    await use('a', 40);
    await use('b', 40);
    await use('a', 40); // a is now the most recent
    expect(loads).toEqual(['a', 'b']);
    await use('c', 40); // over 100: b goes
    expect(cache.stats).toMatchObject({ entries: 2, bytes: 80, maxBytes: 100 });
    expect(cache.has('b')).toBe(false);
    expect(made.get('b')?.[0]?.disposed).toBe(1);
    expect(made.get('a')?.[0]?.disposed).toBe(0);
    await use('b', 40); // reloaded
    expect(loads).toEqual(['a', 'b', 'c', 'b']);
    expect(cache.stats.bytes).toBeLessThanOrEqual(100);
    for (let i = 0; i < 50; i++) await use(`k${i}`, 30);
    expect(cache.stats.bytes).toBeLessThanOrEqual(100);
    expect(cache.stats.entries).toBe(3);
    const all = [...made.values()].flat();
    expect(all.filter((v) => v.disposed === 0).length).toBe(3); // only what is cached is alive
    expect(all.every((v) => v.disposed <= 1)).toBe(true);
  });

  it('does not dispose a value a request is still using; disposes it when that request ends, counting it until then', async () => {
    const { cache, made, use } = harness(100);
    let release = () => {};
    const held = use('a', 40, () => new Promise<void>((r) => (release = r)));
    await new Promise((r) => setTimeout(r, 0));
    await use('b', 40);
    cache.clear(); // evicts a while it is in use (b is idle: disposed now)
    expect(made.get('a')?.[0]?.disposed).toBe(0);
    expect(made.get('b')?.[0]?.disposed).toBe(1);
    expect(cache.stats).toMatchObject({ entries: 0, bytes: 40 }); // a still holds its memory
    release();
    await held;
    expect(made.get('a')?.[0]?.disposed).toBe(1);
    expect(cache.stats.bytes).toBe(0);
  });

  it('counts a load in flight, and never evicts it', async () => {
    const cache = new LruCache<Fake>(100, { waitMs: 50 });
    let finish = (_: { value: Fake; bytes: number }) => {};
    const loading = cache.use('slow', () => new Promise((r) => (finish = r)), async (v) => v.name, { estimatedBytes: 70 });
    await new Promise((r) => setTimeout(r, 0));
    expect(cache.stats.bytes).toBe(70);
    // No room for another 70 while it loads: waits, then 503 with Retry-After.
    const refused = await cache.use('other', async () => ({ value: new Fake('other'), bytes: 70 }), async () => 'ran', { estimatedBytes: 70 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TannerinError);
    expect((refused as TannerinError).code).toBe('model_unavailable');
    expect((refused as TannerinError).status).toBe(503);
    expect((refused as TannerinError).headers['retry-after']).toBe('1');
    finish({ value: new Fake('slow'), bytes: 60 });
    expect(await loading).toBe('slow');
    expect(cache.stats).toMatchObject({ entries: 1, bytes: 60, refused: 1 });
    expect(cache.stats.peakBytes).toBeLessThanOrEqual(100);
  });

  it('under concurrency the counted bytes never pass the budget: loads wait for room, or get a 503', async () => {
    const { cache, made, use } = harness(100, 200);
    const hold = () => new Promise<void>((r) => setTimeout(r, 20));
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => use(`k${i}`, 45, hold)));
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const busy = results.filter((r) => r.status === 'rejected' && (r.reason as TannerinError).code === 'model_unavailable').length;
    expect(ok + busy).toBe(8);
    expect(ok).toBeGreaterThanOrEqual(2); // two fit at once; the rest waited for them
    expect(cache.stats.peakBytes).toBeLessThanOrEqual(100);
    expect(cache.stats.bytes).toBeLessThanOrEqual(100);
    const alive = [...made.values()].flat().filter((v) => v.disposed === 0);
    expect(alive.length).toBe(cache.stats.entries);
  });

  it('a waiting load gets in as soon as a request ends', async () => {
    const { cache, use } = harness(100, 5_000);
    let release = () => {};
    const held = use('a', 60, () => new Promise<void>((r) => (release = r)));
    await new Promise((r) => setTimeout(r, 0));
    const waiting = use('b', 60, async (v) => v.name);
    await new Promise((r) => setTimeout(r, 10));
    expect(cache.has('b')).toBe(false); // still waiting for room
    release();
    await held;
    expect(await waiting).toBe('b');
    expect(cache.stats).toMatchObject({ entries: 1, bytes: 60, refused: 0 });
    expect(cache.stats.peakBytes).toBeLessThanOrEqual(100);
  });

  it('serves but does not keep a value larger than the whole budget, once nothing else is counted', async () => {
    const { cache, made, use } = harness(50);
    await use('small', 10);
    const result = await use('huge', 60, async (v) => v.name);
    expect(result).toBe('huge');
    expect(cache.has('huge')).toBe(false);
    expect(cache.has('small')).toBe(false); // idle: evicted to make what room there is
    expect(made.get('huge')?.[0]?.disposed).toBe(1);
    expect(cache.stats.bytes).toBe(0);
  });

  it('evictWhere drops the entries its test picks by key or value (a load in flight included) and keeps the rest', async () => {
    const { cache, made, use } = harness(1000);
    await use('keep', 10);
    await use('drop-by-key', 10);
    await use('drop-by-value', 10);
    let finish = (_: { value: Fake; bytes: number }) => {};
    const loading = cache.use('loading', () => new Promise((r) => (finish = r)), async (v) => v.name, { estimatedBytes: 10 });
    await new Promise((r) => setTimeout(r, 0));
    const seen = new Map<string, string | undefined>();
    cache.evictWhere((key, value) => {
      seen.set(key, value?.name);
      return key === 'drop-by-key' || value?.name === 'drop-by-value' || value === undefined;
    });
    expect(seen).toEqual(new Map([['keep', 'keep'], ['drop-by-key', 'drop-by-key'], ['drop-by-value', 'drop-by-value'], ['loading', undefined]]));
    expect(['keep', 'drop-by-key', 'drop-by-value', 'loading'].map((k) => cache.has(k))).toEqual([true, false, false, false]);
    expect(made.get('keep')?.[0]?.disposed).toBe(0);
    expect(made.get('drop-by-key')?.[0]?.disposed).toBe(1);
    expect(made.get('drop-by-value')?.[0]?.disposed).toBe(1);
    // The load in flight still serves its request, then is disposed and no longer counted.
    const late = new Fake('loading');
    finish({ value: late, bytes: 10 });
    expect(await loading).toBe('loading');
    expect(late.disposed).toBe(1);
    expect(cache.stats).toMatchObject({ entries: 1, bytes: 10 });
  });

  it('shares one load between concurrent requests and forgets a failed load', async () => {
    const cache = new LruCache<Fake>(100);
    let loads = 0;
    const load = async () => {
      loads++;
      await new Promise((r) => setTimeout(r, 5));
      return { value: new Fake('x'), bytes: 10 };
    };
    const [a, b] = await Promise.all([cache.use('x', load, async (v) => v), cache.use('x', load, async (v) => v)]);
    expect(a).toBe(b);
    expect(loads).toBe(1);
    await expect(cache.use('bad', () => Promise.reject(new Error('boom')), async () => 1)).rejects.toThrow('boom');
    expect(cache.has('bad')).toBe(false);
    expect(await cache.use('bad', load, async () => 2)).toBe(2);
  });
});
