/**
 * The Worker's model runtime: what each isolate keeps (the manifest, the WASM backend, the JPEG
 * decoder, the backbone, the loaded heads) and the one prediction it makes with them. Each model
 * loads once: concurrent cold requests await the same promise, and a failed load is forgotten so
 * the next request retries instead of caching the failure.
 *
 * Every prediction the Worker makes, with a default, a personal or a published head, is
 * {@link predict}: which head (resolveHead, reading the manifest), the isolate's runtime (loaded
 * only once the head is known to run here), the request's input (predictionInput), the head's
 * Predictor (shared/predict/predictor.ts) from the isolate's LRU cache (shared/predict/cache.ts),
 * its scores.
 *
 * The walk, as a map. A reader starts at the route handler and follows each call into the code
 * that does the work, depth-first. Returning up the call stack to a function still open is not a
 * new stop; calling into a file a second time from elsewhere ("coming back") would be. Each file
 * below is entered once, through one function; what that function returns and defines in the
 * same place (a stored head's document reader, a loaded predictor's methods) is read on that
 * visit, so calling it later is not coming back, and the cache's load and run callbacks are
 * written inline in `predict` and read there. A personal plain head and an image body, in a warm
 * isolate (the backbone loaded once by an earlier request: that set-up, behind `getRuntime`, is
 * not followed):
 *
 *   1. worker/routes/predict.ts            predictRoute: `top`; predict; the headers and body
 *   2. worker/inference/model-runtime.ts   predict: resolveHead (the manifest; 401 / 404 / 409),
 *                                          getRuntime, predictionInput (415 / 413 / 422), the
 *                                          head cache, recordHeap
 *   3. worker/store/heads.ts               openHead: the head's row (D1); its `readDocument()`
 *                                          (R2) only when the head is not loaded yet
 *   4. worker/http/read-body.ts            readAccepted: the media type (415), the body (413)
 *   5. shared/image/decode.ts              decodeImage: header checks, the PNG or JPEG
 *                                          decoder; header.ts, png-decode.ts and
 *                                          jpeg-decode.ts count as part of this stop because
 *                                          the walk reaches them only through this one call
 *   6. shared/predict/cache.ts             LruCache.use: the load (on a miss), then the run
 *   7. shared/predict/predictor.ts         loadPredictor (on a miss); classifyPixels:
 *                                          preprocess (shared/image/preprocess.ts), frozenPass,
 *                                          then predictFrozen and its head step
 *                                          (headModelPredictions: input transform, head model,
 *                                          ranked scores); a head that records test-time
 *                                          augmentation frozen-passes each augmented view too
 *                                          (shared/head/tta.ts, shared/image/augment.ts) and
 *                                          ranks the mean of the probabilities
 *   8. shared/model/folded-graph.ts        FoldedGraph.run: the frozen backbone's forward pass,
 *                                          called from frozenPass (predictor.ts stays open)
 *
 * Small helpers called and returned from on the way are not stops: the name check
 * (shared/head/validate.ts), error constructors (shared/errors.ts, worker/http/auth.ts), manifest
 * lookups (shared/model/manifest.ts), the bounded JSON parse of the stored document
 * (shared/util/json-guard.ts), the document's weights as TF.js artifacts (shared/head/document.ts)
 * and the ETag quoting (worker/http/etag.ts). A fine-tuned model adds its own top layers inside
 * stop 7 (TF.js layers); an embedding body skips stops 5 and 8. A head with a crop
 * (shared/head/crop.ts) enters shared/crop/crop-step.ts from stop 7 first (its box: a pass of
 * stop 8 to the crop's layer, then the cut) and runs the rest on the crop; a detector crop is a 409
 * there, an embedding body for a crop head a 422.
 *
 * Still entered twice: a cold isolate's first prediction follows `getRuntime` into the set-up,
 * which enters shared/image/decode.ts (initImageDecoder) and shared/model/folded-graph.ts (the
 * graph built by loadBackbone) before stops 5 and 8 come back to them. A published head goes
 * through worker/inference/published-index.ts (find; invalidate when its files are gone) and
 * worker/store/published.ts (listPublished when the index is refreshed, then publishedKey for the
 * document) instead of stop 3, so both of those can be entered twice.
 *
 * Stored heads (personal and published) are cached under their owner, name and ETag, so a new
 * version is a new entry and the old one ages out; shipped heads are a small fixed set, kept for
 * the isolate's life.
 */
