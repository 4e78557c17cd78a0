/**
 * The one runtime for FINE-TUNED models (head documents with a `backboneTail`,
 * shared/head/document.ts), used by the Worker, the browser library and Node:
 *
 *   preprocessed pixels -> frozen backbone up to the cut (plus the embedding parts the tail does
 *   not recompute) -> the personal tail layers from the cut activation -> the embedding, with the
 *   tail's parts in place of the frozen ones -> the head's input transform and the head
 *   (shared/predict/head-runner.ts), exactly as for a plain head.
 *
 * The frozen view (a multi-output model over the backbone's own layers: no weights of its own) is
 * built once per backbone model and cut, and cached in a WeakMap keyed by the model, so it goes
 * with the backbone. It must never be disposed (that would dispose the backbone's layers).
 * Every forward pass runs inside one `tf.tidy`; the loaded model's `dispose()` frees the tail and
 * head weights, so the tensor count is flat across predictions.
 *
 * An embedding alone cannot be run through such a model: the tail needs the cut activation,
 * which only the image gives.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Prediction } from '../api.ts';
import { backboneTailArtifacts, type BackboneTail, type HeadDocument } from '../head/document.ts';
import { loadHead, type Head } from './head-runner.ts';
import { embeddingPart, type BackboneManifest } from '../model/manifest.ts';

/** The backbone a fine-tuned model runs on: its layers model (output: the embedding) and manifest. */
export interface TailBackbone {
  model: tfl.LayersModel;
  manifest: BackboneManifest;
}

/** A view of the backbone that outputs the cut activation and the frozen embedding parts. */
interface FrozenView {
  model: tfl.LayersModel;
  cutShape: number[];
  /** Manifest part names of outputs 1..n, in order (output 0 is the cut). */
  parts: string[];
}

const views = new WeakMap<tfl.LayersModel, Map<string, FrozenView>>();

/** The symbolic outputs of the backbone's embedding parts, in manifest order. */
function partOutputs(model: tfl.LayersModel, manifest: BackboneManifest): tfl.SymbolicTensor[] {
  const [output] = model.outputs;
  if (!output || model.outputs.length !== 1) throw new Error('the backbone model must have exactly one output (the embedding)');
  const layer = output.sourceLayer;
  const node = layer.inboundNodes[0];
  const parts = layer.getClassName() === 'Concatenate' && node ? node.inputTensors : [output];
  if (parts.length !== manifest.embedding.parts.length) {
    throw new Error(`backbone model has ${parts.length} embedding parts, manifest ${manifest.embedding.parts.length}`);
  }
  return parts;
}

/**
 * The frozen view for `cut`, computing the parts not in `tailParts` (built on first use, then
 * cached per backbone model).
 */
function frozenView(backbone: TailBackbone, cut: string, tailParts: readonly string[]): FrozenView {
  let byCut = views.get(backbone.model);
  if (!byCut) {
    byCut = new Map();
    views.set(backbone.model, byCut);
  }
  const key = `${cut}|${tailParts.join(',')}`;
  const cached = byCut.get(key);
  if (cached) return cached;
  let cutOutput: tfl.SymbolicTensor | tfl.SymbolicTensor[];
  try {
    cutOutput = backbone.model.getLayer(cut).output;
  } catch {
    throw new Error(`the cut layer ${cut} is not in backbone ${backbone.manifest.id}`);
  }
  if (Array.isArray(cutOutput)) throw new Error(`cut layer ${cut} has several outputs`);
  const all = partOutputs(backbone.model, backbone.manifest);
  const parts: string[] = [];
  const outputs: tfl.SymbolicTensor[] = [cutOutput];
  backbone.manifest.embedding.parts.forEach((p, i) => {
    if (tailParts.includes(p.name)) return;
    parts.push(p.name);
    outputs.push(all[i] as tfl.SymbolicTensor);
  });
  const view: FrozenView = {
    model: tfl.model({ inputs: backbone.model.inputs, outputs }),
    cutShape: cutOutput.shape.slice(1) as number[],
    parts,
  };
  byCut.set(key, view);
  return view;
}

