/**
 * Personal heads on the device: several named heads, each a head document (shared/head/document.ts,
 * the one format used everywhere) under a UUID made on the device, plus how this device uses it
 * (`headStates`: head or kNN, which classes and photos it was trained on). One of them is active:
 * `predict` uses it by default.
 *
 * Every save is one IndexedDB transaction (document, state and active-head setting together), so a
 * head is either stored whole or not at all, and announced to the other tabs (`head-saved`,
 * `head-deleted`, `active-head-changed`) which drop their cached copy and reload it
 * ({@link onHeadsChanged}).
 *
 * Export writes standard TF.js files (`model.json` + weights, loadable by `tf.loadLayersModel`)
 * carrying the tannerin metadata; import reads them back, checks them against the loaded backbone
 * and gives the head a new UUID when its id is taken (unless asked to replace). A fine-tuned model
 * (a head document with a `backboneTail`: its own copies of the backbone's top layers) exports a
 * second pair of files for the tail, and imports from both pairs; it is checked against the
 * loaded backbone's own layers.
 */
import { exportBackboneTailFiles, exportHeadFiles, importHeadFiles, type HeadDocument, type HeadMetrics } from '../../shared/head/document.ts';
import { TannerinError } from '../../shared/errors.ts';
import { needsBackboneLayers, pairRefusal } from '../../shared/head/backbone-layers.ts';
import { isHeadId, validateHeadDocument } from '../../shared/head/validate.ts';
import { documentWeightCount } from '../../shared/predict/predictor.ts';
import { currentBackbone, currentBackboneOrNull } from './current-backbone.ts';
import { notifyChange, onChange, type ChangeOrigin } from './changes.ts';
import { openTannerinDb, type HeadStateRecord } from './db.ts';
import { backboneStatuses } from './model-store.ts';
import { toStorageError } from './storage.ts';

/** A stored head as lists show it. */
export interface HeadSummary {
  id: string;
  name: string;
  classes: string[];
  /** `<backbone id>@<version>` it was trained on. */
  backbone: string;
  /**
   * Whether it can predict on this device: its backbone is loaded, or served and stored here (it
   * loads when the head predicts). Else see `needs`, or retrain it after re-embedding the examples.
   */
  usable: boolean;
  /**
   * Set when its backbone is served but not on this device (e.g. a head synced from a device that
   * uses the larger backbone): what to download (`useBackbone` or `loadServedBackbone`) before it
   * can predict. Null otherwise.
   */
  needs: { backbone: string; downloadBytes: number } | null;
  created: string;
  metrics: HeadMetrics | null;
  predictWith: 'head' | 'knn';
  active: boolean;
  /** True for heads imported from files (no training record on this device). */
  imported: boolean;
  /** A fine-tuned model: it carries its own copies of the backbone's top layers. */
  fineTuned: boolean;
  /** Number of weights (head, plus the backbone layers of a fine-tuned model). */
  parameters: number;
  /** Bytes of the head document as stored, exported or synced (JSON, UTF-8). */
  sizeBytes: number;
}

/** Bytes of a head document as JSON (what storage, export and sync carry). */
export function headDocumentBytes(doc: HeadDocument): number {
  return new TextEncoder().encode(JSON.stringify(doc)).length;
}

/** The stored heads, oldest first. */
export async function listHeads(): Promise<HeadSummary[]> {
  const db = await openTannerinDb();
  const tx = db.transaction(['heads', 'headStates', 'settings']);
  const [docs, states, active] = await Promise.all([
    tx.objectStore('heads').index('by-created').getAll(),
    tx.objectStore('headStates').getAll(),
    tx.objectStore('settings').get('activeHead'),
  ]);
  const ref = currentBackboneOrNull()?.ref ?? null;
  const backbones = await backboneStatuses().catch(() => null);
  const stateOf = new Map(states.map((s) => [s.id, s]));
  return docs.map((doc) => {
    const state = stateOf.get(doc.id);
    const backbone = backbones?.find((b) => b.ref === doc.backbone);
    const needs = backbone && backbone.downloadBytes > 0 && !backbone.loaded ? { backbone: backbone.ref, downloadBytes: backbone.downloadBytes } : null;
    return {
      id: doc.id,
      name: doc.name,
      classes: doc.classes,
      backbone: doc.backbone,
      usable: ref === null || doc.backbone === ref || (backbone !== undefined && needs === null),
      needs,
      created: doc.created,
      metrics: doc.metrics,
      predictWith: state?.predictWith ?? 'head',
      active: active?.headId === doc.id,
      imported: !state?.training,
      fineTuned: doc.backboneTail !== undefined,
      parameters: documentWeightCount(doc),
      sizeBytes: headDocumentBytes(doc),
    };
  });
}

