/**
 * Reads what a request body gives the model: an image (decoded and preprocessed for the backbone)
 * or, where allowed, an embedding the client computed itself (raw little-endian float32).
 */
import { EMBEDDING_TYPE, IMAGE_TYPES } from '../../shared/api/types.ts';
import { TannerinError } from '../../shared/errors.ts';
import { EDGE_DECODE_LIMITS, decodeImage } from '../../shared/image/decode.ts';
import { preprocess } from '../../shared/image/preprocess.ts';
import { LIMITS } from '../../shared/limits.ts';
import { readBody } from '../http/read-body.ts';
import { recordHeap, type ModelRuntime } from './model-runtime.ts';

/** The media type without parameters, lowercased. */
export function mediaType(req: Request): string {
  return (req.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** Parses `size` little-endian float32 values, rejecting a wrong length or non-finite values. */
export function parseEmbedding(bytes: Uint8Array, size: number): Float32Array {
  if (bytes.byteLength !== size * 4) {
    throw new TannerinError(
      'invalid_embedding',
      `Embedding must be ${size} little-endian float32 values (${size * 4} bytes); got ${bytes.byteLength} bytes.`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const v = view.getFloat32(i * 4, true);
    if (!Number.isFinite(v)) throw new TannerinError('invalid_embedding', `Embedding value ${i} is ${v}; all values must be finite.`);
    out[i] = v;
  }
  return out;
}

/** 415 unless the request's media type is one of `accepted`; then its body (413 over the limit). */
async function readAccepted(req: Request, accepted: readonly string[], refusal: (type: string) => string): Promise<{ type: string; bytes: Uint8Array }> {
  const type = mediaType(req);
  if (!accepted.includes(type)) throw new TannerinError('unsupported_media_type', refusal(type ? `"${type}"` : '(missing)'));
  return { type, bytes: await readBody(req, LIMITS.maxBodyBytes) };
}

/** The request's image, decoded and preprocessed for the backbone. */
async function pixelsOf(bytes: Uint8Array, runtime: ModelRuntime): Promise<Float32Array> {
  return preprocess(await decodeImage(bytes, EDGE_DECODE_LIMITS), runtime.manifest.backbone.normalization);
}

/** Embeds the request's image (`POST /v1/embed`). */
export async function embeddingFromRequest(req: Request, runtime: ModelRuntime): Promise<Float32Array> {
  const { bytes } = await readAccepted(req, IMAGE_TYPES, (type) => `Content-Type ${type} is not accepted; send one of: ${IMAGE_TYPES.join(', ')}.`);
  const embedding = await runtime.backbone.embedPreprocessed(await pixelsOf(bytes, runtime));
  recordHeap();
  return embedding;
}

/** What a prediction reads from the request body: its image as preprocessed pixels, or an embedding the client computed. */
export type PredictionInput = { kind: 'pixels'; pixels: Float32Array } | { kind: 'embedding'; embedding: Float32Array };

/**
 * The request body as the input `head` can read, checked before the head loads: an image, or for
 * a plain head also an embedding (raw little-endian float32). A fine-tuned model needs the image
 * (its personal layers start from an intermediate activation): an embedding is a 422 saying so.
 */
export async function predictionInput(req: Request, runtime: ModelRuntime, head: { name: string; fineTuned: boolean }): Promise<PredictionInput> {
  if (head.fineTuned && mediaType(req) === EMBEDDING_TYPE) {
    throw new TannerinError(
      'invalid_embedding',
      `Head ${head.name} is a fine-tuned model: its own copies of the backbone's top layers start from an intermediate activation that only the image gives, so an embedding cannot be used. Send the photo (${IMAGE_TYPES.join(' or ')}).`,
    );
  }
  const accepted: readonly string[] = head.fineTuned ? IMAGE_TYPES : [...IMAGE_TYPES, EMBEDDING_TYPE];
  const { type, bytes } = await readAccepted(req, accepted, (type) =>
    head.fineTuned
      ? `Content-Type ${type} is not accepted by fine-tuned head ${head.name}; send one of: ${IMAGE_TYPES.join(', ')}.`
      : `Content-Type ${type} is not accepted; send one of: ${accepted.join(', ')}.`,
  );
  if (type === EMBEDDING_TYPE) return { kind: 'embedding', embedding: parseEmbedding(bytes, runtime.manifest.backbone.embedding.size) };
  return { kind: 'pixels', pixels: await pixelsOf(bytes, runtime) };
}
