/**
 * The opt-in object detector of "find the object first" (issue 17): CenterNet (4.1 MB,
 * shared/crop/detector-box.ts), which the server lists in `/v1/models` `detectors[]`
 * (scripts/prepare-models.ts) and the app downloads ONLY when the person turns it on.
 *
 * - The choice is a setting (`settings` record `detector`, {@link DetectorChoice}), kept across
 *   reloads; off by default. A page reads it once and keeps it in memory until a `models-updated`
 *   change (here or from another tab, whose turning it on or off sends one) drops it
 *   ({@link detectorChoice}, {@link onDetectorChoice}).
 * - Turning it on ({@link turnDetectorOn}) has its files the way the backbone's are had
 *   (client/lib/model-store.ts `haveFiles`): from IndexedDB (`modelFiles`, by content hash, verified)
 *   when stored, else downloaded once with byte-level progress and Cancel (an AbortSignal),
 *   verified and stored. The HTTP cache keeps no second copy (`no-store`); the files are
 *   immutable-cached on the server side. model-store keeps the served detectors' files when it
 *   drops unreferenced ones.
 * - Loaded as a TF.js graph model (`@tensorflow/tfjs-converter`, imported on first use so the app's
 *   bundle does not carry it until then) on the active (WASM) backend, from the stored bytes: after
 *   the first download no request is made, and it works offline (the manifest stored with the
 *   backbone's lists it).
 * - {@link detectBox}: one 512 x 512 pass, decoded by shared/crop/detector-box.ts; every tensor
 *   disposed. While on, the prediction layer's crop step runs detector crops through it
 *   (shared/crop/crop-step.ts `setDetectorRunner`): a detector-crop head predicts in the browser.
 * - Turning it off ({@link turnDetectorOff}) frees the model's memory; the weights stay stored
 *   unless the person also chooses to delete them (`deleteWeights`).
 */
import type * as tfc from '@tensorflow/tfjs-converter';
import * as tf from '@tensorflow/tfjs-core';
import type { ModelsResponse, ServedDetector } from '../../shared/api/types.ts';
import { setDetectorRunner } from '../../shared/crop/crop-step.ts';
import { bestDetection, CENTERNET_ID, CENTERNET_INPUT, CENTERNET_OUTPUT, CENTERNET_SIDE, type Detection } from '../../shared/crop/detector-box.ts';
import { preprocess, type RgbaPixels } from '../../shared/image/preprocess.ts';
import { startBackend } from './backend.ts';
import { notifyChange, onChange } from './changes.ts';
import { openTannerinDb } from './db.ts';
import { haveFiles, loadedManifest } from './model-store.ts';

/** The person's choice, as the `detector` setting stores it. */
export interface DetectorChoice {
  /** "Find the object first" is on: the detector is downloaded and Train tries its crops. */
  on: boolean;
  /** ISO 8601, when it last changed. */
  changed: string;
}

/** The detector as this device has it (the Models screen shows it). */
export interface DetectorStatus {
  /** `centernet-mobilenetv3`: the name detector crops give. */
  id: string;
  /** `<id>@<version>`. */
  ref: string;
  name: string;
  /** Bytes turning it on downloads (all its files). */
  bytes: number;
  /** Bytes of its files stored on this device. */
  storedBytes: number;
  /** The person's choice. */
  on: boolean;
  /** Loaded in this page. */
  loaded: boolean;
}

/** Options for {@link turnDetectorOn}. */
export interface TurnDetectorOnOptions {
  /** Bytes at hand so far (stored ones count at once) out of the total. */
  onProgress?: (done: number, total: number) => void;
  /** Cancels the download (rejects with an AbortError; the setting stays off). */
  signal?: AbortSignal;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
}

const SETTING_KEY = 'detector';
let loaded: { ref: string; model: tfc.GraphModel } | null = null;
let loading: Promise<tfc.GraphModel> | null = null;

/** The served CenterNet, or undefined when the loaded manifest lists none (an older server). */
function servedDetector(manifest: ModelsResponse = loadedManifest()): ServedDetector | undefined {
  return manifest.detectors?.find((d) => d.id === CENTERNET_ID);
}

const refOf = (d: ServedDetector): string => `${d.id}@${d.version}`;

