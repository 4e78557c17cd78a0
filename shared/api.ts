/**
 * Types of the HTTP API, shared by the Worker that answers and the clients that call it.
 */
import type { Manifest, ManifestFile } from './manifest.ts';

export const API_VERSION = 'v1';

/** One class score. */
export interface Prediction {
  label: string;
  score: number;
}

/** `POST /v1/predict` answer. */
export interface PredictResponse {
  /** `<backbone id>@<version>`. */
  backbone: string;
  head: string;
  predictions: Prediction[];
}

/** A manifest file as `GET /v1/models` serves it: with its absolute URL. */
export interface ServedFile extends ManifestFile {
  url: string;
}

/** `GET /v1/models` answer: the manifest with absolute URLs for every file. */
export interface ModelsResponse {
  backbone: Omit<Manifest['backbone'], 'files'> & { files: ServedFile[] };
  heads: (Omit<Manifest['heads'][number], 'files' | 'url' | 'document'> & { url: string; document: ServedFile; files: ServedFile[] })[];
}

/** `GET /healthz` answer. */
export interface HealthResponse {
  ok: true;
  backbone: string;
}

/** `GET /_diag/memory` answer (local development only). */
export interface DiagnosticsResponse {
  backend: string;
  numTensors: number;
  numBytes: number;
  wasmHeapBytes: number;
  peakWasmHeapBytes: number;
  modelLoads: number;
}

/** Media types the image endpoints accept. */
export const IMAGE_TYPES = ['image/jpeg', 'image/png'] as const;
export const EMBEDDING_TYPE = 'application/octet-stream';