/** A stored head document, or undefined. */
export async function getHead(id: string): Promise<HeadDocument | undefined> {
  return (await openTannerinDb()).get('heads', id);
}

/** How this device uses a stored head, or undefined. */
export async function getHeadState(id: string): Promise<HeadStateRecord | undefined> {
  return (await openTannerinDb()).get('headStates', id);
}

/** The active head's id, or null (then `predict` uses the default head). */
export async function activeHeadId(): Promise<string | null> {
  const db = await openTannerinDb();
  return (await db.get('settings', 'activeHead'))?.headId ?? null;
}

/** Makes a stored head the active one (null: none, the default head is used). */
export async function setActiveHead(id: string | null): Promise<void> {
  const db = await openTannerinDb();
  const tx = db.transaction(['heads', 'settings'], 'readwrite');
  if (id !== null && !(await tx.objectStore('heads').get(id))) {
    tx.abort();
    await tx.done.catch(() => undefined);
    throw new RangeError(`no head ${id}`);
  }
  try {
    await Promise.all([tx.objectStore('settings').put({ key: 'activeHead', headId: id }), tx.done]);
  } catch (err) {
    throw toStorageError(err, 'the setting');
  }
  notifyChange({ type: 'active-head-changed', id });
}

/** Renames a head (its document's `name`). */
export async function renameHead(id: string, name: string): Promise<HeadDocument> {
  const trimmed = name.trim();
  if (!trimmed) throw new RangeError('a head needs a name');
  const db = await openTannerinDb();
  const tx = db.transaction('heads', 'readwrite');
  const doc = await tx.store.get(id);
  if (!doc) {
    await tx.done;
    throw new RangeError(`no head ${id}`);
  }
  const renamed: HeadDocument = { ...doc, name: trimmed };
  try {
    await Promise.all([tx.store.put(renamed), tx.done]);
  } catch (err) {
    throw toStorageError(err, 'the new name');
  }
  notifyChange({ type: 'head-saved', id });
  return renamed;
}

/** Deletes a head (document and state); if it was active, no head is. False if there was none. */
export async function deleteHead(id: string): Promise<boolean> {
  const db = await openTannerinDb();
  const tx = db.transaction(['heads', 'headStates', 'settings'], 'readwrite');
  const [doc, active] = await Promise.all([tx.objectStore('heads').get(id), tx.objectStore('settings').get('activeHead')]);
  const wasActive = active?.headId === id;
  await Promise.all([
    tx.objectStore('heads').delete(id),
    tx.objectStore('headStates').delete(id),
    ...(wasActive ? [tx.objectStore('settings').put({ key: 'activeHead', headId: null })] : []),
    tx.done,
  ]);
  if (doc) notifyChange({ type: 'head-deleted', id });
  if (wasActive) notifyChange({ type: 'active-head-changed', id: null });
  return doc !== undefined;
}

/**
 * Stores a head document and its state in ONE transaction (optionally making it active): either
 * both are written or neither, and a head stored before under the same id stays as it was when the
 * write fails. Used by `train` and {@link importHead}.
 */
export async function storeHead(doc: HeadDocument, state: HeadStateRecord, options: { activate?: boolean } = {}): Promise<void> {
  if (state.id !== doc.id) throw new Error(`head state ${state.id} does not belong to head ${doc.id}`);
  const db = await openTannerinDb();
  const tx = db.transaction(['heads', 'headStates', 'settings'], 'readwrite');
  try {
    await Promise.all([
      tx.objectStore('heads').put(doc),
      tx.objectStore('headStates').put(state),
      ...(options.activate ? [tx.objectStore('settings').put({ key: 'activeHead', headId: doc.id })] : []),
      tx.done,
    ]);
  } catch (err) {
    throw toStorageError(err, `the head "${doc.name}"`, 'The head stored before, if any, is unchanged.');
  }
  notifyChange({ type: 'head-saved', id: doc.id });
  if (options.activate) notifyChange({ type: 'active-head-changed', id: doc.id });
}

