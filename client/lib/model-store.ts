/**
 * Model files in the browser: the backbone and the default heads the Worker's manifest lists, kept
 * in IndexedDB by content hash (once: model files are fetched with `cache: 'no-store'`, so the HTTP
 * cache does not hold a second copy), verified against the manifest's SHA-256 before they are
 * stored and again when loaded. A repeat visit reads every file from IndexedDB and makes no
 * model-file request; a new backbone version is downloaded once and the files no manifest
 * references any more are deleted. Offline, the last manifest stored is used.
 *
 * The manifest may serve several backbones (`backbones[]`). `loadModels` downloads and loads one:
 * the one this device chose (client/lib/backbones.ts), else the manifest's default. Another served
 * backbone is downloaded and loaded on demand by {@link loadServedBackbone} (switching, or a head
 * on it predicting); its files are stored the same way and kept while the manifest serves them.
 *
 * A served pair (`members`, e.g. `mobilenet_v2+inception_v3`; shared/model/backbone-pair.ts) has
 * no files of its own: loading it downloads what is missing of its members' files (one progress),
 * loads each member (a member already loaded is reused, not loaded twice) and composes them.
 */
import type { ModelsResponse, ServedBackbone, ServedFile } from '../../shared/api/types.ts';
import { loadBackbone, type Backbone } from '../../shared/model/backbone.ts';
import { pairBackbone, PairBackboneError } from '../../shared/model/backbone-pair.ts';
import type { LayersModelFile } from '../../shared/model/folded-graph.ts';
import { sha256Hex } from '../../shared/util/hash.ts';
import { importHeadFiles, type HeadDocument } from '../../shared/head/document.ts';
import { backboneRef, type ManifestFile } from '../../shared/model/manifest.ts';
import { activeBackend, startBackend } from './backend.ts';
import { addLoadedBackbone, loadedBackbone, setCurrentBackbone, setDefaultHeads } from './current-backbone.ts';
import { broadcast, notifyChange } from './changes.ts';
import { openTannerinDb, type ModelFileRecord, type TannerinDb } from './db.ts';
import { resumeDetectorCrops } from './detector-crops.ts';
import { resumePendingViews } from './pending-views.ts';
import { formatMegabytes, storageErrorMessage } from './storage.ts';
import { chosenBackboneId, loadStoredBackboneChoice } from './backbone-choice-store.ts';

/** Options for {@link loadModels}. */
export interface LoadModelsOptions {
  /** Bytes of model files available so far (stored ones count at once) out of the total. */
  onProgress?: (done: number, total: number) => void;
  /** Aborts downloads. */
  signal?: AbortSignal;
  /** The database to use (default: the shared `tannerin` connection). */
  db?: TannerinDb;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /**
   * The served backbone to load (its id, e.g. `inception_v3`, or `<id>@<version>`). Default: the
   * one this device chose ({@link chosenBackboneId}) if still served, else the manifest's default.
   */
  backbone?: string;
}

/** What {@link loadModels} loaded, and from where. */
export interface LoadedModels {
  manifest: ModelsResponse;
  /** `network`: fresh from `/v1/models`; `stored`: the last one stored (offline or server error). */
  manifestSource: 'network' | 'stored';
  /** Why the network manifest was not used, when it was not. */
  manifestError?: string;
  /** The backbone loaded (and made current): the one asked for or chosen, else the manifest's default. */
  backbone: Backbone;
  /** The manifest's default heads as head documents, built from their verified files. */
  defaultHeads: HeadDocument[];
  /** Model-file bytes downloaded by this call (0 on a repeat visit). */
  bytesDownloaded: number;
  /** Model-file bytes read from IndexedDB. */
  bytesFromStore: number;
  /** Number of files no longer referenced that were deleted. */
  filesRemoved: number;
  /** Set when the files could not be stored (e.g. quota): the models work, but only this session. */
  storageError?: string;
}

