/**
 * The per-isolate LRU cache of loaded heads: bounded by bytes, least recently used out first,
 * evicted values disposed, but never while a request is still using them.
 */
import { describe, expect, it } from 'vitest';
import { LruCache } from '../../worker/head-cache.ts';
import { HEAD_CACHE_BYTES } from '../../worker/personal-heads.ts';

class Fake {
  disposed = 0;
  constructor(readonly name: string) {}
  dispose(): void {
    this.disposed++;
  }
}

function harness(maxBytes: number) {
  const cache = new LruCache<Fake>(maxBytes);
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
    expect(cache.stats).toEqual({ entries: 2, bytes: 80, maxBytes: 100 });
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

  it('does not dispose a value a request is still using; disposes it when that request ends', async () => {
    const { made, use } = harness(50);
    let release = () => {};
    const held = use('a', 40, () => new Promise<void>((r) => (release = r)));
    await new Promise((r) => setTimeout(r, 0));
    await use('b', 40); // evicts a while it is in use
    expect(made.get('a')?.[0]?.disposed).toBe(0);
    release();
    await held;
    expect(made.get('a')?.[0]?.disposed).toBe(1);
  });

  it('serves but does not keep a value larger than the whole budget', async () => {
    const { cache, made, use } = harness(50);
    await use('small', 10);
    const result = await use('huge', 60, async (v) => v.name);
    expect(result).toBe('huge');
    expect(cache.has('huge')).toBe(false);
    expect(cache.has('small')).toBe(true);
    expect(made.get('huge')?.[0]?.disposed).toBe(1);
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
