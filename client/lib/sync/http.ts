/**
 * The sync's HTTP client of the Worker's API (README "Accounts and tokens", "Heads"): requests
 * that wait out 429s, the API's errors as `TannerinError`s, and fetching one head, validated
 * before anything stores it.
 */
import { TannerinError, type ErrorCode } from '../../../shared/errors.ts';
import type { HeadDocument } from '../../../shared/head/document.ts';
import { needsBackboneLayers, pairRefusal } from '../../../shared/head/backbone-layers.ts';
import { featureMapShape } from '../../../shared/crop/crop-step.ts';
import { parseHeadDocument, validateHeadDocument } from '../../../shared/head/validate.ts';
import { backboneRef } from '../../../shared/model/manifest.ts';
import { sha256Hex } from '../../../shared/util/hash.ts';
import { currentBackbone, loadedBackbone } from '../current-backbone.ts';
import type { SyncAccountRecord } from '../db.ts';
import { findServedBackbone, loadedManifest, servedBackboneModelJson } from '../model-store.ts';

/** How many times a rate-limited (429) request is retried. */
const MAX_RATE_LIMIT_RETRIES = 5;
/** Longest wait honoured from one `Retry-After`, in seconds. */
const MAX_RETRY_AFTER_SECONDS = 120;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Seconds to wait from a `Retry-After` header (seconds or an HTTP date); 1 when absent. */
function retryAfterSeconds(value: string | null): number {
  if (!value) return 1;
  const n = Number(value);
  const s = Number.isFinite(n) ? n : (Date.parse(value) - Date.now()) / 1000;
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(0, Number.isFinite(s) ? s : 1));
}

/** A fetch to the API that waits out 429s (per `Retry-After`). Network failures throw `TypeError`. */
export async function request(apiBase: string, path: string, init: { method?: string; token?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(new URL(path, apiBase), { method: init.method ?? 'GET', headers, ...(init.body === undefined ? {} : { body: init.body }) });
    if (res.status !== 429 || attempt >= MAX_RATE_LIMIT_RETRIES) return res;
    await res.body?.cancel();
    await sleep(retryAfterSeconds(res.headers.get('retry-after')) * 1000);
  }
}

/** The API's error for a non-OK response (`{"error": {code, message}}`), with its ETag header. */
export async function apiError(res: Response): Promise<TannerinError> {
  let code: ErrorCode = res.status === 401 ? 'unauthorized' : 'internal_error';
  let message = `HTTP ${res.status}`;
  try {
    const body = (await res.json()) as { error?: { code?: ErrorCode; message?: string } };
    if (body.error?.code) code = body.error.code;
    if (body.error?.message) message = body.error.message;
  } catch {
    // Not JSON: keep the status.
  }
  const etag = res.headers.get('etag');
  return new TannerinError(code, message, etag ? { headers: { etag } } : {});
}

/** The JSON body of an OK response; otherwise throws the API's error. */
export async function json<T>(res: Response): Promise<T> {
  if (!res.ok) throw await apiError(res);
  return (await res.json()) as T;
}

/**
 * Fetches and validates a head against the backbone it names, when the manifest serves that one
 * (downloaded or not: a head on a backbone this device lacks is stored, and listed with what it
 * needs); throws `TannerinError` (e.g. `backbone_mismatch` for a backbone not served) if it cannot
 * be used here, and the pull marks it `error` with that reason instead of storing it.
 *
 * A head that reads its backbone's own layers (a fine-tuned model's tail, a crop's feature map:
 * shared/head/backbone-layers.ts) is checked as the Worker checks uploads, against the backbone's
 * `model.json` (and refused for a pair); a feature-map crop also against the backbone's folded
 * graph when it is loaded here, which the Worker's upload check does not do: a layer folded into
 * the one before it (e.g. `bn_Conv1`) is in `model.json` but its output is never computed, so such
 * a head would otherwise be stored and fail only when it first predicts.
 */
export async function fetchHead(account: SyncAccountRecord, id: string): Promise<{ doc: HeadDocument; etag: string }> {
  const res = await request(account.apiBase, `/v1/heads/${id}`, { token: account.token });
  if (!res.ok) throw await apiError(res);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const etag = res.headers.get('etag') ?? `"${await sha256Hex(bytes)}"`;
  const value = parseHeadDocument(bytes);
  const named = typeof value === 'object' && value !== null && 'backbone' in value && typeof value.backbone === 'string' ? value.backbone : null;
  const served = named !== null ? findServedBackbone(loadedManifest(), named) : undefined;
  const current = currentBackbone();
  const manifest = served ?? current.manifest;
  const refused = pairRefusal(value, manifest);
  if (refused) throw refused;
  const layersCheck = needsBackboneLayers(value) ? { backboneModel: served ? await servedBackboneModelJson(backboneRef(served)) : current.modelJson } : {};
  const { doc } = validateHeadDocument(value, manifest, layersCheck);
  if (doc.id !== id) throw new TannerinError('invalid_head', `the server answered head ${doc.id} for ${id}`);
  // The crop's layer in the graph this device runs (when loaded): throws `invalid_head` naming it.
  const graph = loadedBackbone(doc.backbone)?.graph;
  if (doc.crop?.method === 'featuremap' && graph) featureMapShape(graph, doc.crop.layer);
  return { doc, etag };
}

/** A 401 from the API: the server does not know this device's token (any more). */
export function isUnauthorized(err: unknown): boolean {
  return err instanceof TannerinError && err.code === 'unauthorized';
}

/** An error's message, whatever was thrown. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