/** A file to have, with the backbone it belongs to (a detector's: its `<id>@<version>`). */
export interface Wanted {
  file: ServedFile;
  backbone: string;
}

/**
 * Loads the backbone (and the default heads' files) the API at `apiBase` serves: from IndexedDB
 * when stored, else downloaded with byte-level progress, verified, and stored. The backbone becomes
 * the one `embed` uses (a previously loaded one is disposed). Starts the TF.js backend with default
 * options if `startBackend` has not been called, while the files are fetched and stored (it is
 * needed only to build the model).
 */
export async function loadModels(apiBase: string, options: LoadModelsOptions = {}): Promise<LoadedModels> {
  // The backend starts (compiling WebAssembly) while the manifest and files are fetched, verified
  // and stored; only building the model below needs it. Its failure is reported there.
  const backendReady = activeBackend() ? undefined : startBackend();
  backendReady?.catch(() => undefined);
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const db = options.db ?? (await openTannerinDb());
  const base = apiBase.replace(/\/+$/, '');

  // The kept backbone choice, read once here for the synchronous readers (it never rejects).
  const choiceRead = loadStoredBackboneChoice(db);
  const { manifest, source, error } = await getManifest(base, db, doFetch, options.signal);
  await choiceRead;
  served = { base, db, doFetch, manifest };
  const chosen = pickServed(manifest, options.backbone ?? chosenBackboneId(), options.backbone !== undefined);
  const wanted = wantedFiles(manifest, chosen);
  const { have, bytesFromStore, bytesDownloaded, storageError } = await haveFiles(wanted, db, doFetch, options);

  await backendReady;
  const backbone = await loadFromFiles(manifest, chosen, have);
  setCurrentBackbone(backbone);
  // Photos whose augmented views a closed page left pending get them now, in the background; and,
  // while the detector is on, the photos' detector crops still missing, a few seconds later.
  resumePendingViews().catch(() => undefined);
  void resumeDetectorCrops();
  const defaultHeads = manifest.heads.map((head) => defaultHeadDocument(head, have));
  setDefaultHeads(defaultHeads);

  // Only now that the new files are loaded: drop the files no manifest entry references (the files
  // of every served backbone stay, downloaded or not, and the served detectors' ones: client/lib/detector.ts).
  const keep = [...wantedFiles(manifest, ...servedBackboneList(manifest)).map((w) => w.file), ...(manifest.detectors ?? []).flatMap((d) => d.files)];
  const filesRemoved = storageError ? 0 : await removeUnreferenced(db, new Set(keep.map((f) => f.sha256)));
  if (bytesDownloaded > 0 || filesRemoved > 0) broadcast({ type: 'models-updated', backbone: backbone.ref });

  return {
    manifest,
    manifestSource: source,
    ...(error ? { manifestError: error } : {}),
    backbone,
    defaultHeads,
    bytesDownloaded,
    bytesFromStore,
    filesRemoved,
    ...(storageError ? { storageError } : {}),
  };
}

/**
 * Every backbone a manifest serves: `backbone` (the default) first, then the others `backbones[]`
 * lists by id (none in a manifest stored before `backbones[]`). A pair is listed only when each of
 * its members is (a manifest whose pair names another version of a member leaves the pair out).
 */
export function servedBackboneList(manifest: ModelsResponse): ServedBackbone[] {
  const list = [manifest.backbone, ...(manifest.backbones ?? []).filter((b) => b.id !== manifest.backbone.id)];
  const singles = new Set(list.filter((b) => !b.members?.length).map(backboneRef));
  return list.filter((b) => !b.members?.length || b.members.every((ref) => singles.has(ref)));
}

/**
 * A served pair's members (served entries, in order), or the backbone itself when it is not a pair.
 * Throws when a member is not served (a manifest that lists a pair lists its members before it).
 */
