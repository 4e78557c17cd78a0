/**
 * Every prediction the Worker makes goes one way:
 *
 *   the head a request names -> {@link resolveHead}: a shipped default head, the caller's own
 *   head, or one the operator published (404 / 401 / 409 before anything loads)
 *   -> {@link predictWithHead}: the request's input (an image, or for a plain head an embedding;
 *   worker/inference/embedding-input.ts), then the head's Predictor (shared/predict/predictor.ts)
 *   from the isolate's LRU cache (shared/predict/cache.ts), then the scores.
 *
 * Stored heads (personal and published) are cached under their owner, name and ETag, so a new
 * version is a new entry and the old one ages out; shipped heads are a small fixed set, kept for
 * the isolate's life.
 */
import type { Context } from 'hono';
import { EMBEDDING_TYPE, IMAGE_TYPES, type Prediction } from '../../shared/api/types.ts';
import { TannerinError } from '../../shared/errors.ts';
import type { HeadDocument } from '../../shared/head/document.ts';
import { isDefaultHeadName, isHeadId } from '../../shared/head/validate.ts';
import { HEAD_JSON_LIMITS, HEAD_LIMITS } from '../../shared/limits.ts';
import { backboneRef, servedBackbone, type Manifest } from '../../shared/model/manifest.ts';
import { LruCache } from '../../shared/predict/cache.ts';
import { loadPredictor, type Predictor } from '../../shared/predict/predictor.ts';
import { parseBoundedJsonShape } from '../../shared/util/json-guard.ts';
import type { AppEnv } from '../env.ts';
import { unauthorized } from '../http/auth.ts';
import { mediaType, readAccepted } from '../http/read-body.ts';
import { findHead, readHead } from '../store/heads.ts';
import { publishedKey } from '../store/published.ts';
import { pixelsOf } from './embedding-input.ts';
import { fetchShippedHead, getManifest, recordHeap, type ModelRuntime } from './model-runtime.ts';
import type { PublishedIndex } from './published-index.ts';

/**
 * Budget of loaded stored heads (personal and published) per isolate. The isolate has 128 MB, of
 * which the backbone's forward pass takes ~70 MB of WASM heap (shared/limits.ts); typical heads
 * are tens of KB, a fine-tuned model ~4 MB of weights (~0.9M floats for MobileNetV2's top block)
 * plus its ~5 MB document, so about one fine-tuned model fits next to many plain heads.
 */
export const HEAD_CACHE_BYTES = 16 * 1024 * 1024;

/**
 * The isolate's cache of loaded stored heads (plain and fine-tuned). Its budget holds under
 * concurrency (shared/predict/cache.ts): a request that finds it full of heads in use waits up to
 * 2 s, then gets 503 `model_unavailable` with `Retry-After: 1`.
 */
export const headCache = new LruCache<Predictor>(HEAD_CACHE_BYTES);

/** The shipped heads (the manifest's, from the static assets): loaded once, never evicted. */
const shippedCache = new LruCache<Predictor>(Number.POSITIVE_INFINITY);

/** A head a request named, resolved to where it is cached and where its document comes from. */
export interface ResolvedHead {
  /** The name the answer reports: a default head's name, a personal head's id. */
  name: string;
  /** A fine-tuned model reads the image only. */
  fineTuned: boolean;
  /** The stored version that runs (sent as `x-tannerin-head-etag`); null for a shipped head. */
  etag: string | null;
  /** A personal head: its answers must not be cached by others. */
  personal: boolean;
  cache: LruCache<Predictor>;
  /** Cache key: kind, owner, name and version. */
  key: string;
  /** Upper bound of the bytes it will hold, reserved in the cache while it loads. */
  estimatedBytes: number;
  /** The head document, and the bytes its parsed form holds. */
  read(): Promise<{ doc: HeadDocument; documentBytes: number }>;
}

/**
 * The head `name` names for this request: a UUID is the caller's own head (401 without a token,
 * 404 if the account has none such, 409 for another backbone); a default head name is first a
 * published head (it shadows a shipped one), then a shipped head (404 if neither).
 */
