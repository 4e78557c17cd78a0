/**
 * The evaluation's frozen passes spread over several cores (issue 15 pt 5): TF.js WASM in Node runs
 * one thread, so `--jobs N` embeds a batch of missing images in N shares at once, the first share
 * in this thread (its backbone is already loaded) and each other one in a worker thread
 * (scripts/eval/embed-worker.ts) that loads the same backbone once and keeps it for the run. The
 * embeddings are the same floats as one thread's: each image goes through the same WASM kernels
 * with batch size 1, whichever thread runs it. Only the calling thread writes the disk cache.
 */
import { Worker } from 'node:worker_threads';
import type { RgbaPixels } from '../../shared/image/preprocess.ts';
import type { Backbone } from '../../shared/model/backbone.ts';

/** One frozen pass's result: the embedding and how long the pass took (ms, including preprocessing). */
export interface TimedEmbedding {
  embedding: Float32Array;
  ms: number;
}

/** One frozen pass of `pixels` on `backbone` (`Backbone.embed`), timed: in this thread and in each worker alike. */
export async function timedEmbedding(backbone: Backbone, pixels: RgbaPixels): Promise<TimedEmbedding> {
  const t0 = performance.now();
  const embedding = await backbone.embed(pixels);
  return { embedding, ms: performance.now() - t0 };
}

/** A message from an embedding worker (scripts/eval/embed-worker.ts). */
export type EmbedWorkerMessage =
  | { type: 'embedded'; batch: number; index: number; embedding: Float32Array; ms: number }
  | { type: 'error'; message: string };

/** A batch sent to an embedding worker: its images' pixels, answered one `embedded` message each. */
export interface EmbedWorkerRequest {
  batch: number;
  pixels: RgbaPixels[];
}

/**
 * Splits `items` into `count` contiguous shares whose sizes differ by at most one (the first ones
 * take the remainder); shares may be empty when there are fewer items than shares. Concatenated
 * in order they are `items`.
 */
export function shares<T>(items: readonly T[], count: number): T[][] {
  if (!(Number.isInteger(count) && count >= 1)) throw new RangeError(`share count must be a positive integer, got ${count}`);
  const base = Math.floor(items.length / count);
  const extra = items.length % count;
  const out: T[][] = [];
  let start = 0;
  for (let s = 0; s < count; s++) {
    const size = base + (s < extra ? 1 : 0);
    out.push(items.slice(start, start + size));
    start += size;
  }
  return out;
}

/** One worker thread holding one backbone, embedding the batches sent to it in order. */
class EmbedWorker {
  private readonly worker: Worker;
  private batches = 0;
  private readonly pending = new Map<number, { results: TimedEmbedding[]; left: number; resolve: (r: TimedEmbedding[]) => void; onEach: () => void }>();
  private failure: Error | null = null;
  private readonly rejecters = new Set<(error: Error) => void>();

  constructor(backboneId: string) {
    // The worker is TypeScript: it inherits this process's execArgv, which carries tsx's loader.
    this.worker = new Worker(new URL('./embed-worker.ts', import.meta.url), { workerData: { backboneId } });
    this.worker.on('message', (message: EmbedWorkerMessage) => {
      if (message.type === 'error') this.fail(new Error(`embedding worker (${backboneId}): ${message.message}`));
      else if (message.type === 'embedded') this.receive(message);
    });
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => {
      if (code !== 0) this.fail(new Error(`embedding worker (${backboneId}) exited with code ${code}`));
    });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const reject of this.rejecters) reject(this.failure);
    this.rejecters.clear();
  }

  private receive(message: Extract<EmbedWorkerMessage, { type: 'embedded' }>): void {
    const batch = this.pending.get(message.batch);
    if (!batch) return;
    batch.results[message.index] = { embedding: message.embedding, ms: message.ms };
    batch.onEach();
    if (--batch.left === 0) {
      this.pending.delete(message.batch);
      batch.resolve(batch.results);
    }
  }

  /** The embeddings of `pixels`, in order; `onEach` hears each one done. */
  async embed(pixels: RgbaPixels[], onEach: () => void): Promise<TimedEmbedding[]> {
    if (!pixels.length) return [];
    // Posted at once, not after a "ready" reply: the worker's port keeps it until the worker listens
    // (its backbone loaded), whereas this thread, busy with its own share, would read a reply only
    // once that share is done, and the worker would idle meanwhile.
    const batch = this.batches++;
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.rejecters.add(reject);
      this.pending.set(batch, { results: new Array<TimedEmbedding>(pixels.length), left: pixels.length, resolve, onEach });
      const request: EmbedWorkerRequest = { batch, pixels };
      this.worker.postMessage(request);
    });
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

/**
 * Embeds batches with this thread's backbone (`local`) and `workers` worker threads that load
 * the backbone `backboneId` at the first batch big enough to share (and keep it until
 * {@link ParallelEmbedder.close}).
 */
export class ParallelEmbedder {
  private pool: EmbedWorker[] | null = null;

  /**
   * @param backboneId the installed backbone the workers load (the same as `local`'s)
   * @param workers worker threads besides this one (0: everything runs in this thread)
   * @param local one frozen pass in this thread
   */
  constructor(
    private readonly backboneId: string,
    private readonly workers: number,
    private readonly local: (pixels: RgbaPixels) => Promise<TimedEmbedding>,
  ) {}

  /**
   * The embeddings of `pixels`, in order: the first of {@link shares} here, the others in the
   * workers, all at once. `onEach` hears each pass done (for a progress line).
   */
  async embed(pixels: readonly RgbaPixels[], onEach: () => void = () => {}): Promise<TimedEmbedding[]> {
    // A batch smaller than the thread count is not worth a worker's start (a backbone load).
    const count = pixels.length > this.workers ? this.workers + 1 : 1;
    const [mine = [], ...theirs] = shares(pixels, count);
    if (theirs.length) this.pool ??= Array.from({ length: this.workers }, () => new EmbedWorker(this.backboneId));
    const remote = theirs.map((share, w) => (this.pool as EmbedWorker[])[w]?.embed(share, onEach) as Promise<TimedEmbedding[]>);
    // A worker's failure surfaces at the end (Promise.all below); mark it handled meanwhile.
    for (const r of remote) r.catch(() => {});
    const here: TimedEmbedding[] = [];
    for (const p of mine) {
      here.push(await this.local(p));
      onEach();
    }
    return [...here, ...(await Promise.all(remote)).flat()];
  }

  /** Ends the worker threads (their backbones go with them). */
  async close(): Promise<void> {
    const pool = this.pool ?? [];
    this.pool = null;
    await Promise.all(pool.map((w) => w.terminate()));
  }
}