export function withMembers(manifest: ModelsResponse, backbone: ServedBackbone): ServedBackbone[] {
  if (!backbone.members?.length) return [backbone];
  return backbone.members.map((ref) => {
    const member = servedBackboneList(manifest).find((b) => backboneRef(b) === ref);
    if (!member || member.members?.length) throw new Error(`the pair ${backbone.id} needs ${ref}, which this server does not serve as a backbone`);
    return member;
  });
}

/** Bytes of a served backbone's files (a pair's: its members'). */
function filesOf(manifest: ModelsResponse, backbone: ServedBackbone): ServedFile[] {
  return withMembers(manifest, backbone).flatMap((b) => b.files);
}

/**
 * `chosen` loaded from files at hand (verified): a single backbone loaded; a pair's members each
 * reused if loaded, else loaded and kept (client/lib/current-backbone.ts), then composed.
 */
async function loadFromFiles(manifest: ModelsResponse, chosen: ServedBackbone, have: Map<string, Uint8Array>): Promise<Backbone> {
  if (!chosen.members?.length) return loadBackbone(chosen, fileReader(have));
  const members: Backbone[] = [];
  for (const member of withMembers(manifest, chosen)) {
    const ref = backboneRef(member);
    let loaded = loadedBackbone(ref);
    if (!loaded) {
      loaded = await loadBackbone(member, fileReader(have));
      addLoadedBackbone(loaded);
    }
    members.push(loaded);
  }
  return pairBackbone(chosen, members);
}

/** The served backbone `idOrRef` names (`inception_v3` or `inception_v3@<version>`), or undefined. */
export function findServedBackbone(manifest: ModelsResponse, idOrRef: string): ServedBackbone | undefined {
  return servedBackboneList(manifest).find((b) => b.id === idOrRef || backboneRef(b) === idOrRef);
}

/**
 * The backbone to load: the one named if served; else the default. A name asked for explicitly
 * (`strict`) that is not served is an error; a stored choice that no longer is falls back.
 */
function pickServed(manifest: ModelsResponse, idOrRef: string | null | undefined, strict: boolean): ServedBackbone {
  if (!idOrRef) return manifest.backbone;
  const found = findServedBackbone(manifest, idOrRef);
  if (found) return found;
  if (strict) throw new RangeError(`backbone ${idOrRef} is not served (served: ${servedBackboneList(manifest).map(backboneRef).join(', ')})`);
  return manifest.backbone;
}

// ---------------------------------------------------------------------------------------------
// The other served backbones

/** Where the last {@link loadModels} got its manifest: what later backbone loads use. */
interface ServedSource {
  base: string;
  db: TannerinDb;
  doFetch: typeof fetch;
  manifest: ModelsResponse;
}
let served: ServedSource | null = null;
const loading = new Map<string, Promise<Backbone>>();

/** The manifest the last {@link loadModels} used; throws before one has run. */
export function loadedManifest(): ModelsResponse {
  if (!served) throw new Error('no manifest yet: call loadModels() first');
  return served.manifest;
}

/** One served backbone as this device has it. */
export interface BackboneStatus {
  /** `<id>@<version>`. */
  ref: string;
  id: string;
  /** A pair's members (`<id>@<version>`, in embedding order); absent for a single backbone. */
  members?: string[];
  /** Its input side in pixels (MobileNetV2 224, InceptionV3 299; a pair: its first member's). */
  inputSize: [number, number];
  /** Floats in its embedding. */
  embeddingSize: number;
  /** The manifest's default backbone (the one the edge runs). */
  isDefault: boolean;
  /** Bytes of all its files (a pair: both members'), from the manifest: what a first download costs. */
  totalBytes: number;
  /** Bytes of its files already stored on this device. */
  storedBytes: number;
  /** Bytes still to download before it can load (0 when stored). */
  downloadBytes: number;
  /** Loaded in this page. */
  loaded: boolean;
}

