/**
 * The one prediction layer: a head document, plain or fine-tuned, loaded for a backbone as a
 * {@link Predictor}. Every runtime (Worker, browser library, CLI, evaluation, `improve()`) predicts
 * through it, so a head gives the same scores wherever it runs.
 *
 * Two ways in, one way through:
 *
 *   preprocessed pixels --frozenPass--> frozen activations --embed--> embedding --head--> scores
 *                                       ^ cached ones enter here (training, improve, eval)
 *
 * - The frozen pass runs the frozen backbone's folded graph (shared/model/folded-graph.ts): for a
 *   plain head the whole of it (the embedding); for a fine-tuned model (a document with a
 *   `backboneTail`, shared/head/document.ts) only what the cut activation and the embedding parts
 *   the tail does not recompute need.
 * - `embed` runs a fine-tuned model's own top layers (the tail) from the cut activation and puts
 *   their outputs in place of the frozen parts; a plain head reads the frozen embedding as it is.
 * - The head step (input transform and head model) is the section "The head step" below.
 *
 * A head that records a crop (shared/head/crop.ts) predicts a photo's crop: the crop step
 * (shared/crop/crop-step.ts: a backbone pass up to the crop's layer on the whole photo, the box,
 * the box cut from the photo's own pixels) comes first, then everything above runs on the crop, as
 * the head was trained. The answer says which box (`classifyPixels`' `crop`). Its frozen passes and
 * embeddings are the crop's, so entry point 2 takes crops' embeddings.
 *
 * The fine-tuned model's own top layers stay unfolded TF.js layers (tfjs-core has no gradient for a
 * fused relu6, and they are what fine-tuning trains). Every forward pass runs inside `tf.tidy`, its
 * outputs are disposed in `finally`, and `dispose()` frees the tail and head weights (never the
 * backbone's), so the tensor count is flat across predictions.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Prediction } from '../api/types.ts';
import { backboneTailArtifacts, headArtifacts, type BackboneTail, type HeadDocument } from '../head/document.ts';
import type { FoldedGraph } from '../model/folded-graph.ts';
import { preprocess, type RgbaPixels } from '../image/preprocess.ts';
import { meanProbabilities, testTimeViews } from '../head/tta.ts';
import { embeddingPart, type BackboneManifest, type InputTransform } from '../model/manifest.ts';
import type { CropUsed } from '../head/crop.ts';
import { cropPhoto, featureMapShape } from '../crop/crop-step.ts';

/**
 * A frozen pass as a {@link Predictor} reads it: the embedding, and for a fine-tuned model the
 * activation of its cut layer (`Predictor.cut`). A fine-tuned model recomputes its tail's parts of
 * the embedding, so those may be left zero.
 */
export interface FrozenActivations {
  embedding: Float32Array;
  cut?: Float32Array;
}

/**
 * The backbone a predictor runs on: its manifest, and its folded graph (a loaded `Backbone`, or a
 * `BackboneSplit` of one), whose `run` is every frozen pass. A plain head loaded with the manifest
 * alone predicts from frozen passes only (training's judging of cached embeddings); a fine-tuned
 * model always needs the graph (its cut is checked against it).
 */
export interface PredictorBackbone {
  readonly manifest: BackboneManifest;
  readonly graph?: FoldedGraph;
  /**
   * Set on a pair of backbones (shared/model/backbone-pair.ts), which has no graph of its own: a
   * photo's frozen pass is then its `embed` of the pixels (each member prepares them its own way).
   * Plain heads only (a fine-tuned model or a crop needs the graph, which a pair refuses).
   */
  readonly members?: readonly object[];
  embed?(pixels: RgbaPixels): Promise<Float32Array>;
}

/** What {@link Predictor.classifyPixels} answers. */
export interface PixelsClassified {
  predictions: Prediction[];
  frozen: FrozenActivations;
  /** For a head with a crop: the box the photo was cut to (fractions of the photo) and its method. */
  crop?: CropUsed;
}