/**
 * The person's choice as this page knows it: read from IndexedDB once, then kept in memory, and
 * dropped by every `models-updated` change (made here, or in another tab: the message a choice
 * stored there sends), so the next call reads it again. Not kept while a read fails.
 */
let knownChoice: Promise<DetectorChoice> | null = null;
let watchingChoice = false;

/**
 * The stored choice (off when never made). Kept in memory between changes (above), so the reads of
 * every `detectBox` and every photo added cost nothing, while a choice made in another tab counts
 * here as soon as its message arrives.
 */
export function detectorChoice(): Promise<DetectorChoice> {
  watchChoice();
  if (knownChoice) return knownChoice;
  const read = readChoice();
  knownChoice = read;
  // A failed read is not kept (unless a change dropped it already: then another read may be kept).
  read.catch(() => {
    if (knownChoice === read) knownChoice = null;
  });
  return read;
}

async function readChoice(): Promise<DetectorChoice> {
  const record = await (await openTannerinDb()).get('settings', SETTING_KEY);
  return record && record.key === SETTING_KEY ? { on: record.on, changed: record.changed } : { on: false, changed: '' };
}

const choiceListeners = new Set<(choice: DetectorChoice) => void>();

/**
 * From the first read in the page: any `models-updated` change, here or from another tab, drops the
 * kept choice, then {@link onDetectorChoice}'s listeners get it read again (in this order, whatever
 * order the page's change listeners were added in).
 */
function watchChoice(): void {
  if (watchingChoice) return;
  watchingChoice = true;
  onChange((message) => {
    if (message.type !== 'models-updated') return;
    knownChoice = null;
    // Turned off in another tab: free this tab's weights too, as turnDetectorOff does here.
    if (loaded) void detectorChoice().then(freeIfOff, () => undefined);
    if (!choiceListeners.size) return;
    void detectorChoice().then(
      (choice) => {
        for (const listener of [...choiceListeners]) listener(choice);
      },
      () => undefined,
    );
  });
}

/** Disposes the loaded model when `choice` is off (a load under way frees the one it replaces, and is refused by detectBox). */
function freeIfOff(choice: DetectorChoice): void {
  if (choice.on || !loaded) return;
  loaded.model.dispose();
  loaded = null;
}

/**
 * Calls `listener` with the choice, read again, after every change that may have changed it (made
 * here or in another tab); returns the unsubscribe function. Use it rather than reading
 * {@link detectorChoice} in an `onChange` listener, which may run before the kept choice is dropped.
 */
export function onDetectorChoice(listener: (choice: DetectorChoice) => void): () => void {
  watchChoice();
  choiceListeners.add(listener);
  return () => choiceListeners.delete(listener);
}

/** `<id>@<version>` of the served detector while the choice is on, else null (no manifest loaded yet: null). Reads no stored files, unlike {@link detectorStatus}. */
export async function activeDetectorRef(): Promise<string | null> {
  if (!(await detectorChoice()).on) return null;
  let detector: ServedDetector | undefined;
  try {
    detector = servedDetector();
  } catch {
    return null;
  }
  return detector ? refOf(detector) : null;
}

async function storeChoice(on: boolean): Promise<void> {
  const next: DetectorChoice = { on, changed: new Date().toISOString() };
  await (await openTannerinDb()).put('settings', { key: SETTING_KEY, ...next });
  knownChoice = Promise.resolve(next);
  // This page's listeners and the other tabs' (the Models screen shows the state; predictions drop
  // their caches; each page drops its kept choice and reads it again).
  notifyChange({ type: 'models-updated', backbone: '' });
}

/** The detector as this device has it, or null when the server serves none (module comment). */
export async function detectorStatus(): Promise<DetectorStatus | null> {
  const detector = servedDetector();
  if (!detector) return null;
  const keys = new Set(await (await openTannerinDb()).getAllKeys('modelFiles'));
  const ref = refOf(detector);
  return {
    id: detector.id,
    ref,
    name: detector.name,
    bytes: detector.bytes,
    storedBytes: detector.files.filter((f) => keys.has(f.sha256)).reduce((a, f) => a + f.bytes, 0),
    on: (await detectorChoice()).on,
    loaded: loaded?.ref === ref,
  };
}