/** Every backbone the loaded manifest serves, default first, with what this device has of it. */
export async function backboneStatuses(): Promise<BackboneStatus[]> {
  const source = served;
  if (!source) throw new Error('no manifest yet: call loadModels() first');
  const keys = new Set(await source.db.getAllKeys('modelFiles'));
  return servedBackboneList(source.manifest).map((b) => {
    const ref = backboneRef(b);
    const files = filesOf(source.manifest, b);
    const totalBytes = files.reduce((a, f) => a + f.bytes, 0);
    const storedBytes = files.filter((f) => keys.has(f.sha256)).reduce((a, f) => a + f.bytes, 0);
    return {
      ref,
      id: b.id,
      ...(b.members?.length ? { members: b.members } : {}),
      inputSize: b.inputSize,
      embeddingSize: b.embedding.size,
      isDefault: ref === backboneRef(source.manifest.backbone),
      totalBytes,
      storedBytes,
      downloadBytes: totalBytes - storedBytes,
      loaded: loadedBackbone(ref) !== undefined,
    };
  });
}

/** Options for {@link loadServedBackbone}. */
export interface LoadBackboneOptions {
  /** Bytes of its files available so far (stored ones count at once) out of the total. */
  onProgress?: (done: number, total: number) => void;
  /** Aborts the download (files already stored stay). */
  signal?: AbortSignal;
}

/**
 * A backbone the loaded manifest serves (`inception_v3` or `<id>@<version>`), loaded: at once if
 * it is, else from IndexedDB, else downloaded with byte-level progress, verified and stored (kept
 * like the first backbone). It stays loaded but does not become current (`useBackbone` does that).
 * Concurrent calls for one backbone share the load.
 */
export async function loadServedBackbone(idOrRef: string, options: LoadBackboneOptions = {}): Promise<Backbone> {
  const source = served;
  if (!source) throw new Error('no manifest yet: call loadModels() first');
  const wantedBackbone = pickServed(source.manifest, idOrRef, true);
  const ref = backboneRef(wantedBackbone);
  const already = loadedBackbone(ref);
  const totalBytes = filesOf(source.manifest, wantedBackbone).reduce((a, f) => a + f.bytes, 0);
  if (already) {
    options.onProgress?.(totalBytes, totalBytes);
    return already;
  }
  let promise = loading.get(ref);
  if (!promise) {
    promise = (async () => {
      // A pair's members' files, with one progress; a loaded member's are read from IndexedDB too
      // (cheap next to a download), in case a release disposes it before the pair is composed.
      const wanted: Wanted[] = withMembers(source.manifest, wantedBackbone).flatMap((b) => b.files.map((file) => ({ file, backbone: backboneRef(b) })));
      const { have, bytesDownloaded, storageError } = await haveFiles(wanted, source.db, source.doFetch, options);
      if (storageError) throw new Error(storageError);
      await startBackend();
      const backbone = await loadFromFiles(source.manifest, wantedBackbone, have);
      addLoadedBackbone(backbone);
      // This page's listeners too (the app lists what each backbone still needs to download).
      if (bytesDownloaded > 0) notifyChange({ type: 'models-updated', backbone: ref });
      return backbone;
    })().finally(() => loading.delete(ref));
    loading.set(ref, promise);
  } else if (options.onProgress) {
    // A second caller waits for the first one's download; it sees the end only.
    void promise.then(() => options.onProgress?.(totalBytes, totalBytes), () => undefined);
  }
  return promise;
}

/**
 * The parsed `model.json` of a served backbone (what a fine-tuned head is checked against), without
 * loading it: from the loaded backbone, else from IndexedDB, else downloaded (a few tens of KB) and
 * stored with the backbone's files.
 */
export async function servedBackboneModelJson(ref: string): Promise<LayersModelFile> {
  const loaded = loadedBackbone(ref);
  if (loaded) return loaded.modelJson;
  const source = served;
  if (!source) throw new Error('no manifest yet: call loadModels() first');
  const backbone = pickServed(source.manifest, ref, true);
  if (backbone.members?.length) throw new PairBackboneError(ref, 'a fine-tuned model');
  const modelJsonFile = backbone.files[0];
  if (!modelJsonFile) throw new Error(`backbone ${ref} lists no files`);
  const { have } = await haveFiles([{ file: modelJsonFile, backbone: ref }], source.db, source.doFetch, {});
  return JSON.parse(new TextDecoder().decode(have.get(modelJsonFile.sha256))) as LayersModelFile;
}