/** A loaded head document, plain or fine-tuned, ready to predict (module comment). */
export interface Predictor {
  readonly doc: HeadDocument;
  /** The layer a fine-tuned model's own layers start from (its frozen passes come from there); null for a plain head. */
  readonly cut: string | null;
  /** Bytes of the weights it holds (head and tail, as float32), for cache budgets. */
  readonly weightBytes: number;
  /** Entry point 1: class scores, descending, for one preprocessed image (`preprocess()` output). */
  predictPreprocessed(input: Float32Array, top?: number): Promise<Prediction[]>;
  /**
   * Entry point 1 from a photo's pixels, what the Worker, the browser and the CLI predict with: for
   * a head that records test-time augmentation (shared/head/tta.ts), the mean of the head's
   * probabilities over the photo and its augmented views, one frozen pass each; otherwise (or with
   * `testTimeAugmentation: false`) `predictPreprocessed` of the photo alone.
   */
  predictPixels(pixels: RgbaPixels, top?: number, options?: { testTimeAugmentation?: boolean }): Promise<Prediction[]>;
  /**
   * `predictPixels`, with the frozen pass of the photo itself (not its views) that it computed:
   * the browser keeps a plain head's frozen embedding to teach the photo again without a second
   * backbone pass (client/lib/corrections.ts). For a fine-tuned model its `embedding` lacks the
   * tail's parts (see {@link FrozenActivations}). For a head with a crop, `crop` is the box the
   * photo was cut to, and `frozen` the crop's pass.
   */
  classifyPixels(pixels: RgbaPixels, top?: number, options?: { testTimeAugmentation?: boolean }): Promise<PixelsClassified>;
  /** Entry point 2: class scores, descending, for one cached frozen pass. */
  predictFrozen(frozen: FrozenActivations, top?: number): Promise<Prediction[]>;
  /** Entry point 2, batched: class probabilities (in `doc.classes` order) for many frozen passes. */
  probabilities(frozen: readonly FrozenActivations[]): Promise<Float32Array[]>;
  /** The frozen backbone's pass over one preprocessed image, as this predictor reads it. */
  frozenPass(input: Float32Array): Promise<FrozenActivations>;
  /** The embedding the head reads: the frozen one, with a fine-tuned model's tail parts recomputed. */
  embed(frozen: FrozenActivations): Promise<Float32Array>;
  /** Frees the head's and the tail's weights (never the backbone's). */
  dispose(): void;
}

/** Number of weight values of a document's head and tail. */
export function documentWeightCount(doc: Pick<HeadDocument, 'weightSpecs' | 'backboneTail'>): number {
  const count = (specs: HeadDocument['weightSpecs']) => specs.reduce((a, s) => a + s.shape.reduce((p, d) => p * d, 1), 0);
  return count(doc.weightSpecs) + (doc.backboneTail ? count(doc.backboneTail.weightSpecs) : 0);
}

// ---------------------------------------------------------------------------------------------
// The head step of every prediction: applies a head's input transform to the embedding and runs
// the head model. Predictors (loadPredictor below) and training's judging (shared/learn/) run
// heads through here, so a head gives the same scores wherever it runs.

/**
 * Derives a head's input from the full embedding: selects the parts, removes the recorded mean,
 * normalises each part (L2) and scales. Plain JS on a few thousand floats: identical everywhere.
 */
export function transformInput(embedding: Float32Array, backbone: BackboneManifest, transform: InputTransform): Float32Array {
  const plan = transformPlan(backbone, transform);
  const out = new Float32Array(plan.dim);
  transformInto(embedding, plan, out, 0);
  return out;
}

/**
 * {@link transformInput} of many embeddings into one row-major array (`embeddings.length` rows of
 * the transformed size), each row bit-identical to `transformInput`'s: training and kNN transform
 * thousands of rows, into one array (not one per row and a copy) with the parts and the mean
 * resolved once.
 */
export function transformInputRows(embeddings: readonly Float32Array[], backbone: BackboneManifest, transform: InputTransform): Float32Array {
  const plan = transformPlan(backbone, transform);
  const out = new Float32Array(embeddings.length * plan.dim);
  embeddings.forEach((e, i) => transformInto(e, plan, out, i * plan.dim));
  return out;
}

/** A transform resolved against its backbone: where each part is and how long, the mean as doubles. */
interface TransformPlan {
  backbone: BackboneManifest;
  offsets: number[];
  sizes: number[];
  /** Transformed length (the parts' sizes summed). */
  dim: number;
  mean: Float64Array | null;
  l2: boolean;
  scale: number;
}

function transformPlan(backbone: BackboneManifest, transform: InputTransform): TransformPlan {
  const parts = transform.parts.map((name) => embeddingPart(backbone, name));
  return {
    backbone,
    offsets: parts.map((p) => p.offset),
    sizes: parts.map((p) => p.size),
    dim: parts.reduce((a, p) => a + p.size, 0),
    mean: transform.mean ? Float64Array.from(transform.mean) : null,
    l2: transform.normalize === 'l2',
    scale: transform.scale,
  };
}

