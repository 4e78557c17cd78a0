/**
 * The frozen backbone: loads the TF.js layers model the manifest describes (verifying every file
 * against its SHA-256) and turns preprocessed pixels into the embedding. Runs on whichever TF.js
 * backend is active; the caller starts it first (shared/model/wasm-backend.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import type { BackboneManifest, ManifestFile } from './manifest.ts';
import { backboneRef } from './manifest.ts';
import { preprocess, type RgbaPixels } from '../image/preprocess.ts';
import { sha256Hex } from '../util/hash.ts';

/** Fetches a manifest file's bytes by its site-relative path. */
export type FetchFile = (file: ManifestFile) => Promise<Uint8Array>;

/** Bytes of model files received so far, for progress bars. */
export type LoadProgress = (done: number, total: number) => void;

export interface Backbone {
  readonly manifest: BackboneManifest;
  /** `<id>@<version>`. */
  readonly ref: string;
  /**
   * The loaded TF.js layers model (output: the embedding). For building views of it, e.g. up to a
   * fine-tuned model's cut (shared/predict/predictor.ts); never dispose it directly, use `dispose()`.
   */
  readonly model: LayersModel;
  /** Embedding of already-preprocessed input (`preprocess()` output). */
  embedPreprocessed(input: Float32Array): Promise<Float32Array>;
  /** Embedding of RGBA pixels of any size. */
  embed(pixels: RgbaPixels): Promise<Float32Array>;
  /** Frees the model's weights. */
  dispose(): void;
}

/** Fetches every file, checks its size and hash, and throws naming the first that differs. */
export async function fetchVerified(files: ManifestFile[], fetchFile: FetchFile, onProgress?: LoadProgress): Promise<Uint8Array[]> {
  const total = files.reduce((a, f) => a + f.bytes, 0);
  let done = 0;
  return Promise.all(
    files.map(async (file) => {
      const bytes = await fetchFile(file);
      const hash = await sha256Hex(bytes);
      if (bytes.length !== file.bytes || hash !== file.sha256) {
        throw new Error(`model file ${file.path} is corrupt: expected ${file.bytes} bytes sha256 ${file.sha256}, got ${bytes.length} bytes sha256 ${hash}`);
      }
      done += bytes.length;
      onProgress?.(done, total);
      return bytes;
    }),
  );
}

interface LayersModelJson {
  modelTopology: Record<string, unknown>;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/** Builds a TF.js layers model from `model.json` bytes plus its weight files (in manifest order). */
export async function layersModelFromFiles(modelJson: Uint8Array, weightFiles: Uint8Array[]): Promise<LayersModel> {
  const json = JSON.parse(new TextDecoder().decode(modelJson)) as LayersModelJson;
  const weightSpecs = json.weightsManifest.flatMap((g) => g.weights);
  const size = weightFiles.reduce((a, w) => a + w.length, 0);
  const weightData = new Uint8Array(size);
  let offset = 0;
  for (const w of weightFiles) {
    weightData.set(w, offset);
    offset += w.length;
  }
  return loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData: weightData.buffer }));
}

/** Loads and verifies the backbone the manifest describes. */
export async function loadBackbone(manifest: BackboneManifest, fetchFile: FetchFile, onProgress?: LoadProgress): Promise<Backbone> {
  const [modelJson, ...weights] = await fetchVerified(manifest.files, fetchFile, onProgress);
  if (!modelJson) throw new Error('backbone manifest lists no files');
  const model = await layersModelFromFiles(modelJson, weights);
  const spec = manifest.normalization;
  const shape: [number, number, number, number] = [1, spec.height, spec.width, 3];
  const outSize = model.outputs[0]?.shape[1];
  if (outSize !== manifest.embedding.size) {
    model.dispose();
    throw new Error(`backbone outputs ${String(outSize)} floats, manifest says ${manifest.embedding.size}`);
  }

  const embedPreprocessed = async (input: Float32Array): Promise<Float32Array> => {
    const out = tf.tidy(() => model.predict(tf.tensor4d(input, shape)) as tf.Tensor);
    try {
      return (await out.data()) as Float32Array;
    } finally {
      out.dispose();
    }
  };
  return {
    manifest,
    ref: backboneRef(manifest),
    model,
    embedPreprocessed,
    embed: (pixels) => embedPreprocessed(preprocess(pixels, spec)),
    dispose: () => model.dispose(),
  };
}
