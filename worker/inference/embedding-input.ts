/**
 * Turns a request body into an embedding: an image (decoded, preprocessed and run through the
 * backbone) or, where allowed, an embedding the client computed itself (raw little-endian float32).
 */
import { EMBEDDING_TYPE, IMAGE_TYPES } from '../../shared/api.ts';
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

/** Embeds the request's image, or reads its embedding when `acceptEmbedding` is set. */
export async function embeddingFromRequest(req: Request, runtime: ModelRuntime, acceptEmbedding: boolean): Promise<Float32Array> {
  const type = mediaType(req);
  const accepted: string[] = [...IMAGE_TYPES, ...(acceptEmbedding ? [EMBEDDING_TYPE] : [])];
  if (!accepted.includes(type)) {
    throw new TannerinError(
      'unsupported_media_type',
      `Content-Type ${type ? `"${type}"` : '(missing)'} is not accepted; send one of: ${accepted.join(', ')}.`,
    );
  }
  const bytes = await readBody(req, LIMITS.maxBodyBytes);
  if (type === EMBEDDING_TYPE) return parseEmbedding(bytes, runtime.manifest.backbone.embedding.size);
  const image = await decodeImage(bytes, EDGE_DECODE_LIMITS);
  const embedding = await runtime.backbone.embed(image);
  recordHeap();
  return embedding;
}

/**
 * The request's image, decoded and preprocessed for the backbone, for a fine-tuned model (which
 * needs the image: its personal layers start from an intermediate activation). An embedding body
 * is a 422 saying so; other types a 415.
 */
export async function preprocessedFromRequest(req: Request, runtime: ModelRuntime, headId: string): Promise<Float32Array> {
  const type = mediaType(req);
  if (type === EMBEDDING_TYPE) {
    throw new TannerinError(
      'invalid_embedding',
      `Head ${headId} is a fine-tuned model: its own copies of the backbone's top layers start from an intermediate activation that only the image gives, so an embedding cannot be used. Send the photo (${IMAGE_TYPES.join(' or ')}).`,
    );
  }
  if (!(IMAGE_TYPES as readonly string[]).includes(type)) {
    throw new TannerinError(
      'unsupported_media_type',
      `Content-Type ${type ? `"${type}"` : '(missing)'} is not accepted by fine-tuned head ${headId}; send one of: ${IMAGE_TYPES.join(', ')}.`,
    );
  }
  const bytes = await readBody(req, LIMITS.maxBodyBytes);
  const image = await decodeImage(bytes, EDGE_DECODE_LIMITS);
  return preprocess(image, runtime.manifest.backbone.normalization);
}