/** Writes one transformed embedding at `out[at..at + plan.dim)`; the arithmetic is the one every runtime uses. */
function transformInto(embedding: Float32Array, plan: TransformPlan, out: Float32Array, at: number): void {
  const { backbone, mean, scale } = plan;
  if (embedding.length !== backbone.embedding.size) {
    throw new RangeError(`embedding has ${embedding.length} floats, backbone ${backbone.id} gives ${backbone.embedding.size}`);
  }
  // `m` indexes the mean (the concatenated parts), `o` the output row.
  let m = 0;
  for (let p = 0; p < plan.sizes.length; p++) {
    const size = plan.sizes[p] as number;
    const from = plan.offsets[p] as number;
    const start = at + m;
    if (mean) for (let i = 0; i < size; i++) out[start + i] = (embedding[from + i] as number) - (mean[m + i] as number);
    else for (let i = 0; i < size; i++) out[start + i] = embedding[from + i] as number;
    m += size;
    const end = at + m;
    let factor = scale;
    if (plan.l2) {
      let sum = 0;
      for (let o = start; o < end; o++) sum += (out[o] as number) ** 2;
      factor = sum > 0 ? scale / Math.sqrt(sum) : 0;
    }
    if (factor !== 1) for (let o = start; o < end; o++) out[o] = (out[o] as number) * factor;
  }
}

/** Index of the largest score (the first on ties): the predicted class of one row of probabilities. */
export function argMax(scores: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < scores.length; i++) if ((scores[i] as number) > (scores[best] as number)) best = i;
  return best;
}

/** Pairs scores with labels, sorted by descending score, cut to `top` when given. */
export function rankPredictions(classes: string[], scores: ArrayLike<number>, top?: number): Prediction[] {
  const ranked = classes.map((label, i) => ({ label, score: scores[i] as number }));
  ranked.sort((a, b) => b.score - a.score);
  return top === undefined ? ranked : ranked.slice(0, top);
}

/**
 * Class probabilities of a loaded head model for many embeddings in one batched forward pass:
 * row i is `embeddings[i]`'s scores in `doc.classes` order (the input transform applied first).
 */
export async function headModelProbabilities(
  model: tfl.LayersModel,
  doc: Pick<HeadDocument, 'input' | 'classes'>,
  backbone: BackboneManifest,
  embeddings: readonly Float32Array[],
): Promise<Float32Array[]> {
  if (embeddings.length === 0) return [];
  const rows = transformInputRows(embeddings, backbone, doc.input);
  // One batch: the rows are one tensor already. `predict`'s default batches of 32 slice that
  // tensor once per batch, and on WASM the cost grew with its square (4,000 rows of 2,816 floats:
  // 15.4 s in batches of 32, 0.27 s as one).
  const out = tf.tidy(
    () => model.predict(tf.tensor2d(rows, [embeddings.length, rows.length / embeddings.length]), { batchSize: embeddings.length }) as tf.Tensor,
  );
  try {
    const data = (await out.data()) as Float32Array;
    const c = doc.classes.length;
    return embeddings.map((_, i) => data.slice(i * c, (i + 1) * c));
  } finally {
    out.dispose();
  }
}

/**
 * Ranked class scores of a loaded head model for one embedding: {@link headModelProbabilities}
 * then {@link rankPredictions}, the head step of one prediction in one call.
 */
export async function headModelPredictions(
  model: tfl.LayersModel,
  doc: Pick<HeadDocument, 'input' | 'classes'>,
  backbone: BackboneManifest,
  embedding: Float32Array,
  top?: number,
): Promise<Prediction[]> {
  const [scores] = await headModelProbabilities(model, doc, backbone, [embedding]);
  return rankPredictions(doc.classes, scores as Float32Array, top);
}

// ---------------------------------------------------------------------------------------------
// The frozen pass of a fine-tuned model

/** Which outputs of the folded graph a fine-tuned model's frozen pass reads. */
interface FrozenView {
  /** Graph nodes to read: the cut, then the frozen embedding parts. */
  nodes: string[];
  cutShape: number[];
  /** Manifest part names of nodes 1..n, in order (node 0 is the cut). */
  parts: string[];
}

/** The graph nodes that give the embedding's parts, in manifest order: the inputs of the final Concatenate, or the one output. */
function partNodes(graph: FoldedGraph, manifest: BackboneManifest): readonly string[] {
  const output = graph.nodes.find((n) => n.name === graph.output);
  const parts = output?.kind === 'Concatenate' ? output.inputs : [graph.output];
  if (parts.length !== manifest.embedding.parts.length) {
    throw new Error(`backbone model has ${parts.length} embedding parts, manifest ${manifest.embedding.parts.length}`);
  }
  return parts;
}