/** The manifest from the network, stored for next time; the stored one if the network fails. */
async function getManifest(
  base: string,
  db: TannerinDb,
  doFetch: typeof fetch,
  signal: AbortSignal | undefined,
): Promise<{ manifest: ModelsResponse; source: 'network' | 'stored'; error?: string }> {
  // Known offline with a manifest stored: use it at once (no request doomed to fail, and no
  // failed-request error in the console).
  if (typeof navigator !== 'undefined' && navigator.onLine === false) {
    const stored = await db.get('manifests', base);
    if (stored) return { manifest: stored.manifest, source: 'stored', error: 'offline' };
  }
  let error: string;
  try {
    const res = await doFetch(`${base}/v1/models`, { cache: 'no-cache', ...(signal ? { signal } : {}) });
    if (!res.ok) throw new Error(`GET ${base}/v1/models answered HTTP ${res.status}`);
    const manifest = (await res.json()) as ModelsResponse;
    try {
      await db.put('manifests', { apiBase: base, manifest, fetched: new Date().toISOString() });
    } catch {
      // Quota: the manifest is small; the model files' put reports the real problem.
    }
    return { manifest, source: 'network' };
  } catch (err) {
    if (signal?.aborted) throw err;
    error = err instanceof Error ? err.message : String(err);
  }
  const stored = await db.get('manifests', base);
  if (!stored) throw new Error(`cannot load the models: ${error}, and none are stored on this device yet`);
  return { manifest: stored.manifest, source: 'stored', error };
}

/** The files of `backbones` (a pair's: its members') and of the default heads, once per content hash. */
function wantedFiles(manifest: ModelsResponse, ...backbones: ServedBackbone[]): Wanted[] {
  const out = new Map<string, Wanted>();
  for (const backbone of backbones.flatMap((b) => withMembers(manifest, b))) {
    const ref = backboneRef(backbone);
    for (const file of backbone.files) if (!out.has(file.sha256)) out.set(file.sha256, { file, backbone: ref });
  }
  for (const head of manifest.heads) {
    for (const file of head.files) if (!out.has(file.sha256)) out.set(file.sha256, { file, backbone: head.backbone });
  }
  return [...out.values()];
}

/** Bytes of model files at hand (read from IndexedDB or downloaded), by SHA-256. */
export interface FilesAtHand {
  have: Map<string, Uint8Array>;
  bytesFromStore: number;
  bytesDownloaded: number;
  storageError?: string;
}

/**
 * Every wanted file: read from IndexedDB and verified (a corrupt one is dropped), the rest
 * downloaded in parallel, verified, and stored. Progress counts stored bytes at once. Also how the
 * opt-in detector's files are had (client/lib/detector.ts).
 */
