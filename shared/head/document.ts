/**
 * The one head format. A head is a small TF.js layers model that maps the (transformed) embedding
 * to class scores. Everywhere a head is stored or sent — IndexedDB, sync uploads, the Worker's
 * static assets — it is this single JSON document: TF.js model artifacts (topology, weight specs,
 * weights as base64) plus tannerin metadata. Export splits it into a standard `model.json` plus a
 * weights file.
 *
 * A FINE-TUNED personal model (shared/learn/fine-tune.ts) is the same document plus an optional
 * `backboneTail` section: personal copies of the backbone's top layers. Prediction then runs the
 * frozen backbone up to the `cut` layer, the tail's layers from the cut activation on, takes the
 * embedding parts the tail recomputes (`backboneTail.parts`) from the tail and the others from the
 * frozen backbone, and applies `input` and the head to that embedding as usual. The section:
 *
 *   backboneTail: {
 *     cut: "block_15_add",               // backbone layer whose output enters the tail
 *     cutShape: [7, 7, 160],             // that output's shape for one image (no batch axis)
 *     parts: ["block_16_expand_relu", "flatten_1"],  // embedding parts recomputed, = tail outputs in order
 *     modelTopology: {...},              // Keras functional model: one input (cutShape), one output
 *                                        // per part, already pooled as the manifest's part says
 *     weightSpecs: [...], weightData: "<base64>"     // as for the head (float32)
 *   }
 *
 * Documents without it are plain heads, exactly as before (formatVersion stays 1: the section is
 * optional). A reader that does not know the section must not use such a document on the frozen
 * embedding alone: its head was trained on the personal embedding. An embedding-only prediction
 * cannot use it (the personal layers need the cut activation, i.e. the image).
 * `exportBackboneTailFiles` writes the tail as its own standard TF.js files; the document is the
 * unit that is stored and synced, and fine-tune keeps it under the 8 MB head limit
 * (MobileNetV2: ~4.8 MB with the top block, ~6.5 MB with two).
 *
 * A head may also record TEST-TIME AUGMENTATION (`testTimeAugmentation`, shared/head/tta.ts):
 *
 *   testTimeAugmentation: { views: 3, seed: 0 }
 *
 * A prediction from a photo then embeds the photo and its first `views` augmented views
 * (shared/image/augment.ts `augmentedViews` with that seed: the same views Train stores for each
 * photo, made the same way in every runtime) and averages the head's probabilities over them.
 * Train's guard records it unless it was significantly worse on the held-out photos (shared/learn/train-app.ts).
 * Absent means off: every document without it predicts exactly as before, and formatVersion stays 1.
 *
 * A head may also record a CROP (`crop`, shared/head/crop.ts): it was trained on crops of its
 * photos, and a photo is cut the same way before it is predicted:
 *
 *   crop: { method: "featuremap", layer: "out_relu", threshold: 0.5, pad: 0.15 }
 *
 * Such a document has formatVersion 2 (a reader of version 1 would predict the crops' head on whole
 * frames); every other document stays 1.
 */
import type { InputTransform } from '../model/manifest.ts';
import type { TestTimeAugmentation } from './tta.ts';
import { formatVersionFor, type HeadCrop } from './crop.ts';
import { base64ToBytes, bytesToBase64 } from '../util/base64.ts';

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
  /** 2 for a document with a `crop`, else 1 (module comment). */
  formatVersion: 1 | 2;
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
  /** Present only in fine-tuned models: personal copies of the backbone's top layers (module comment). */
  backboneTail?: BackboneTail;
  /** Present when a prediction from a photo averages over the photo and its augmented views (module comment); absent: off. */
  testTimeAugmentation?: TestTimeAugmentation;
  /** Present when the head was trained on crops and predicts a photo's crop (module comment); absent: the whole frame. */
  crop?: HeadCrop;
}

/** Personal copies of a backbone's top layers, carried by a fine-tuned model's head document. */
export interface BackboneTail {
  /** The backbone layer whose output is the tail's input; the frozen backbone runs up to it. */
  cut: string;
  /** Shape of the cut activation for one image, without the batch axis. */
  cutShape: number[];
  /** Embedding parts the tail recomputes, in the order of the tail model's outputs. */
  parts: string[];
  /** Keras functional model config (TF.js `modelTopology`) of the tail. */
  modelTopology: Record<string, unknown>;
  weightSpecs: HeadWeightSpec[];
  /** All tail weights, concatenated in `weightSpecs` order, base64. */
  weightData: string;
}

/** The parts of a head document TF.js needs, in the shape of `tf.io.ModelArtifacts`. */
export interface HeadArtifacts {
  modelTopology: Record<string, unknown>;
  weightSpecs: HeadWeightSpec[];
  weightData: ArrayBuffer;
}

/**
 * A model as it saves itself (`LayersModel.save`): Keras topology, float32 weight specs and the raw
 * weight bytes. A head document, or a fine-tuned model's tail, is made from this.
 */
export interface SavedArtifacts {
  modelTopology: Record<string, unknown>;
  weightSpecs: HeadWeightSpec[];
  weightData: Uint8Array;
}

/**
 * Whether a (not yet validated) head document says it is a fine-tuned model, i.e. has a
 * `backboneTail` section: such a document must be checked against the backbone's own layers.
 */
export function isFineTuned(value: unknown): value is { backboneTail: unknown } {
  return typeof value === 'object' && value !== null && 'backboneTail' in value;
}

/** Topology + base64 weights (a head document, or a fine-tuned model's tail) as TF.js model artifacts. */
function toArtifacts(part: Pick<HeadDocument, 'modelTopology' | 'weightSpecs' | 'weightData'>): HeadArtifacts {
  const bytes = base64ToBytes(part.weightData);
  return {
    modelTopology: part.modelTopology,
    weightSpecs: part.weightSpecs,
    weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
  };
}