/** The frozen view for `cut`, reading the parts not in `tailParts`. */
function frozenView(graph: FoldedGraph, manifest: BackboneManifest, cut: string, tailParts: readonly string[]): FrozenView {
  if (!graph.has(cut)) {
    const into = graph.foldedInto(cut);
    throw new Error(into ? `the cut layer ${cut} is folded into ${into} in backbone ${manifest.id}: its output is not computed` : `the cut layer ${cut} is not in backbone ${manifest.id}`);
  }
  const cutShape = graph.shapeOf(cut);
  if (!cutShape) throw new Error(`the shape of cut layer ${cut} is unknown`);
  const all = partNodes(graph, manifest);
  const nodes = [cut];
  const parts: string[] = [];
  manifest.embedding.parts.forEach((p, i) => {
    if (tailParts.includes(p.name)) return;
    parts.push(p.name);
    nodes.push(all[i] as string);
  });
  return { nodes, cutShape, parts };
}

/** The one cut-shape check: the tail must start from what the backbone's cut layer gives and end in the parts it names. */
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

// ---------------------------------------------------------------------------------------------
// Forward passes

/** Runs a tail model on cut activations, batched; returns one flat array per tail output. */
async function runTail(tail: tfl.LayersModel, cutShape: readonly number[], cuts: readonly Float32Array[], batch = 32): Promise<Float32Array[]> {
  const size = cutShape.reduce((a, b) => a * b, 1);
  const chunks: Float32Array[][] = [];
  for (let start = 0; start < cuts.length; start += batch) {
    const rows = cuts.slice(start, start + batch);
    const x = new Float32Array(rows.length * size);
    rows.forEach((c, i) => x.set(c, i * size));
    const outs = tf.tidy(() => {
      const y = tail.predict(tf.tensor(x, [rows.length, ...cutShape]));
      return Array.isArray(y) ? y : [y];
    });
    try {
      chunks.push(await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>)));
    } finally {
      tf.dispose(outs);
    }
  }
  const outputs = chunks[0]?.length ?? 0;
  return Array.from({ length: outputs }, (_, k) => {
    const total = chunks.reduce((a, c) => a + (c[k] as Float32Array).length, 0);
    const out = new Float32Array(total);
    let o = 0;
    for (const c of chunks) {
      out.set(c[k] as Float32Array, o);
      o += (c[k] as Float32Array).length;
    }
    return out;
  });
}

/** The one embedding assembly: a copy of each frozen embedding with the tail's part outputs in place, row by row. */
function personalEmbeddings(manifest: BackboneManifest, parts: readonly string[], frozen: readonly FrozenActivations[], outputs: Float32Array[]): Float32Array[] {
  return frozen.map((f, row) => {
    const embedding = f.embedding.slice();
    parts.forEach((name, k) => {
      const part = embeddingPart(manifest, name);
      embedding.set((outputs[k] as Float32Array).subarray(row * part.size, (row + 1) * part.size), part.offset);
    });
    return embedding;
  });
}

// ---------------------------------------------------------------------------------------------
// Loading

/** A fine-tuned model's tail, loaded and checked against the backbone. */
interface LoadedTail {
  doc: BackboneTail;
  model: tfl.LayersModel;
  view: FrozenView;
}