/**
 * Turns "find the object first" on: the detector's files from IndexedDB, else downloaded once
 * (progress, Cancel), then loaded; the choice is stored only once it loaded. Resolves with the
 * new status.
 */
export async function turnDetectorOn(options: TurnDetectorOnOptions = {}): Promise<DetectorStatus> {
  await loadDetectorModel(options);
  await storeChoice(true);
  return (await detectorStatus()) as DetectorStatus;
}

/**
 * Turns it off: frees the loaded model (its weights' memory) and, with `deleteWeights`, deletes
 * its stored files (turning it on again downloads them again). Resolves with the new status.
 */
export async function turnDetectorOff(options: { deleteWeights?: boolean } = {}): Promise<DetectorStatus | null> {
  await storeChoice(false);
  await loading?.catch(() => undefined);
  loaded?.model.dispose();
  loaded = null;
  const detector = servedDetector();
  if (options.deleteWeights && detector) {
    const db = await openTannerinDb();
    const tx = db.transaction('modelFiles', 'readwrite');
    await Promise.all([...detector.files.map((f) => tx.store.delete(f.sha256)), tx.done]);
  }
  return detectorStatus();
}

/** The loaded graph model: at once if loaded, else from IndexedDB, else downloaded and stored (module comment). */
async function loadDetectorModel(options: TurnDetectorOnOptions = {}): Promise<tfc.GraphModel> {
  const detector = servedDetector();
  if (!detector) throw new Error('this server serves no detector (its /v1/models lists none)');
  const ref = refOf(detector);
  if (loaded?.ref === ref) {
    options.onProgress?.(detector.bytes, detector.bytes);
    return loaded.model;
  }
  loading ??= (async () => {
    const db = await openTannerinDb();
    const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    const { have, storageError } = await haveFiles(
      detector.files.map((file) => ({ file, backbone: ref })),
      db,
      doFetch,
      { ...(options.onProgress ? { onProgress: options.onProgress } : {}), ...(options.signal ? { signal: options.signal } : {}) },
    );
    if (storageError) throw new Error(storageError);
    const [jsonFile, ...weightFiles] = detector.files;
    const json = JSON.parse(new TextDecoder().decode(have.get(jsonFile?.sha256 ?? ''))) as {
      modelTopology: tf.io.ModelArtifacts['modelTopology'];
      signature?: tf.io.ModelArtifacts['signature'];
      weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
    };
    const parts = weightFiles.map((f) => have.get(f.sha256) as Uint8Array);
    const weights = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    parts.reduce((offset, p) => (weights.set(p, offset), offset + p.length), 0);
    await startBackend();
    const { loadGraphModel } = await import('@tensorflow/tfjs-converter');
    const model = await loadGraphModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
        weightData: weights.buffer,
        ...(json.signature ? { signature: json.signature } : {}),
      }),
    );
    loaded?.model.dispose();
    loaded = { ref, model };
    return model;
  })().finally(() => {
    loading = null;
  });
  return loading;
}

/**
 * The best detection of any class in `pixels` (decoded RGBA, any size): one CenterNet pass at
 * 512 x 512, decoded by shared/crop/detector-box.ts. Loads the model first if it is on and not
 * loaded (from IndexedDB); rejects when it is off. Every tensor is disposed.
 */
export async function detectBox(pixels: RgbaPixels): Promise<Detection | null> {
  if (!(await detectorChoice()).on) throw new Error(DETECTOR_OFF);
  const model = await loadDetectorModel();
  const input = tf.tensor4d(preprocess(pixels, CENTERNET_INPUT), [1, CENTERNET_SIDE, CENTERNET_SIDE, 3]);
  try {
    // No control flow in this graph: the synchronous executor runs it (as the eval does).
    const out = model.execute(input, CENTERNET_OUTPUT) as tf.Tensor;
    try {
      return bestDetection((await out.data()) as Float32Array);
    } finally {
      out.dispose();
    }
  } finally {
    input.dispose();
  }
}

/** Why a detector-crop head does not predict while "find the object first" is off. */
export const DETECTOR_OFF = 'This head finds the object first with a detector: turn on "Find the object first" (Models screen) to predict with it here.';

// The crop step runs detector crops through this module in the browser (module comment); while it
// is off, detectBox says so.
setDetectorRunner(CENTERNET_ID, { detect: detectBox });