// ---------------------------------------------------------------------------------------------
// Export and import

/** A head as standard TF.js files (see `exportHeadFiles` in shared/head/document.ts). */
export interface ExportedHead {
  /** `model.json` content; its weights manifest names `weightsFile`. */
  modelJson: Record<string, unknown>;
  weights: Uint8Array;
  /** File names to save them under (`<name>.json`, `<name>.weights.bin`). */
  modelJsonFile: string;
  weightsFile: string;
  /**
   * A fine-tuned model's backbone tail as its own standard TF.js files (`<name>.tail.json`,
   * `<name>.tail.weights.bin`); import needs both pairs.
   */
  tail?: { modelJson: Record<string, unknown>; weights: Uint8Array; modelJsonFile: string; weightsFile: string };
}

/** A file-name-safe form of a head's name. */
function fileStem(name: string): string {
  const stem = name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48);
  return stem || 'head';
}

/** A stored head as standard TF.js `model.json` + weights (with the tannerin metadata). */
export async function exportHead(id: string): Promise<ExportedHead> {
  const doc = await getHead(id);
  if (!doc) throw new RangeError(`no head ${id}`);
  const stem = fileStem(doc.name);
  const weightsFile = `${stem}.weights.bin`;
  const { modelJson, weights } = exportHeadFiles(doc, weightsFile);
  const exported: ExportedHead = { modelJson, weights, modelJsonFile: `${stem}.json`, weightsFile };
  if (doc.backboneTail) {
    // Marks the head's own model.json, so that importing it without the tail files is refused
    // (its head alone, on the frozen embedding, would give wrong scores).
    const meta = (modelJson.userDefinedMetadata as { tannerin: Record<string, unknown> }).tannerin;
    meta.fineTuned = true;
    const tailWeightsFile = `${stem}.tail.weights.bin`;
    const tail = exportBackboneTailFiles(doc, tailWeightsFile);
    exported.tail = { ...tail, modelJsonFile: `${stem}.tail.json`, weightsFile: tailWeightsFile };
  }
  return exported;
}

/**
 * A stored head as downloadable `File`s (Blobs with names): give each to
 * `URL.createObjectURL` and an `<a download>`; both files are needed to load it back, and
 * `tf.loadLayersModel(tf.io.browserFiles([modelJson, weights]))` loads them as they are. A
 * fine-tuned model has two more (`tailModelJson`, `tailWeights`), all four needed.
 */
export async function exportHeadBlobs(id: string): Promise<{ modelJson: File; weights: File; tailModelJson?: File; tailWeights?: File }> {
  const exported = await exportHead(id);
  const json = (value: Record<string, unknown>, name: string) => new File([JSON.stringify(value)], name, { type: 'application/json' });
  const bin = (bytes: Uint8Array, name: string) => new File([bytes as Uint8Array<ArrayBuffer>], name, { type: 'application/octet-stream' });
  return {
    modelJson: json(exported.modelJson, exported.modelJsonFile),
    weights: bin(exported.weights, exported.weightsFile),
    ...(exported.tail ? { tailModelJson: json(exported.tail.modelJson, exported.tail.modelJsonFile), tailWeights: bin(exported.tail.weights, exported.tail.weightsFile) } : {}),
  };
}

/** Options for {@link importHead}. */
export interface ImportHeadOptions {
  /** Replace a stored head with the same id (default false: the import gets a new UUID). */
  replace?: boolean;
  /** Make the imported head the active one (default false). */
  activate?: boolean;
  /** A fine-tuned model's tail files (`tailModelJson`, `tailWeights` of {@link exportHeadBlobs}). */
  tail?: { modelJson: Blob | Record<string, unknown>; weights: Blob | Uint8Array };
}

