/**
 * Everything the Worker keeps per isolate: the manifest, the WASM backend, the JPEG decoder and the
 * backbone (loaded heads live in worker/inference/predictors.ts). Each loads once: concurrent cold
 * requests await the same promise, and a failed load is forgotten so the next request retries
 * instead of caching the failure. A prediction enters this file once, at {@link isolateModels}:
 * the manifest at once, the runtime (and its `recordHeap`) when it asks, so nothing loads before
 * the head it names is known to be runnable here.
 */
import * as tf from '@tensorflow/tfjs-core';
import simdWasm from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm';
import mozjpegWasm from '@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm';
import { loadBackbone, type Backbone } from '../../shared/model/backbone.ts';
import { TannerinError } from '../../shared/errors.ts';
import type { HeadDocument } from '../../shared/head/document.ts';
import type { BackboneModelJson } from '../../shared/head/validate.ts';
import { initImageDecoder } from '../../shared/image/decode.ts';
import { backboneRef, type BackboneManifest, type Manifest, type ManifestFile } from '../../shared/model/manifest.ts';
import { startWasmBackend, wasmBackendInfo } from '../../shared/model/wasm-backend.ts';
import type { Env } from '../env.ts';

/** Where the manifest sits among the static assets. */
export const MANIFEST_PATH = 'models.json';

export interface ModelRuntime {
  manifest: Manifest;
  backbone: Backbone;
  /** Records the WASM heap after a forward pass (it only grows, so the last value is the peak). */
  recordHeap(): void;
}

/** What a prediction reads from the isolate: the manifest now, the runtime when it asks. */
export interface IsolateModels {
  readonly manifest: Manifest;
  /** The isolate's runtime, loaded on the first call ({@link getRuntime}): 503 if it cannot load. */
  runtime(): Promise<ModelRuntime>;
  /** A shipped (default) head's document, from the static assets at its manifest `url`. */
  shippedHead(url: string): Promise<HeadDocument>;
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

/**
 * The isolate's models for one prediction: the manifest (read once per isolate; nothing else
 * loads), and the runtime to load when the caller is ready for it.
 */
export async function isolateModels(env: Env): Promise<IsolateModels> {
  const manifest = await getManifest(env);
  return {
    manifest,
    runtime: () => getRuntime(env),
    shippedHead: async (url) => (await fetchAsset(env, url)).json() as Promise<HeadDocument>,
  };
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
