/**
 * Reads the image of a `POST /v1/embed` request (415, 413, then decoded and preprocessed for the
 * backbone) and embeds it. A prediction reads its input in worker/inference/model-runtime.ts.
 */
import { IMAGE_TYPES } from '../../shared/api/types.ts';
import { EDGE_DECODE_LIMITS, decodeToModelInput } from '../../shared/image/decode.ts';
import { readAccepted } from '../http/read-body.ts';
import type { ModelRuntime } from './model-runtime.ts';

/** Embeds the request's image (`POST /v1/embed`). */
export async function embeddingFromRequest(req: Request, runtime: ModelRuntime): Promise<Float32Array> {
  const { bytes } = await readAccepted(req, IMAGE_TYPES, (type) => `Content-Type ${type} is not accepted; send one of: ${IMAGE_TYPES.join(', ')}.`);
  const pixels = await decodeToModelInput(bytes, runtime.manifest.backbone.normalization, EDGE_DECODE_LIMITS);
  const embedding = await runtime.backbone.embedPreprocessed(pixels);
  runtime.recordHeap();
  return embedding;
}