async function readJsonFile(file: Blob | Record<string, unknown>, what: string): Promise<Record<string, unknown>> {
  if (!(file instanceof Blob)) return file;
  try {
    return JSON.parse(await file.text()) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${what} is not valid JSON`, { cause: err });
  }
}

const readBytes = async (file: Blob | Uint8Array): Promise<Uint8Array> => (file instanceof Blob ? new Uint8Array(await file.arrayBuffer()) : file);

/**
 * Imports a head from the files {@link exportHead} writes (`model.json` as a Blob/File or parsed,
 * and the weights). Checks it with the shared validator (classes, backbone `id@version`, input
 * transform, layers, weight shapes and values); throws an Error saying what is wrong otherwise. An
 * id already stored gets a new UUID unless `replace`. Returns the stored document.
 */
export async function importHead(
  modelJson: Blob | Record<string, unknown>,
  weights: Blob | Uint8Array,
  options: ImportHeadOptions = {},
): Promise<HeadDocument> {
  const json = await readJsonFile(modelJson, 'model.json');
  const bytes = await readBytes(weights);
  const tail = options.tail ? { modelJson: await readJsonFile(options.tail.modelJson, 'the tail model.json'), weights: await readBytes(options.tail.weights) } : undefined;
  const meta = (json.userDefinedMetadata as { tannerin?: { fineTuned?: unknown } } | undefined)?.tannerin;
  if (meta?.fineTuned === true && !tail) {
    throw new Error('this head belongs to a fine-tuned model: import it together with its tail files (<name>.tail.json and <name>.tail.weights.bin)');
  }
  let doc = importHeadFiles(json, bytes, tail);
  checkHead(doc);

  const db = await openTannerinDb();
  const [existing, existingState] = await Promise.all([db.get('heads', doc.id), db.get('headStates', doc.id)]);
  // Personal heads are named by UUIDs made on a device; a default head's name (or a taken id
  // without `replace`) gets a new one.
  if ((existing && !options.replace) || !isHeadId(doc.id)) doc = { ...doc, id: crypto.randomUUID() };
  // Replacing a head with the same classes keeps what this device knows about its classes.
  const keep = existing && options.replace && existingState && sameList(existing.classes, doc.classes);
  const state: HeadStateRecord = {
    id: doc.id,
    predictWith: 'head',
    classIds: keep ? existingState.classIds : null,
    trainedOn: null,
    training: null,
    updated: new Date().toISOString(),
  };
  await storeHead(doc, state, { activate: options.activate ?? false });
  return doc;
}

/**
 * Throws, saying what is wrong, unless `doc` can run here: the shared validator
 * (shared/head/validate.ts, the same checks the Worker applies to uploads) against the loaded
 * backbone, and for a fine-tuned model or a crop head against the backbone's own layers.
 */
export function checkHead(doc: unknown, options: { requireHeadId?: boolean } = {}): HeadDocument {
  const backbone = currentBackbone();
  try {
    const refused = pairRefusal(doc, backbone.manifest);
    if (refused) throw refused;
    // A fine-tuned model's tail and a crop's layer are checked against the backbone's own layers.
    const needsLayers = needsBackboneLayers(doc);
    return validateHeadDocument(doc, backbone.manifest, { requireHeadId: options.requireHeadId ?? false, ...(needsLayers ? { backboneModel: backbone.modelJson } : {}) }).doc;
  } catch (err) {
    if (err instanceof TannerinError && err.code === 'backbone_mismatch') {
      throw new Error(`the head was made for backbone ${String((doc as { backbone?: unknown }).backbone)}, but this device runs ${backbone.ref}: retrain it here instead`, { cause: err });
    }
    throw err;
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// ---------------------------------------------------------------------------------------------
// Changes

/** A change to the stored heads. */
export type HeadChange =
  | { type: 'head-saved'; id: string; origin: ChangeOrigin }
  | { type: 'head-deleted'; id: string; origin: ChangeOrigin }
  | { type: 'active-head-changed'; id: string | null; origin: ChangeOrigin };

/**
 * Calls `handler` when a head is saved, deleted or made active, in this page or in another tab
 * (`origin`). `predict` already reloads its cached heads on these; the app uses it to refresh
 * what it shows. Returns the unsubscribe function.
 */
export function onHeadsChanged(handler: (change: HeadChange) => void): () => void {
  return onChange((message, origin) => {
    if (message.type === 'head-saved' || message.type === 'head-deleted' || message.type === 'active-head-changed') {
      handler({ ...message, origin });
    }
  });
}