export async function haveFiles(
  wanted: Wanted[],
  db: TannerinDb,
  doFetch: typeof fetch,
  options: Pick<LoadModelsOptions, 'onProgress' | 'signal'>,
): Promise<FilesAtHand> {
  const total = wanted.reduce((a, w) => a + w.file.bytes, 0);
  let done = 0;
  const progress = (n: number): void => {
    done += n;
    options.onProgress?.(done, total);
  };

  const have = new Map<string, Uint8Array>();
  let bytesFromStore = 0;
  const stored = await Promise.all(wanted.map((w) => db.get('modelFiles', w.file.sha256)));
  for (const [i, record] of stored.entries()) {
    const file = (wanted[i] as Wanted).file;
    if (record && (await matches(record.bytes, file))) {
      have.set(file.sha256, record.bytes);
      bytesFromStore += record.bytes.length;
      progress(record.bytes.length);
    } else if (record) {
      await db.delete('modelFiles', file.sha256);
    }
  }
  options.onProgress?.(done, total);

  const missing = wanted.filter((w) => !have.has(w.file.sha256));
  let bytesDownloaded = 0;
  let storageError: string | undefined;
  await Promise.all(
    missing.map(async (w) => {
      const bytes = await download(w.file, doFetch, progress, options.signal);
      if (!(await matches(bytes, w.file))) {
        throw new Error(`model file ${w.file.path} is corrupt: it does not match the manifest's size and SHA-256`);
      }
      bytesDownloaded += bytes.length;
      have.set(w.file.sha256, bytes);
      const record: ModelFileRecord = { sha256: w.file.sha256, path: w.file.path, backbone: w.backbone, bytes, stored: new Date().toISOString() };
      try {
        await db.put('modelFiles', record);
      } catch (err) {
        storageError ??= storageErrorMessage(err, `the model (${formatMegabytes(total)})`, 'It works for this session and will download again next time.');
      }
    }),
  );
  return { have, bytesFromStore, bytesDownloaded, ...(storageError ? { storageError } : {}) };
}

/** A `FetchFile` over files at hand. */
function fileReader(have: Map<string, Uint8Array>): (file: ManifestFile) => Promise<Uint8Array> {
  return async (file) => {
    const bytes = have.get(file.sha256);
    if (!bytes) throw new Error(`model file ${file.path} is not loaded`);
    return bytes;
  };
}

async function matches(bytes: Uint8Array, file: ManifestFile): Promise<boolean> {
  return bytes.length === file.bytes && (await sha256Hex(bytes)) === file.sha256;
}

/** Downloads one file, reporting bytes as they arrive. */
async function download(
  file: ServedFile,
  doFetch: typeof fetch,
  progress: (n: number) => void,
  signal: AbortSignal | undefined,
): Promise<Uint8Array> {
  // no-store: IndexedDB is the one copy; the HTTP cache would keep a second.
  const res = await doFetch(file.url, { cache: 'no-store', ...(signal ? { signal } : {}) });
  if (!res.ok) throw new Error(`GET ${file.url} answered HTTP ${res.status}`);
  if (!res.body) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    progress(bytes.length);
    return bytes;
  }
  // The manifest gives the size, so the chunks go straight into one buffer.
  const out = new Uint8Array(file.bytes);
  let offset = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (offset + value.length > out.length) {
      await reader.cancel();
      throw new Error(`model file ${file.path} is larger than the ${file.bytes} bytes the manifest says`);
    }
    out.set(value, offset);
    offset += value.length;
    progress(value.length);
  }
  return offset === out.length ? out : out.slice(0, offset);
}

/** Deletes the stored model files whose hash is not in `keep`; returns how many. */
async function removeUnreferenced(db: TannerinDb, keep: Set<string>): Promise<number> {
  const tx = db.transaction('modelFiles', 'readwrite');
  const stale = (await tx.store.getAllKeys()).filter((key) => !keep.has(key));
  await Promise.all([...stale.map((key) => tx.store.delete(key)), tx.done]);
  return stale.length;
}

/** A default head as a head document, from its verified `model.json` and weight files. */
function defaultHeadDocument(head: ModelsResponse['heads'][number], have: Map<string, Uint8Array>): HeadDocument {
  const [modelJsonFile, ...weightFiles] = head.files;
  const modelJsonBytes = modelJsonFile && have.get(modelJsonFile.sha256);
  if (!modelJsonFile || !modelJsonBytes) throw new Error(`head ${head.id}: model.json is missing`);
  const parts = weightFiles.map((f) => {
    const bytes = have.get(f.sha256);
    if (!bytes) throw new Error(`head ${head.id}: ${f.path} is missing`);
    return bytes;
  });
  const weights = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    weights.set(p, offset);
    offset += p.length;
  }
  const json = JSON.parse(new TextDecoder().decode(modelJsonBytes)) as Record<string, unknown>;
  return importHeadFiles(json, weights);
}
