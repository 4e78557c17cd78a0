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
  if (embedding.length !== backbone.embedding.size) {
    throw new RangeError(`embedding has ${embedding.length} floats, backbone ${backbone.id} gives ${backbone.embedding.size}`);
  }
  const parts = transform.parts.map((name) => embeddingPart(backbone, name));
  const out = new Float32Array(parts.reduce((a, p) => a + p.size, 0));
  let o = 0;
  for (const part of parts) {
    const start = o;
    for (let i = 0; i < part.size; i++, o++) {
      out[o] = (embedding[part.offset + i] as number) - (transform.mean ? (transform.mean[o] as number) : 0);
    }
    let factor = transform.scale;
    if (transform.normalize === 'l2') {
      let sum = 0;
      for (let i = start; i < o; i++) sum += (out[i] as number) ** 2;
      factor = sum > 0 ? transform.scale / Math.sqrt(sum) : 0;
    }
    if (factor !== 1) for (let i = start; i < o; i++) out[i] = (out[i] as number) * factor;
  }
  return out;
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
  const inputs = embeddings.map((e) => transformInput(e, backbone, doc.input));
  const dim = inputs[0]?.length ?? 0;
  const rows = new Float32Array(inputs.length * dim);
  inputs.forEach((row, i) => rows.set(row, i * dim));
  const out = tf.tidy(() => model.predict(tf.tensor2d(rows, [inputs.length, dim])) as tf.Tensor);
  try {
    const data = (await out.data()) as Float32Array;
    const c = doc.classes.length;
    return inputs.map((_, i) => data.slice(i * c, (i + 1) * c));
  } finally {
    out.dispose();
  }
}