import * as tf from '@tensorflow/tfjs-core';
import simdWasm from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm';
import mozjpegWasm from '@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm';
import type { Context } from 'hono';
import { EMBEDDING_TYPE, IMAGE_TYPES, type Prediction, type PredictResponse } from '../../shared/api/types.ts';
import { cropNotRunHere } from '../../shared/crop/crop-step.ts';
import type { CropUsed } from '../../shared/head/crop.ts';
import { TannerinError } from '../../shared/errors.ts';
import type { HeadDocument } from '../../shared/head/document.ts';
import { isDefaultHeadName, isHeadId, type BackboneModelJson } from '../../shared/head/validate.ts';
import { EDGE_DECODE_LIMITS, decodeImage, initImageDecoder, type RgbaImage } from '../../shared/image/decode.ts';
import { HEAD_JSON_LIMITS, HEAD_LIMITS } from '../../shared/limits.ts';
import { loadBackbone, type Backbone } from '../../shared/model/backbone.ts';
import { backboneRef, servedBackbone, type BackboneManifest, type Manifest, type ManifestFile } from '../../shared/model/manifest.ts';
import { startWasmBackend, wasmBackendInfo } from '../../shared/model/wasm-backend.ts';
import { LruCache } from '../../shared/predict/cache.ts';
import { loadPredictor, type Predictor } from '../../shared/predict/predictor.ts';
import { parseBoundedJsonShape } from '../../shared/util/json-guard.ts';
import type { AppEnv, Env } from '../env.ts';
import { unauthorized } from '../http/auth.ts';
import { mediaType, readAccepted } from '../http/read-body.ts';
import { openHead } from '../store/heads.ts';
import { publishedKey } from '../store/published.ts';
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

/** What the predict route answers: the body, and what its headers say. */
export interface PredictOutcome {
  body: PredictResponse;
  /** The stored version that ran (sent as `x-tannerin-head-etag`); null for a shipped head. */
  etag: string | null;
  /** A personal head: the answer must not be cached by others (`cache-control: no-store`). */
  personal: boolean;
}

/**
 * The one prediction the Worker makes (the map is in the module comment): the head `name` names,
 * run on the request's body, its scores cut to `top`. Errors come in this order: which head
 * (401 / 404 / 409) before anything loads or the body is read; the body (415 / 413 / 422) before
 * any head loads; 503 when the isolate's models or the head cache cannot serve it.
 */
export async function predict(c: Context<AppEnv>, published: PublishedIndex, name: string, top?: number): Promise<PredictOutcome> {
  const head = await resolveHead(c, published, name);
  // Loads the backbone only now that the head is known to run here.
  const runtime = await getRuntime(c.env);
  const input = await predictionInput(c.req.raw, runtime, head);
  const predictions = await head.cache.use(
    head.key,
    async () => {
      const { doc, documentBytes } = await head.read();
      const predictor = await loadPredictor(doc, runtime.backbone);
      return { value: predictor, bytes: predictor.weightBytes + documentBytes };
    },
    async (predictor): Promise<{ predictions: Prediction[]; crop?: CropUsed }> => {
      const crop = predictor.doc.crop;
      if (crop?.method === 'detector') throw cropNotRunHere(crop, 'the edge');
      if (input.kind === 'embedding') {
        if (crop) throw new TannerinError('invalid_embedding', `Head ${head.name} crops each photo before it embeds it (${crop.method}), so an embedding cannot be used. Send the photo (${IMAGE_TYPES.join(' or ')}).`);
        return { predictions: await predictor.predictFrozen({ embedding: input.embedding }, top) };
      }
      // A crop head: one more backbone pass (to the crop's layer) and the crop's pixels, freed with the request.
      const classified = await predictor.classifyPixels(input.image, top);
      runtime.recordHeap();
      return classified.crop ? { predictions: classified.predictions, crop: classified.crop } : { predictions: classified.predictions };
    },
    { estimatedBytes: head.estimatedBytes },
  );
  return { body: { backbone: runtime.backbone.ref, head: head.name, ...predictions }, etag: head.etag, personal: head.personal };
}

