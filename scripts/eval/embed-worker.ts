/**
 * A worker thread of the evaluation's parallel frozen passes (scripts/eval/parallel-embed.ts): it
 * starts the WASM backend, loads the installed backbone named in `workerData.backboneId` once,
 * then embeds each batch of RGBA pixels it is sent, one `embedded` message per
 * image (`timedEmbedding`, as the calling thread's passes, so the same floats).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openBackbone, startRuntime } from '../cli/runtime.ts';
import { timedEmbedding, type EmbedWorkerMessage, type EmbedWorkerRequest } from './parallel-embed.ts';

const port = parentPort;
if (!port) throw new Error('embed-worker.ts runs as a worker thread (scripts/eval/parallel-embed.ts)');
// Copied, not transferred: an embedding's buffer is never shared with the WASM heap that way.
const post = (message: EmbedWorkerMessage): void => port.postMessage(message);

try {
  await startRuntime();
  const backbone = await openBackbone((workerData as { backboneId: string }).backboneId);
  // Batches run one after another in arrival order (a queue), never interleaved.
  let queue = Promise.resolve();
  port.on('message', (request: EmbedWorkerRequest) => {
    queue = queue.then(async () => {
      for (const [index, pixels] of request.pixels.entries()) {
        const { embedding, ms } = await timedEmbedding(backbone, pixels);
        post({ type: 'embedded', batch: request.batch, index, embedding, ms });
      }
    }).catch((error: unknown) => post({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) }));
  });
} catch (error) {
  post({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
}
