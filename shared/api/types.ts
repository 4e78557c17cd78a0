/**
 * Types of the HTTP API, shared by the Worker that answers and the clients that call it.
 */
import type { DetectorManifest, Manifest, ManifestFile } from '../model/manifest.ts';
import type { CropUsed } from '../head/crop.ts';

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
  /** For a head with a crop (shared/head/crop.ts): the box the photo was cut to, in [0, 1] fractions of the photo, and how it was found. */
  crop?: CropUsed;
}

/** A manifest file as `GET /v1/models` serves it: with its absolute URL. */
export interface ServedFile extends ManifestFile {
  url: string;
}

/** A backbone as `GET /v1/models` serves it: its files with absolute URLs. */
export type ServedBackbone = Omit<Manifest['backbone'], 'files'> & { files: ServedFile[] };

/** `GET /v1/models` answer: the manifest with absolute URLs for every file. */
export interface ModelsResponse {
  /** The default backbone: the one the edge runs (`/v1/predict`, `/v1/embed`). */
  backbone: ServedBackbone;
  /**
   * Every backbone served, the default first, then any pair of them after its members (`members`,
   * no files of its own; shared/model/backbone-pair.ts): heads for any of them are stored and
   * synced; only the default runs at the edge.
   */
  backbones: ServedBackbone[];
  heads: (Omit<Manifest['heads'][number], 'files' | 'url' | 'document'> & { url: string; document: ServedFile; files: ServedFile[] })[];
  /**
   * Object detectors the app downloads only when the person turns "find the object first" on
   * (issue 17; never run at the edge). Always sent (empty when none is served); absent in answers
   * stored by apps before detectors.
   */
  detectors?: ServedDetector[];
}

/** A detector as `GET /v1/models` serves it: its files with absolute URLs. */
export type ServedDetector = Omit<DetectorManifest, 'files'> & { files: ServedFile[] };

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
  /**
   * The isolate's cache of loaded personal and published heads: bytes counted now (cached, loading
   * and evicted-but-in-use), the budget, the highest count so far and loads refused with a 503.
   */
  headCache?: { entries: number; bytes: number; maxBytes: number; peakBytes: number; refused: number };
}

/** `GET /_diag/forward?n=N` answer (local development only): each forward pass alone, in ms. */
export interface ForwardTimingResponse {
  ms: number[];
}

/** `GET /_diag/storage` answer (local development only): the isolate's storage calls so far. */
export interface StorageCounts {
  /** D1 statements executed (`first`, `run`, `all`, `raw`; each statement of a `batch`; `exec`). */
  d1Queries: number;
  /** R2 calls (`get`, `head`, `put`, `delete`, `list`, multipart). */
  r2Operations: number;
}

/**
 * A token as issued by `POST /v1/accounts`, `POST /v1/pairing-codes/redeem` and
 * `POST /v1/accounts/me/token`. The token is shown this once; the server keeps only its hash.
 */
export interface TokenResponse {
  accountId: string;
  /** Public id of this token (`GET /v1/tokens`, `DELETE /v1/tokens/:id`). */
  tokenId: string;
  /** `tnr_` + 43 characters; send as `Authorization: Bearer <token>`. */
  token: string;
}

/** `POST /v1/accounts` body (optional). */
export interface CreateAccountRequest {
  /** A name for the first token's device (at most 100 characters). */
  label?: string | null;
}

/** `GET /v1/accounts/me` answer. */
export interface AccountResponse {
  accountId: string;
  /** The token this request was made with. */
  tokenId: string;
  /** ISO 8601. */
  created: string;
  heads: number;
}

/** One token of the account, as `GET /v1/tokens` lists it. */
export interface TokenInfo {
  id: string;
  label: string | null;
  /** ISO 8601. */
  created: string;
  /** ISO 8601, to the hour; null if never used after issue. */
  lastUsed: string | null;
  /** True for the token this request was made with. */
  current: boolean;
}

/** `GET /v1/tokens` answer. */
export interface TokensResponse {
  tokens: TokenInfo[];
}

/** `POST /v1/pairing-codes` answer. */
export interface PairingCodeResponse {
  /** Eight characters, shown as `XXXX-XXXX`; case, spaces and hyphens are ignored when typed. */
  code: string;
  /** ISO 8601. */
  expiresAt: string;
  expiresInSeconds: number;
}

/** `POST /v1/pairing-codes/redeem` body. */
export interface RedeemRequest {
  code: string;
  /** A name for the new device's token (at most 100 characters). */
  label?: string;
}

/** A stored head as the index describes it (`GET /v1/heads`, and the answer to a `PUT`). */
export interface HeadSummary {
  id: string;
  name: string;
  /** Quoted, as in the `ETag` header: send it back in `If-Match`. */
  etag: string;
  /** 1 on creation, +1 per update. */
  version: number;
  /** `<backbone id>@<version>` the head was made for. */
  backbone: string;
  classes: string[];
  /** Size of the stored document. */
  bytes: number;
  /** The document carries fine-tuned backbone layers (`backboneTail`). */
  fineTuned: boolean;
  /** ISO 8601, server time. */
  created: string;
  updated: string;
}

/** `GET /v1/heads` answer. */
export interface HeadsResponse {
  heads: HeadSummary[];
}

/** Media type of head documents (`PUT` and `GET /v1/heads/:id`). */
export const HEAD_TYPE = 'application/json';

/** Media types the image endpoints accept. */
export const IMAGE_TYPES = ['image/jpeg', 'image/png'] as const;
export const EMBEDDING_TYPE = 'application/octet-stream';

/** A default head the operator published (`PUT /v1/operator/heads/<name>`, `GET /v1/operator/heads`). */
export interface PublishedHeadSummary {
  /** The name it is served under: `/v1/predict?head=<name>`, its `id` in `/v1/models`. */
  name: string;
  /** The document's human-readable name. */
  displayName: string;
  /** The uploaded document's own id. */
  sourceId: string;
  /** Quoted SHA-256 of the served document. */
  etag: string;
  /** 1 when first published, +1 per replacement. */
  version: number;
  backbone: string;
  classes: string[];
  bytes: number;
  /** True when it shadows a head shipped with the deploy of the same name (published with replace). */
  shadowsShipped: boolean;
  created: string;
  updated: string;
}

/** `GET /v1/operator/heads` answer. */
export interface PublishedHeadsResponse {
  heads: PublishedHeadSummary[];
}

/** Shortest operator token (Worker secret `OPERATOR_TOKEN`) the Worker accepts; shorter keeps the operator API off. */
export const MIN_OPERATOR_TOKEN_LENGTH = 32;