/** A head a request named, resolved to where it is cached and where its document comes from. */
interface ResolvedHead {
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
async function resolveHead(c: Context<AppEnv>, published: PublishedIndex, name: string): Promise<ResolvedHead> {
  const { env } = c;
  if (isHeadId(name)) {
    const caller = c.get('caller');
    if (!caller) throw unauthorized(`Head ${name} is a personal head: send its owner's token (Authorization: Bearer <token>).`, false);
    const manifest = await getManifest(env);
    const served = backboneRef(manifest.backbone);
    const stored = await openHead(env.DB, env.HEADS, caller.accountId, name);
    // The same answer whether the id is unknown or another account's: existence never leaks.
    if (!stored) throw new TannerinError('not_found', `Unknown head "${name}".`);
    const { row } = stored;
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
        const body = await stored.readDocument();
        if (!body) throw new TannerinError('not_found', `Unknown head "${row.id}".`);
        // Stored documents were validated on upload against this backbone (checked again above).
        return readHeadDocument(body);
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
    read: async () => ({ doc: (await (await fetchAsset(env, entry.url)).json()) as HeadDocument, documentBytes: 0 }),
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
function parseEmbedding(bytes: Uint8Array, size: number): Float32Array {
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
/** The decoded photo (preprocessed by the predictor: a head with test-time augmentation needs the pixels), or an embedding. */
type PredictionInput = { kind: 'image'; image: RgbaImage } | { kind: 'embedding'; embedding: Float32Array };

/**
 * The request body as the input `head` can read, checked before the head loads: an image, or for
 * a plain head also an embedding (raw little-endian float32). A fine-tuned model needs the image
 * (its personal layers start from an intermediate activation): an embedding is a 422 saying so.
 */
async function predictionInput(req: Request, runtime: ModelRuntime, head: { name: string; fineTuned: boolean }): Promise<PredictionInput> {
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
  const { backbone } = runtime.manifest;
  if (type === EMBEDDING_TYPE) return { kind: 'embedding', embedding: parseEmbedding(bytes, backbone.embedding.size) };
  return { kind: 'image', image: await decodeImage(bytes, EDGE_DECODE_LIMITS) };
}

// ---------------------------------------------------------------------------------------------
// The isolate's models

/** Where the manifest sits among the static assets. */
export const MANIFEST_PATH = 'models.json';

export interface ModelRuntime {
  manifest: Manifest;
  backbone: Backbone;
  /** Records the WASM heap after a forward pass (it only grows, so the last value is the peak). */
  recordHeap(): void;
}

/** Counters for `/_diag/memory`. */
export const stats = { modelLoads: 0, peakWasmHeapBytes: 0 };

let manifestPromise: Promise<Manifest> | null = null;
/** Backbones' `model.json`, by `id@version` (getBackboneModelJson). */
const modelJsons = new Map<string, Promise<BackboneModelJson>>();
let runtimePromise: Promise<ModelRuntime> | null = null;

async function fetchAsset(env: Env, path: string): Promise<Response> {
  // The host is never contacted: the ASSETS binding serves from the deployed asset bundle.
  const res = await env.ASSETS.fetch(new Request(`https://assets.local/${path}`));
  if (!res.ok) throw new Error(`static asset ${path} answered ${res.status}`);
  return res;
}

const fetchFile = (env: Env) => async (file: ManifestFile) =>
  new Uint8Array(await (await fetchAsset(env, file.path)).arrayBuffer());

/** The manifest of the deployed model files. */
export function getManifest(env: Env): Promise<Manifest> {
  manifestPromise ??= fetchAsset(env, MANIFEST_PATH)
    .then((r) => r.json() as Promise<Manifest>)
    .catch((err: unknown) => {
      manifestPromise = null;
      throw err;
    });
  return manifestPromise;
}

/**
 * A served backbone's `model.json` (topology and weights manifest, ~120 KB), which fine-tuned head
 * documents are checked against: the default backbone's unless another is given. Read without
 * loading the model, once per isolate and backbone.
 */
export function getBackboneModelJson(env: Env, backbone?: BackboneManifest): Promise<BackboneModelJson> {
  const json = (backbone ? Promise.resolve(backbone) : getManifest(env).then((m) => m.backbone)).then((b) => {
    const ref = backboneRef(b);
    let cached = modelJsons.get(ref);
    if (!cached) {
      const file = b.files[0];
      cached = (file ? fetchAsset(env, file.path) : Promise.reject(new Error(`the manifest lists no files for backbone ${ref}`))).then((r) => r.json() as Promise<BackboneModelJson>);
      // A failed read is forgotten, so the next request retries.
      cached.catch(() => modelJsons.delete(ref));
      modelJsons.set(ref, cached);
    }
    return cached;
  });
  return json;
}

async function load(env: Env): Promise<ModelRuntime> {
  const manifest = await getManifest(env);
  // Both from precompiled modules (wrangler's CompiledWasm rule); the routes load this runtime
  // before decoding any image, so JPEG decoding is ready whenever an image is decoded.
  await Promise.all([startWasmBackend(simdWasm), initImageDecoder(mozjpegWasm)]);
  const backbone = await loadBackbone(manifest.backbone, fetchFile(env));
  stats.modelLoads++;
  return { manifest, backbone, recordHeap };
}

/** The isolate's model runtime, loading it on first use. */
export function getRuntime(env: Env): Promise<ModelRuntime> {
  runtimePromise ??= load(env).catch((err: unknown) => {
    runtimePromise = null;
    console.error('tannerin: model load failed:', err);
    throw new TannerinError('model_unavailable', 'The model could not be loaded; try again shortly.');
  });
  return runtimePromise;
}

/** Records the WASM heap after a forward pass (it only grows, so the last value is the peak). */
function recordHeap(): void {
  stats.peakWasmHeapBytes = Math.max(stats.peakWasmHeapBytes, wasmBackendInfo().heapBytes);
}

/** Live diagnostics for `/_diag/memory`. */
export function diagnostics() {
  const info = wasmBackendInfo();
  // Before the model is loaded no backend is set, and tf.memory() would start the stock one (it
  // cannot start in workerd, and the request failed with a 500): nothing is allocated yet.
  const mem = info.backend === 'none' ? { numTensors: 0, numBytes: 0 } : tf.memory();
  return {
    backend: info.backend,
    numTensors: mem.numTensors,
    numBytes: mem.numBytes,
    wasmHeapBytes: info.heapBytes,
    peakWasmHeapBytes: Math.max(stats.peakWasmHeapBytes, info.heapBytes),
    modelLoads: stats.modelLoads,
  };
}