/** Decodes the weights of a head document into TF.js model artifacts. */
export function headArtifacts(doc: HeadDocument): HeadArtifacts {
  return toArtifacts(doc);
}

/** Decodes the weights of a fine-tuned model's backbone tail into TF.js model artifacts. */
export function backboneTailArtifacts(tail: BackboneTail): HeadArtifacts {
  return toArtifacts(tail);
}

/** Builds a head document from TF.js artifacts and tannerin metadata (formatVersion 2 with a `crop`, else 1). */
export function makeHeadDocument(
  meta: Omit<HeadDocument, 'format' | 'formatVersion' | 'modelTopology' | 'weightSpecs' | 'weightData'>,
  artifacts: SavedArtifacts,
): HeadDocument {
  return {
    format: 'tannerin-head',
    formatVersion: formatVersionFor(meta.crop),
    ...meta,
    modelTopology: artifacts.modelTopology,
    weightSpecs: artifacts.weightSpecs,
    weightData: bytesToBase64(artifacts.weightData),
  };
}

/** `doc` trained on crops made by `crop` (shared/head/crop.ts): with its `crop`, formatVersion 2. */
export function withHeadCrop(doc: HeadDocument, crop: HeadCrop): HeadDocument {
  return { ...doc, formatVersion: formatVersionFor(crop), crop };
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
          ...(doc.testTimeAugmentation ? { testTimeAugmentation: doc.testTimeAugmentation } : {}),
          ...(doc.crop ? { crop: doc.crop, formatVersion: doc.formatVersion } : {}),
        },
      },
    },
    weights: base64ToBytes(doc.weightData),
  };
}

/**
 * Splits a fine-tuned model's backbone tail into its own standard TF.js `model.json` (the cut,
 * its shape and the parts in `userDefinedMetadata.tannerin.backboneTail`) and weights. Throws for
 * a plain head.
 */
export function exportBackboneTailFiles(
  doc: HeadDocument,
  weightsFile = 'weights.bin',
): { modelJson: Record<string, unknown>; weights: Uint8Array } {
  const tail = doc.backboneTail;
  if (!tail) throw new Error(`head ${doc.id} has no backbone tail (it is not fine-tuned)`);
  return {
    modelJson: {
      format: 'layers-model',
      generatedBy: 'tannerin',
      convertedBy: null,
      modelTopology: tail.modelTopology,
      weightsManifest: [{ paths: [weightsFile], weights: tail.weightSpecs }],
      userDefinedMetadata: { tannerin: { backboneTail: { cut: tail.cut, cutShape: tail.cutShape, parts: tail.parts } } },
    },
    weights: base64ToBytes(tail.weightData),
  };
}

/** The tannerin metadata `exportHeadFiles` writes into `userDefinedMetadata.tannerin`. */
type ExportedMeta = Omit<HeadDocument, 'format' | 'formatVersion' | 'modelTopology' | 'weightSpecs' | 'weightData'>;

/**
 * Reads a head back from standard TF.js files written by `exportHeadFiles` (`model.json` parsed,
 * plus its weight files concatenated in manifest order), and for a fine-tuned model the tail's
 * files written by `exportBackboneTailFiles`. Throws naming what is missing.
 */
export function importHeadFiles(
  modelJson: Record<string, unknown>,
  weights: Uint8Array,
  tail?: { modelJson: Record<string, unknown>; weights: Uint8Array },
): HeadDocument {
  const meta = (modelJson.userDefinedMetadata as { tannerin?: ExportedMeta } | undefined)?.tannerin;
  if (!meta || typeof meta.id !== 'string' || !Array.isArray(meta.classes)) {
    throw new Error('model.json has no tannerin head metadata (userDefinedMetadata.tannerin)');
  }
  const groups = modelJson.weightsManifest as { weights: HeadWeightSpec[] }[] | undefined;
  const topology = modelJson.modelTopology as Record<string, unknown> | undefined;
  if (!Array.isArray(groups) || !topology) throw new Error('model.json lacks modelTopology or weightsManifest');
  const doc = makeHeadDocument(
    {
      id: meta.id,
      name: meta.name,
      classes: meta.classes,
      backbone: meta.backbone,
      input: meta.input,
      metrics: meta.metrics,
      created: meta.created,
      ...(meta.testTimeAugmentation ? { testTimeAugmentation: meta.testTimeAugmentation } : {}),
      ...(meta.crop ? { crop: meta.crop } : {}),
    },
    { modelTopology: topology, weightSpecs: groups.flatMap((g) => g.weights), weightData: weights },
  );
  if (!tail) return doc;
  const tailMeta = (tail.modelJson.userDefinedMetadata as { tannerin?: { backboneTail?: Pick<BackboneTail, 'cut' | 'cutShape' | 'parts'> } } | undefined)
    ?.tannerin?.backboneTail;
  const tailGroups = tail.modelJson.weightsManifest as { weights: HeadWeightSpec[] }[] | undefined;
  const tailTopology = tail.modelJson.modelTopology as Record<string, unknown> | undefined;
  if (!tailMeta || !Array.isArray(tailGroups) || !tailTopology) {
    throw new Error('tail model.json lacks modelTopology, weightsManifest or userDefinedMetadata.tannerin.backboneTail');
  }
  return {
    ...doc,
    backboneTail: {
      cut: tailMeta.cut,
      cutShape: tailMeta.cutShape,
      parts: tailMeta.parts,
      modelTopology: tailTopology,
      weightSpecs: tailGroups.flatMap((g) => g.weights),
      weightData: bytesToBase64(tail.weights),
    },
  };
}
