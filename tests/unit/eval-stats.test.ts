/**
 * The evaluation's statistics (scripts/eval/stats.ts) against values worked out by hand and
 * Student's t tables, and its embedding cache on disk (scripts/eval/embedding-cache.ts).
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddingCache } from '../../scripts/eval/embedding-cache.ts';
import { pairedDifference, summarize, tQuantile975 } from '../../scripts/eval/stats.ts';

describe('tQuantile975', () => {
  it('gives the two-sided 95% multipliers of Student t tables', () => {
    expect(tQuantile975(1)).toBeCloseTo(12.7062, 4);
    expect(tQuantile975(4)).toBeCloseTo(2.7764, 4);
    expect(tQuantile975(30)).toBeCloseTo(2.0423, 4);
    // Beyond the table: the expansion, within 1e-4 of the tabled 2.0395, 2.0003, 1.9799.
    expect(Math.abs(tQuantile975(31) - 2.0395)).toBeLessThan(1e-4);
    expect(Math.abs(tQuantile975(60) - 2.0003)).toBeLessThan(1e-4);
    expect(Math.abs(tQuantile975(120) - 1.9799)).toBeLessThan(1e-4);
    expect(() => tQuantile975(0)).toThrow(RangeError);
  });
});

describe('summarize', () => {
  it('gives mean, sample standard deviation and the 95% t-interval', () => {
    const s = summarize([1, 2, 3, 4, 5]);
    expect(s.n).toBe(5);
    expect(s.mean).toBe(3);
    expect(s.std).toBeCloseTo(Math.sqrt(2.5), 12);
    // 3 -+ 2.7764 * sqrt(2.5) / sqrt(5)
    expect(s.ci.low).toBeCloseTo(1.0368, 4);
    expect(s.ci.high).toBeCloseTo(4.9632, 4);
  });

  it('has no spread for one value, and refuses none', () => {
    expect(summarize([0.4])).toEqual({ n: 1, mean: 0.4, std: 0, ci: { low: 0.4, high: 0.4 } });
    expect(() => summarize([])).toThrow(RangeError);
  });
});

describe('pairedDifference', () => {
  it('summarizes the per-seed differences a - b', () => {
    const d = pairedDifference([0.5, 0.6, 0.7], [0.4, 0.6, 0.5]);
    // Differences 0.1, 0, 0.2: mean 0.1, std 0.1, half-width 4.3027 * 0.1 / sqrt(3).
    expect(d.mean).toBeCloseTo(0.1, 12);
    expect(d.std).toBeCloseTo(0.1, 12);
    expect(d.ci.low).toBeCloseTo(0.1 - 0.24842, 4);
    expect(d.ci.high).toBeCloseTo(0.1 + 0.24842, 4);
  });

  it('is narrower than the unpaired intervals when the seeds share their difficulty', () => {
    const a = [0.4, 0.5, 0.6, 0.7, 0.8];
    const b = a.map((x, i) => x - 0.05 + (i % 2 ? 0.01 : -0.01));
    const d = pairedDifference(a, b);
    expect(d.ci.low).toBeGreaterThan(0);
    expect(summarize(b).ci.high).toBeGreaterThan(summarize(a).ci.low);
  });

  it('refuses samples of different lengths', () => {
    expect(() => pairedDifference([1, 2], [1])).toThrow(RangeError);
  });
});

describe('EmbeddingCache', () => {
  let root = '';
  afterEach(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });
  const pixels = (value: number) => ({ width: 2, height: 1, data: Uint8Array.from([value, 0, 0, 255, 0, value, 0, 255]) });

  it('returns what was stored for the same pixels and backbone, and misses otherwise', () => {
    root = mkdtempSync(join(tmpdir(), 'eval-cache-'));
    const cache = new EmbeddingCache(root, 'toy@1', 3);
    expect(cache.get(pixels(7))).toBeNull();
    cache.set(pixels(7), Float32Array.from([1, 2.5, -3]));
    expect(cache.get(pixels(7))).toEqual(Float32Array.from([1, 2.5, -3]));
    expect(cache.hits).toBe(1);
    // Other pixels (another image or another augmented view), another backbone version: misses.
    expect(cache.get(pixels(8))).toBeNull();
    expect(new EmbeddingCache(root, 'toy@2', 3).get(pixels(7))).toBeNull();
    // A file of the wrong length (another embedding size) is a miss, not a wrong vector.
    expect(new EmbeddingCache(root, 'toy@1', 4).get(pixels(7))).toBeNull();
    expect(() => cache.set(pixels(9), Float32Array.from([1]))).toThrow(RangeError);
    expect(readdirSync(root)).toEqual([encodeURIComponent('toy@1')]);
  });

  it('keys by width and height too, not only the bytes', () => {
    const data = new Uint8Array(16);
    expect(EmbeddingCache.key({ width: 4, height: 1, data })).not.toBe(EmbeddingCache.key({ width: 2, height: 2, data }));
  });
});