async function loadTail(tail: BackboneTail, backbone: PredictorBackbone): Promise<LoadedTail> {
  const { graph, manifest } = backbone;
  if (!graph) throw new Error(`a fine-tuned model runs on the backbone model: load it with the ${manifest.id} backbone, not its manifest alone`);
  const view = frozenView(graph, manifest, tail.cut, tail.parts);
  const model = await tfl.loadLayersModel(tf.io.fromMemory(backboneTailArtifacts(tail)));
  try {
    checkTail(tail, view, model, backbone.manifest);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { doc: tail, model, view };
}

/**
 * Loads a head document (validated: shared/head/validate.ts) as a predictor on `backbone` (a
 * loaded `Backbone`, or a `BackboneSplit` of one). A fine-tuned model's cut is checked against the
 * backbone's real layer here, before any prediction.
 */
export async function loadPredictor(doc: HeadDocument, backbone: PredictorBackbone): Promise<Predictor> {
  const { manifest } = backbone;
  const tail = doc.backboneTail ? await loadTail(doc.backboneTail, backbone) : null;
  let head: tfl.LayersModel;
  try {
    head = await tfl.loadLayersModel(tf.io.fromMemory(headArtifacts(doc)));
  } catch (err) {
    tail?.model.dispose();
    throw err;
  }
  const cutSize = tail ? tail.doc.cutShape.reduce((a, b) => a * b, 1) : 0;
  // A feature-map crop's layer is checked against the real graph here, before any prediction.
  if (doc.crop?.method === 'featuremap' && backbone.graph) {
    try {
      featureMapShape(backbone.graph, doc.crop.layer);
    } catch (err) {
      head.dispose();
      tail?.model.dispose();
      throw err;
    }
  }

  const frozenPass = async (input: Float32Array): Promise<FrozenActivations> => {
    const { graph } = backbone;
    if (!graph) throw new Error(`head ${doc.id} was loaded without the backbone: it predicts from frozen passes only`);
    if (!tail) {
      const [embedding] = await graph.run(input, [graph.output]);
      return { embedding: embedding as Float32Array };
    }
    const [cut, ...parts] = await graph.run(input, tail.view.nodes);
    const embedding = new Float32Array(manifest.embedding.size);
    tail.view.parts.forEach((name, k) => embedding.set(parts[k] as Float32Array, embeddingPart(manifest, name).offset));
    return { cut: cut as Float32Array, embedding };
  };
  const embedAll = async (frozen: readonly FrozenActivations[]): Promise<Float32Array[]> => {
    if (!tail) return frozen.map((f) => f.embedding);
    const cuts = frozen.map((f, i) => {
      if (!f.cut || f.cut.length !== cutSize) {
        throw new RangeError(`frozen pass ${i}: the fine-tuned model reads ${cutSize} floats of ${tail.doc.cut}'s activation, got ${f.cut ? f.cut.length : 'none'}`);
      }
      return f.cut;
    });
    return personalEmbeddings(manifest, tail.doc.parts, frozen, await runTail(tail.model, tail.doc.cutShape, cuts));
  };
  const probabilities = async (frozen: readonly FrozenActivations[]): Promise<Float32Array[]> => {
    if (frozen.length === 0) return [];
    return headModelProbabilities(head, doc, manifest, await embedAll(frozen));
  };
  const predictFrozen = async (frozen: FrozenActivations, top?: number): Promise<Prediction[]> =>
    headModelPredictions(head, doc, manifest, (await embedAll([frozen]))[0] as Float32Array, top);
  const predictPreprocessed = async (input: Float32Array, top?: number): Promise<Prediction[]> => predictFrozen(await frozenPass(input), top);
  const classifyPixels = async (pixels: RgbaPixels, top?: number, options: { testTimeAugmentation?: boolean } = {}): Promise<PixelsClassified> => {
    let crop: CropUsed | undefined;
    if (doc.crop) {
      const { graph } = backbone;
      if (!graph) throw new Error(`head ${doc.id} crops its photos: load it with the ${manifest.id} backbone, not its manifest alone`);
      // The crop is the photo from here on, as the head was trained (module comment).
      const cropped = await cropPhoto(pixels, doc.crop, { graph, normalization: manifest.normalization });
      pixels = cropped.pixels;
      crop = { method: doc.crop.method, box: cropped.box };
    }
    const withCrop = (result: { predictions: Prediction[]; frozen: FrozenActivations }): PixelsClassified => (crop ? { ...result, crop } : result);
    const tta = options.testTimeAugmentation === false ? undefined : doc.testTimeAugmentation;
    // A pair's pass is its members' embeddings of the pixels (PredictorBackbone.members).
    const { embed } = backbone;
    const pixelsPass = async (p: RgbaPixels): Promise<FrozenActivations> =>
      backbone.members && embed ? { embedding: await embed(p) } : frozenPass(preprocess(p, manifest.normalization));
    const photo = await pixelsPass(pixels);
    if (!tta) return withCrop({ predictions: await predictFrozen(photo, top), frozen: photo });
    // One view at a time: its pixels are made, preprocessed and passed before the next view's.
    const frozen = [photo];
    for (const view of testTimeViews(pixels, tta)) frozen.push(await pixelsPass(view));
    return withCrop({ predictions: rankPredictions(doc.classes, meanProbabilities(await probabilities(frozen)), top), frozen: photo });
  };
  const predictPixels = async (pixels: RgbaPixels, top?: number, options: { testTimeAugmentation?: boolean } = {}): Promise<Prediction[]> =>
    (await classifyPixels(pixels, top, options)).predictions;
  return {
    doc,
    cut: tail ? tail.doc.cut : null,
    weightBytes: documentWeightCount(doc) * 4,
    predictPreprocessed,
    predictPixels,
    classifyPixels,
    predictFrozen,
    probabilities,
    frozenPass,
    embed: async (frozen) => (await embedAll([frozen]))[0] as Float32Array,
    dispose() {
      head.dispose();
      tail?.model.dispose();
    },
  };
}
