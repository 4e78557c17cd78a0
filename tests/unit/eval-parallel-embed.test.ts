/**
 * The evaluation's split of frozen passes over threads (scripts/eval/parallel-embed.ts): the shares
 * cover every image once, in order, with sizes at most one apart; without workers (`--jobs 1`), or
 * for a batch too small to share, every pass runs in this thread, in order. (The worker threads
 * themselves are checked by running the evaluation with `--jobs 1` and `--jobs 2` into two empty
 * cache folders and comparing the files: they load a backbone, too costly for a unit test.)
 */
import { describe, expect, it } from 'vitest';
import { ParallelEmbedder, shares } from '../../scripts/eval/parallel-embed.ts';
import type { RgbaPixels } from '../../shared/image/preprocess.ts';

describe('shares', () => {
  it('splits items into contiguous shares that concatenate back in order, sizes at most one apart', () => {
    const items = Array.from({ length: 11 }, (_, i) => i);
    for (const count of [1, 2, 3, 4, 11, 15]) {
      const split = shares(items, count);
      expect(split).toHaveLength(count);
      expect(split.flat()).toEqual(items);
      const sizes = split.map((s) => s.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      // The remainder goes to the first shares (the calling thread's is the first).
      expect(sizes).toEqual([...sizes].sort((a, b) => b - a));
    }
    expect(shares(items, 3).map((s) => s.length)).toEqual([4, 4, 3]);
    expect(shares([], 2)).toEqual([[], []]);
  });

  it('refuses a share count that is not a positive integer', () => {
    expect(() => shares([1], 0)).toThrow(RangeError);
    expect(() => shares([1], 1.5)).toThrow(RangeError);
  });
});

describe('ParallelEmbedder', () => {
  /** Stand-in pixels whose "embedding" is their width, so the order of the results shows. */
  const pixels = (n: number): RgbaPixels[] => Array.from({ length: n }, (_, i) => ({ width: i + 1, height: 1, data: new Uint8Array(4) }) as RgbaPixels);
  const local = (seen: number[]) => async (p: RgbaPixels) => {
    seen.push(p.width);
    return { embedding: new Float32Array([p.width]), ms: 1 };
  };

  it('without workers embeds every image in this thread, in order, telling each one done', async () => {
    const seen: number[] = [];
    let done = 0;
    const embedder = new ParallelEmbedder('unused', 0, local(seen));
    const out = await embedder.embed(pixels(5), () => done++);
    expect(out.map((e) => e.embedding[0])).toEqual([1, 2, 3, 4, 5]);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(done).toBe(5);
    await embedder.close();
  });

  it('keeps a batch no bigger than its worker count in this thread (no worker starts for it)', async () => {
    const seen: number[] = [];
    // 'no-such-backbone': a worker started for it would fail, and the embed with it.
    const embedder = new ParallelEmbedder('no-such-backbone', 3, local(seen));
    const out = await embedder.embed(pixels(3));
    expect(out.map((e) => e.embedding[0])).toEqual([1, 2, 3]);
    expect(seen).toEqual([1, 2, 3]);
    expect(await embedder.embed([])).toEqual([]);
    await embedder.close();
  });
});
