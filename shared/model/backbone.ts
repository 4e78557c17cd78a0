/**
 * The frozen backbone: loads the TF.js layers model the manifest describes (verifying every file
 * against its SHA-256), folds it for inference (shared/model/folded-graph.ts) and turns
 * preprocessed pixels into the embedding. Runs on whichever TF.js
 * backend is active; the caller starts it first (shared/model/wasm-backend.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import type { BackboneManifest, ManifestFile } from './manifest.ts';
import { decodeWeights, FoldedGraph, type LayersModelFile } from './folded-graph.ts';
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
   * A pair's loaded members, in embedding order (shared/model/backbone-pair.ts); absent for a single
   * backbone. A pair has no graph of its own: its `graph`, `modelJson`, `run`, `layersModel` and
   * `embedPreprocessed` throw a `PairBackboneError`.
   */
  readonly members?: readonly Backbone[];
  /**
   * The backbone folded for inference (shared/model/folded-graph.ts): every frozen forward pass
   * runs through it. Never dispose it directly, use `dispose()`.
   */
  readonly graph: FoldedGraph;
  /** The backbone's `model.json` (topology and weights manifest), which fine-tuned documents are checked against. */
  readonly modelJson: LayersModelFile;
  /**
   * The unfolded TF.js layers model, built on first call from the same files (fetched and verified
   * again) and then kept until `dispose()`: what fine-tuning's trainable tail starts from
   * (shared/model/backbone-split.ts), and what tests and the bench compare the folded graph with.
   * Its weights are a second copy, so the Worker never builds it.
   */
  layersModel(): Promise<LayersModel>;
  /** Embedding of already-preprocessed input (`preprocess()` output). */
  embedPreprocessed(input: Float32Array): Promise<Float32Array>;
  /** Embedding of RGBA pixels of any size. */
  embed(pixels: RgbaPixels): Promise<Float32Array>;
  /**
   * The outputs of the named layers (nodes of `graph`) for one preprocessed image, each flattened,
   * in order: a fine-tuned model's cut activation and the embedding parts it does not recompute.
   */
  run(input: Float32Array, layers: readonly string[]): Promise<Float32Array[]>;
  /** Frees the folded weights (and the layers model's, if it was built). */
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

/** The concatenation of weight files, in manifest order. */
function concatenate(files: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(files.reduce((a, w) => a + w.length, 0));
  let offset = 0;
  for (const w of files) {
    out.set(w, offset);
    offset += w.length;
  }
  return out;
}

/** Builds a TF.js layers model from `model.json` bytes plus its weight files (in manifest order). */
export async function layersModelFromFiles(modelJson: Uint8Array, weightFiles: Uint8Array[]): Promise<LayersModel> {
  const json = JSON.parse(new TextDecoder().decode(modelJson)) as LayersModelJson;
  const weightSpecs = json.weightsManifest.flatMap((g) => g.weights);
  return loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData: concatenate(weightFiles).buffer as ArrayBuffer }));
}

/**
 * Loads and verifies the backbone the manifest describes, folded for inference: the weights are
 * decoded and folded in JS, so the backend holds only the folded ones.
 */
export async function loadBackbone(manifest: BackboneManifest, fetchFile: FetchFile, onProgress?: LoadProgress): Promise<Backbone> {
  const [modelJsonBytes, ...weightFiles] = await fetchVerified(manifest.files, fetchFile, onProgress);
  if (!modelJsonBytes) throw new Error('backbone manifest lists no files');
  const modelJson = JSON.parse(new TextDecoder().decode(modelJsonBytes)) as LayersModelFile;
  const graph = FoldedGraph.fromModelFile(modelJson, decodeWeights(modelJson.weightsManifest.flatMap((g) => g.weights), concatenate(weightFiles)));
  const spec = manifest.normalization;
  const outSize = graph.shapeOf(graph.output);
  if (outSize?.length !== 1 || outSize[0] !== manifest.embedding.size) {
    graph.dispose();
    throw new Error(`backbone outputs ${JSON.stringify(outSize)} floats, manifest says ${manifest.embedding.size}`);
  }
  if (graph.inputShape.join() !== [spec.height, spec.width, 3].join()) {
    graph.dispose();
    throw new Error(`backbone input is ${JSON.stringify(graph.inputShape)}, manifest says ${spec.height}x${spec.width}x3`);
  }

  // The input shape was checked against the manifest above.
  const run = (input: Float32Array, layers: readonly string[]): Promise<Float32Array[]> => graph.run(input, layers);
  const embedPreprocessed = async (input: Float32Array): Promise<Float32Array> => (await run(input, [graph.output]))[0] as Float32Array;
  let unfolded: Promise<LayersModel> | null = null;
  let disposed = false;
  return {
    manifest,
    ref: backboneRef(manifest),
    graph,
    modelJson,
    layersModel() {
      unfolded ??= fetchVerified(manifest.files, fetchFile).then(([json, ...weights]) => layersModelFromFiles(json as Uint8Array, weights));
      unfolded.catch(() => {
        unfolded = null;
      });
      return unfolded;
    },
    embedPreprocessed,
    embed: (pixels) => embedPreprocessed(preprocess(pixels, spec)),
    run,
    dispose() {
      if (disposed) return;
      disposed = true;
      graph.dispose();
      void unfolded?.then((m) => m.dispose(), () => undefined);
    },
  };
}