export async function resolveHead(c: Context<AppEnv>, published: PublishedIndex, name: string): Promise<ResolvedHead> {
  const { env } = c;
  if (isHeadId(name)) {
    const caller = c.get('caller');
    if (!caller) throw unauthorized(`Head ${name} is a personal head: send its owner's token (Authorization: Bearer <token>).`, false);
    const manifest = await getManifest(env);
    const served = backboneRef(manifest.backbone);
    const row = await findHead(env.DB, caller.accountId, name);
    // The same answer whether the id is unknown or another account's: existence never leaks.
    if (!row) throw new TannerinError('not_found', `Unknown head "${name}".`);
    if (row.backbone !== served) {
      if (servedBackbone(manifest, row.backbone)) throw notRunHere(manifest, `Head ${name}`, row.backbone);
      throw new TannerinError(
        'backbone_mismatch',
        `Head ${name} was made for backbone ${row.backbone}, but this server runs ${served}. Retrain it on ${served} and upload it again.`,
      );
    }
    return {
      name,
      fineTuned: row.fine_tuned === 1,
      etag: row.etag,
      personal: true,
      cache: headCache,
      key: `${row.account_id}/${row.id}@${row.etag}`,
      estimatedBytes: estimatedLoadedBytes(row.bytes),
      async read() {
        const stored = await readHead(env.DB, env.HEADS, row.account_id, row.id);
        if (!stored) throw new TannerinError('not_found', `Unknown head "${row.id}".`);
        // Stored documents were validated on upload against this backbone (checked again above).
        return readHeadDocument(stored.body);
      },
    };
  }
  const row = isDefaultHeadName(name) ? await published.find(env.DB, name) : null;
  const manifest = await getManifest(env);
  const served = backboneRef(manifest.backbone);
  if (row) {
    if (row.backbone !== served) {
      throw new TannerinError('backbone_mismatch', `Published head ${row.name} was made for backbone ${row.backbone}, but this server runs ${served}; publish it again retrained.`);
    }
    return {
      name: row.name,
      // Only plain heads can be published (routes/operator.ts).
      fineTuned: false,
      etag: row.etag,
      personal: false,
      cache: headCache,
      key: `published/${row.name}@${row.etag}`,
      estimatedBytes: estimatedLoadedBytes(row.bytes),
      async read() {
        const object = await env.HEADS.get(publishedKey(row.name, row.write_id, 'head.json'));
        // Replaced or deleted since the row was read (perhaps a stale cached row): as if it were
        // never there, and the index is read afresh for the next request.
        if (!object) {
          published.invalidate();
          throw new TannerinError('not_found', `Head "${row.name}" was just replaced or deleted; try again.`);
        }
        return readHeadDocument(object);
      },
    };
  }
  const entry = manifest.heads.find((h) => h.id === name);
  if (!entry) {
    const known = manifest.heads.map((h) => h.id).join(', ');
    throw new TannerinError('not_found', `Unknown head "${name}". Available heads: ${known}.`);
  }
  return {
    name,
    fineTuned: false,
    etag: null,
    personal: false,
    cache: shippedCache,
    key: `shipped/${name}`,
    estimatedBytes: 0,
    read: async () => ({ doc: await fetchShippedHead(env, entry.url), documentBytes: 0 }),
  };
}

/**
 * 409 for a head on a backbone this server serves (stores and syncs heads for) but does not run at
 * the edge: the Worker runs only the default backbone (issue 15: the others' weights do not fit
 * the isolate next to it).
 */
function notRunHere(manifest: Manifest, what: string, backbone: string): TannerinError {
  const runs = backboneRef(manifest.backbone);
  return new TannerinError(
    'backbone_mismatch',
    `${what} runs on backbone ${backbone}, which this server stores and syncs heads for but does not run at the edge (the edge runs ${runs}). Predict with it in the app, or train it on ${runs} to predict here.`,
  );
}

/**
 * Scores of the request's input under `head`: the body is read and checked first (415, 413, 422
 * before any head loads), then the head's predictor runs it, from the cache or loaded into it.
 */
export async function predictWithHead(req: Request, runtime: ModelRuntime, head: ResolvedHead, top?: number): Promise<Prediction[]> {
  const input = await predictionInput(req, runtime, head);
  return head.cache.use(
    head.key,
    async () => {
      const { doc, documentBytes } = await head.read();
      const predictor = await loadPredictor(doc, runtime.backbone);
      return { value: predictor, bytes: predictor.weightBytes + documentBytes };
    },
    async (predictor) => {
      if (input.kind === 'embedding') return predictor.predictFrozen({ embedding: input.embedding }, top);
      const predictions = await predictor.predictPreprocessed(input.pixels, top);
      recordHeap();
      return predictions;
    },
    { estimatedBytes: head.estimatedBytes },
  );
}

/**
 * An upper bound of the bytes a loaded stored head holds, known before its document is read, from
 * its stored size: weights at most 3 per stored byte (uint8-quantized base64) and never more than
 * the validator's parameter limit, as float32, plus the document itself.
 */
export function estimatedLoadedBytes(storedBytes: number): number {
  return Math.min(3 * storedBytes, HEAD_LIMITS.maxParameters * 4) + storedBytes;
}

/**
 * Reads a stored (validated) head document, bounded like an upload (shared/util/json-guard.ts), with
 * the bytes its parsed form holds: its strings (one byte a character: base64 and JSON keys are
 * ASCII) and ~64 bytes per value and member.
 */
async function readHeadDocument(body: { text(): Promise<string> }): Promise<{ doc: HeadDocument; documentBytes: number }> {
  const text = await body.text();
  const { value, shape } = parseBoundedJsonShape(text, HEAD_JSON_LIMITS, 'json_too_complex', 'The stored head document');
  return { doc: value as HeadDocument, documentBytes: shape.tokens * 64 + shape.stringChars };
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
