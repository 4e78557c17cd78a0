/**
 * The evaluation's embeddings on disk, so a rerun skips the backbone: one file of raw float32
 * per image under `.cache/eval/<backbone id@version>/` (gitignored). The key is the backbone's
 * `id@version` plus a SHA-256 of the exact pixels that go into the preprocessing (width, height,
 * RGBA bytes): that is the image's identity and, for an augmented view, the view itself, so a
 * changed dataset file or a changed augmentation recipe misses the cache instead of returning a
 * stale vector. A backbone whose outputs change must change its version. Only embeddings are
 * kept: fine-tuning's cut activations are recomputed.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RgbaPixels } from '../../shared/image/preprocess.ts';

/** Embeddings on disk for one backbone (see the module comment). */
export class EmbeddingCache {
  private readonly dir: string;
  /** Lookups answered from disk and vectors written, for the run's summary. */
  hits = 0;
  writes = 0;
  /**
   * Hits on vectors an earlier run wrote: what makes a run warm. A run from an empty cache also
   * hits, on what it wrote itself (the pair of backbones reads the single runs' vectors, seeds
   * share test photos), and is still cold.
   */
  earlierHits = 0;
  /** Keys written by this process, every backbone's (only the main thread writes). */
  private static readonly writtenThisRun = new Set<string>();

  /**
   * @param root folder of the whole cache (e.g. `.cache/eval`)
   * @param backboneRef the backbone's `id@version`
   * @param size floats per embedding (a file of another length counts as a miss)
   */
  constructor(
    root: string,
    backboneRef: string,
    private readonly size: number,
  ) {
    this.dir = join(root, encodeURIComponent(backboneRef));
  }

  /** The cache key of some pixels: SHA-256 over width, height and the RGBA bytes. */
  static key(pixels: RgbaPixels): string {
    const hash = createHash('sha256');
    const header = new Uint32Array([pixels.width, pixels.height]);
    hash.update(new Uint8Array(header.buffer));
    hash.update(pixels.data);
    return hash.digest('hex');
  }

  private file(key: string): string {
    return join(this.dir, key.slice(0, 2), `${key}.f32`);
  }

  /** The stored embedding of these pixels, or null. */
  get(pixels: RgbaPixels): Float32Array | null {
    const key = EmbeddingCache.key(pixels);
    const file = this.file(key);
    if (!existsSync(file)) return null;
    const bytes = readFileSync(file);
    if (bytes.byteLength !== this.size * 4) return null;
    this.hits++;
    if (!EmbeddingCache.writtenThisRun.has(`${this.dir}/${key}`)) this.earlierHits++;
    // A copy into its own aligned buffer (Buffer slices may be unaligned views of a pool).
    return new Float32Array(new Uint8Array(bytes).buffer);
  }

  /** Stores the embedding of these pixels (written to a temporary name, then renamed: never half a file). */
  set(pixels: RgbaPixels, embedding: Float32Array): void {
    if (embedding.length !== this.size) throw new RangeError(`expected ${this.size} floats, got ${embedding.length}`);
    const key = EmbeddingCache.key(pixels);
    const file = this.file(key);
    mkdirSync(join(file, '..'), { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, new Uint8Array(embedding.buffer, embedding.byteOffset, embedding.byteLength));
    renameSync(temporary, file);
    this.writes++;
    EmbeddingCache.writtenThisRun.add(`${this.dir}/${key}`);
  }
}
