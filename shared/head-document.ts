/**
 * The one head format. A head is a small TF.js layers model that maps the (transformed) embedding
 * to class scores. Everywhere a head is stored or sent — IndexedDB, sync uploads, the Worker's
 * static assets — it is this single JSON document: TF.js model artifacts (topology, weight specs,
 * weights as base64) plus tannerin metadata. Export splits it into a standard `model.json` plus a
 * weights file.
 */
import type { InputTransform } from './manifest.ts';
import { base64ToBytes, bytesToBase64 } from './base64.ts';

/** A weight entry as in a TF.js `weightsManifest`, quantization included. */
export interface HeadWeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  quantization?: { dtype: 'uint8' | 'uint16' | 'float16'; min?: number; scale?: number };
}

/** Quality figures measured when the head was trained (absent for shipped heads). */
export interface HeadMetrics {
  accuracy: number;
  perClass: Record<string, number>;
  confusion: number[][];
  n: number;
}

export interface HeadDocument {
  format: 'tannerin-head';
  formatVersion: 1;
  id: string;
  name: string;
  classes: string[];
  /** `<backbone id>@<backbone version>`. */
  backbone: string;
  input: InputTransform;
  metrics: HeadMetrics | null;
  /** ISO 8601. */
  created: string;
  /** Keras model config as TF.js writes it in `model.json` (`modelTopology`). */
  modelTopology: Record<string, unknown>;
  weightSpecs: HeadWeightSpec[];
  /** All weights, concatenated in `weightSpecs` order, base64. */
  weightData: string;
}

/** The parts of a head document TF.js needs, in the shape of `tf.io.ModelArtifacts`. */
export interface HeadArtifacts {
  modelTopology: Record<string, unknown>;
  weightSpecs: HeadWeightSpec[];
  weightData: ArrayBuffer;
}

/** Decodes the weights of a head document into TF.js model artifacts. */
export function headArtifacts(doc: HeadDocument): HeadArtifacts {
  const bytes = base64ToBytes(doc.weightData);
  return {
    modelTopology: doc.modelTopology,
    weightSpecs: doc.weightSpecs,
    weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
  };
}

/** Builds a head document from TF.js artifacts and tannerin metadata. */
export function makeHeadDocument(
  meta: Omit<HeadDocument, 'format' | 'formatVersion' | 'modelTopology' | 'weightSpecs' | 'weightData'>,
  artifacts: { modelTopology: Record<string, unknown>; weightSpecs: HeadWeightSpec[]; weightData: Uint8Array },
): HeadDocument {
  return {
    format: 'tannerin-head',
    formatVersion: 1,
    ...meta,
    modelTopology: artifacts.modelTopology,
    weightSpecs: artifacts.weightSpecs,
    weightData: bytesToBase64(artifacts.weightData),
  };
}

/** Splits a head document into a standard TF.js `model.json` (weights in `weightsFile`) and its weights. */
export function exportHeadFiles(
  doc: HeadDocument,
  weightsFile = 'weights.bin',
): { modelJson: Record<string, unknown>; weights: Uint8Array } {
  return {
    modelJson: {
      format: 'layers-model',
      generatedBy: 'tannerin',
      convertedBy: null,
      modelTopology: doc.modelTopology,
      weightsManifest: [{ paths: [weightsFile], weights: doc.weightSpecs }],
      userDefinedMetadata: {
        tannerin: {
          id: doc.id,
          name: doc.name,
          classes: doc.classes,
          backbone: doc.backbone,
          input: doc.input,
          metrics: doc.metrics,
          created: doc.created,
        },
      },
    },
    weights: base64ToBytes(doc.weightData),
  };
}

/** The tannerin metadata `exportHeadFiles` writes into `userDefinedMetadata.tannerin`. */
type ExportedMeta = Omit<HeadDocument, 'format' | 'formatVersion' | 'modelTopology' | 'weightSpecs' | 'weightData'>;

/**
 * Reads a head back from standard TF.js files written by `exportHeadFiles` (`model.json` parsed,
 * plus its weight files concatenated in manifest order). Throws naming what is missing.
 */
export function importHeadFiles(modelJson: Record<string, unknown>, weights: Uint8Array): HeadDocument {
  const meta = (modelJson.userDefinedMetadata as { tannerin?: ExportedMeta } | undefined)?.tannerin;
  if (!meta || typeof meta.id !== 'string' || !Array.isArray(meta.classes)) {
    throw new Error('model.json has no tannerin head metadata (userDefinedMetadata.tannerin)');
  }
  const groups = modelJson.weightsManifest as { weights: HeadWeightSpec[] }[] | undefined;
  const topology = modelJson.modelTopology as Record<string, unknown> | undefined;
  if (!Array.isArray(groups) || !topology) throw new Error('model.json lacks modelTopology or weightsManifest');
  return makeHeadDocument(
    {
      id: meta.id,
      name: meta.name,
      classes: meta.classes,
      backbone: meta.backbone,
      input: meta.input,
      metrics: meta.metrics,
      created: meta.created,
    },
    { modelTopology: topology, weightSpecs: groups.flatMap((g) => g.weights), weightData: weights },
  );
}
