/**
 * A head the Worker can run, whatever its kind: a plain head (shared/predict/head-runner.ts, scores from
 * the embedding) or a fine-tuned model (shared/predict/tail-runner.ts, scores from the preprocessed image
 * through the frozen backbone to the cut, the model's own top layers, then its head). Personal
 * heads (routes/predict.ts) and operator-published heads both load through here, into the isolate's
 * LRU cache (worker/inference/head-cache.ts), sized by what they hold.
 */
import type { Prediction } from '../../shared/api.ts';
import type { Backbone } from '../../shared/model/backbone.ts';
import type { HeadDocument } from '../../shared/head/document.ts';
import { loadHead, type Head } from '../../shared/predict/head-runner.ts';
import { parseBoundedJsonShape } from '../../shared/util/json-guard.ts';
import { HEAD_JSON_LIMITS, HEAD_LIMITS } from '../../shared/limits.ts';
import { documentWeightCount, loadTailedHead, type TailedHead } from '../../shared/predict/tail-runner.ts';
import { embeddingFromRequest, preprocessedFromRequest } from './embedding-input.ts';
import { recordHeap, type ModelRuntime } from './model-runtime.ts';

/** A loaded head of either kind. */
export type RunnableHead = { kind: 'plain'; doc: HeadDocument; head: Head; dispose(): void } | { kind: 'fine-tuned'; doc: HeadDocument; model: TailedHead; dispose(): void };

/** Loads a (validated) head document on the isolate's backbone. */
export async function loadRunnableHead(doc: HeadDocument, backbone: Backbone): Promise<RunnableHead> {
  if (doc.backboneTail) {
    const model = await loadTailedHead(doc, backbone);
    return { kind: 'fine-tuned', doc, model, dispose: () => model.dispose() };
  }
  const head = await loadHead(doc, backbone.manifest);
  return { kind: 'plain', doc, head, dispose: () => head.dispose() };
}

/**
 * Memory a loaded head holds, for the cache budget: every weight (head and tail) as float32 in the
 * WASM heap, plus the parsed document it keeps (`documentBytes`: see {@link readHeadDocument}).
 */
export function loadedBytes(doc: HeadDocument, documentBytes: number): number {
  return documentWeightCount(doc) * 4 + documentBytes;
}

/**
 * An upper bound of {@link loadedBytes} known before the document is read, from its stored size:
 * weights at most 3 per stored byte (uint8-quantized base64) and never more than the validator's
 * parameter limit, plus the document itself. Reserved in the head cache while the head loads.
 */
export function estimatedLoadedBytes(storedBytes: number): number {
  return Math.min(3 * storedBytes, HEAD_LIMITS.maxParameters * 4) + storedBytes;
}

/**
 * Reads a stored (validated) head document, bounded like an upload (shared/util/json-guard.ts), with
 * the bytes its parsed form holds: its strings (one byte a character: base64 and JSON keys are
 * ASCII) and ~64 bytes per value and member.
 */
export async function readHeadDocument(body: { text(): Promise<string> }): Promise<{ doc: HeadDocument; documentBytes: number }> {
  const text = await body.text();
  const { value, shape } = parseBoundedJsonShape(text, HEAD_JSON_LIMITS, 'json_too_complex', 'The stored head document');
  return { doc: value as HeadDocument, documentBytes: shape.tokens * 64 + shape.stringChars };
}

/**
 * What the request body must be for a head: an image for a fine-tuned one (an embedding is a 422),
 * an image or an embedding for a plain one. Read and checked before the head is loaded.
 */
export type PredictInput = { kind: 'embedding'; embedding: Float32Array } | { kind: 'image'; input: Float32Array };

/** Reads the request body as the input a head of this kind needs (errors before any head loads). */
export async function predictInput(req: Request, runtime: ModelRuntime, fineTuned: boolean, headId: string): Promise<PredictInput> {
  if (fineTuned) return { kind: 'image', input: await preprocessedFromRequest(req, runtime, headId) };
  return { kind: 'embedding', embedding: await embeddingFromRequest(req, runtime, true) };
}

/** Scores of `input` under a loaded head. */
export async function runHead(head: RunnableHead, input: PredictInput, top?: number): Promise<Prediction[]> {
  if (head.kind === 'fine-tuned') {
    if (input.kind !== 'image') throw new Error('a fine-tuned model needs the preprocessed image');
    const predictions = await head.model.predictPreprocessed(input.input, top);
    recordHeap();
    return predictions;
  }
  if (input.kind !== 'embedding') throw new Error('a plain head reads the embedding');
  return head.head.predict(input.embedding, top);
}