/** A fine-tuned model ready to predict from preprocessed pixels. */
export interface TailedHead {
  readonly doc: HeadDocument;
  /** Floats of weights it holds (tail + head), for cache budgets. */
  readonly weightCount: number;
  /** The personal embedding (frozen parts, the tail's parts recomputed) of one preprocessed image. */
  embedPreprocessed(input: Float32Array): Promise<Float32Array>;
  /** Class scores for one preprocessed image (`preprocess()` output), descending. */
  predictPreprocessed(input: Float32Array, top?: number): Promise<Prediction[]>;
  dispose(): void;
}

/** Number of weight values of a document's head and tail. */
export function documentWeightCount(doc: Pick<HeadDocument, 'weightSpecs' | 'backboneTail'>): number {
  const count = (specs: HeadDocument['weightSpecs']) => specs.reduce((a, s) => a + s.shape.reduce((p, d) => p * d, 1), 0);
  return count(doc.weightSpecs) + (doc.backboneTail ? count(doc.backboneTail.weightSpecs) : 0);
}

function checkTail(tail: BackboneTail, view: FrozenView, tailModel: tfl.LayersModel, manifest: BackboneManifest): void {
  if (tail.cutShape.join() !== view.cutShape.join()) {
    throw new Error(`the model was fine-tuned above ${tail.cut} ${JSON.stringify(tail.cutShape)}, but the backbone's ${tail.cut} gives ${JSON.stringify(view.cutShape)}`);
  }
  if (tailModel.outputs.length !== tail.parts.length) {
    throw new Error(`the backbone tail has ${tailModel.outputs.length} outputs for ${tail.parts.length} parts`);
  }
  tail.parts.forEach((name, k) => {
    const size = embeddingPart(manifest, name).size;
    const shape = (tailModel.outputs[k] as tfl.SymbolicTensor).shape;
    if (shape.length !== 2 || shape[1] !== size) throw new Error(`the backbone tail's output ${k} has shape ${JSON.stringify(shape)}, part ${name} has ${size} floats`);
  });
}

/** Loads a fine-tuned model (a head document with a `backboneTail`) on `backbone`. */
export async function loadTailedHead(doc: HeadDocument, backbone: TailBackbone): Promise<TailedHead> {
  const tail = doc.backboneTail;
  if (!tail) throw new Error(`head ${doc.id} is not fine-tuned (it has no backboneTail): run it on the embedding with loadHead`);
  const { manifest } = backbone;
  const view = frozenView(backbone, tail.cut, tail.parts);
  const tailModel = await tfl.loadLayersModel(tf.io.fromMemory(backboneTailArtifacts(tail)));
  let head: Head;
  try {
    checkTail(tail, view, tailModel, manifest);
    head = await loadHead(doc, manifest);
  } catch (err) {
    tailModel.dispose();
    throw err;
  }
  const { height, width } = manifest.normalization;

  const embedPreprocessed = async (input: Float32Array): Promise<Float32Array> => {
    // Two tidies: the frozen pass's intermediate activations are freed before the tail runs, so
    // the tail's do not add to the frozen pass's peak.
    const frozenOuts = tf.tidy(() => view.model.predict(tf.tensor4d(input, [1, height, width, 3])) as tf.Tensor[]);
    let personal: tf.Tensor[] = [];
    try {
      personal = tf.tidy(() => {
        const y = tailModel.predict(frozenOuts[0] as tf.Tensor);
        return Array.isArray(y) ? y : [y];
      });
      const data = await Promise.all([...frozenOuts.slice(1), ...personal].map((t) => t.data() as Promise<Float32Array>));
      const embedding = new Float32Array(manifest.embedding.size);
      [...view.parts, ...tail.parts].forEach((name, k) => embedding.set(data[k] as Float32Array, embeddingPart(manifest, name).offset));
      return embedding;
    } finally {
      tf.dispose([...frozenOuts, ...personal]);
    }
  };
  return {
    doc,
    weightCount: documentWeightCount(doc),
    embedPreprocessed,
    predictPreprocessed: async (input, top) => head.predict(await embedPreprocessed(input), top),
    dispose() {
      head.dispose();
      tailModel.dispose();
    },
  };
}
