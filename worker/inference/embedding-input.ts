/**
 * Reads what a request body gives the model: an image (decoded and preprocessed for the backbone)
 * or, where allowed, an embedding the client computed itself (raw little-endian float32).
 */
import { IMAGE_TYPES } from '../../shared/api/types.ts';
import { EDGE_DECODE_LIMITS, decodeImage } from '../../shared/image/decode.ts';
import { preprocess } from '../../shared/image/preprocess.ts';
import { readAccepted } from '../http/read-body.ts';
import { recordHeap, type ModelRuntime } from './model-runtime.ts';

/** The request's image, decoded and preprocessed for the backbone. */
export async function pixelsOf(bytes: Uint8Array, runtime: ModelRuntime): Promise<Float32Array> {
  return preprocess(await decodeImage(bytes, EDGE_DECODE_LIMITS), runtime.manifest.backbone.normalization);
}

/** Embeds the request's image (`POST /v1/embed`). */
export async function embeddingFromRequest(req: Request, runtime: ModelRuntime): Promise<Float32Array> {
  const { bytes } = await readAccepted(req, IMAGE_TYPES, (type) => `Content-Type ${type} is not accepted; send one of: ${IMAGE_TYPES.join(', ')}.`);
  const embedding = await runtime.backbone.embedPreprocessed(await pixelsOf(bytes, runtime));
  recordHeap();
  return embedding;
}
