/**
 * The head step of every prediction: applies a head's input transform to the embedding and runs
 * the head model. Predictors (shared/predict/predictor.ts) and training's judging run heads
 * through here, so a head gives the same scores wherever it runs.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { BackboneManifest, InputTransform } from '../model/manifest.ts';
import { embeddingPart } from '../model/manifest.ts';
import type { HeadDocument } from '../head/document.ts';
import type { Prediction } from '../api/types.ts';

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
  model: LayersModel,
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
  model: LayersModel,
  doc: Pick<HeadDocument, 'input' | 'classes'>,
  backbone: BackboneManifest,
  embedding: Float32Array,
  top?: number,
): Promise<Prediction[]> {
  const [scores] = await headModelProbabilities(model, doc, backbone, [embedding]);
  return rankPredictions(doc.classes, scores as Float32Array, top);
}
