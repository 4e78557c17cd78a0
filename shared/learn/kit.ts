/**
 * What every trainer here (`trainHead`, `fineTune`) needs, written once: cancellation, checks of
 * their options, one-hot labels, the trainable variables of a tfjs-layers model, a snapshot of
 * weights to return to the best epoch, saving a trained model as artifacts, and judging labelled
 * rows in batches.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel, LayerVariable } from '@tensorflow/tfjs-layers';
import type { SavedArtifacts } from '../head/document.ts';
import type { Example } from './examples.ts';

/** The error a cancelled training rejects with: a DOMException named `AbortError`. */
export function trainingCancelled(): DOMException {
  return new DOMException('Training was cancelled.', 'AbortError');
}

/** Throws {@link trainingCancelled} once `signal` has aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw trainingCancelled();
}

/** Throws a RangeError naming the option unless `value` is a whole number of at least 1. */
export function requirePositiveInteger(name: string, value: number): void {
  if (!(Number.isInteger(value) && value >= 1)) throw new RangeError(`${name} must be a positive integer, got ${value}`);
}

/** Each example's class as its index in `classes` (every label must be one of them). */
export function classIndices(examples: readonly Pick<Example, 'label'>[], classes: readonly string[]): number[] {
  const index = new Map(classes.map((c, i) => [c, i]));
  return examples.map((e) => index.get(e.label) as number);
}

/** One-hot float32 rows for class indices. */
export function oneHot(labels: readonly number[], classes: number): tf.Tensor2D {
  return tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels as number[], 'int32'), classes), 'float32') as tf.Tensor2D);
}

/**
 * The tfjs-core Variables behind tfjs-layers weights, which an optimizer updates. Throws if a
 * weight is not one, which also catches two copies of tfjs-core in a bundle (they would silently
 * train nothing).
 */
export function layerVariables(weights: readonly LayerVariable[]): tf.Variable[] {
  return weights.map((w) => {
    const v = w.read();
    if (!(v instanceof tf.Variable)) throw new Error('tfjs-layers weight is not a tfjs-core Variable');
    return v;
  });
}

/** A copy of some variables' values, to put back later: the best epoch's weights. */
export class WeightSnapshot {
  private saved: tf.Tensor[] | null = null;

  constructor(private readonly variables: readonly tf.Variable[]) {}

  /** Copies the current values, replacing an earlier copy. */
  take(): void {
    this.dispose();
    this.saved = this.variables.map((v) => tf.clone(v));
  }

  /** Puts the copied values back into the variables; does nothing before the first `take()`. */
  restore(): void {
    this.saved?.forEach((s, i) => (this.variables[i] as tf.Variable).assign(s));
  }

  /** Frees the copy (the variables are not touched). */
  dispose(): void {
    if (this.saved) tf.dispose(this.saved);
    this.saved = null;
  }
}

/** A model's topology and float32 weights, through a save handler (nothing is written anywhere). */
export async function saveModelArtifacts(model: LayersModel): Promise<SavedArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!saved?.modelTopology || !saved.weightSpecs || !saved.weightData) throw new Error('the model saved no weights');
  return {
    modelTopology: saved.modelTopology as Record<string, unknown>,
    weightSpecs: saved.weightSpecs.map((s) => {
      if (s.dtype !== 'float32') throw new Error(`unexpected weight dtype ${String(s.dtype)} for ${s.name}`);
      return { name: s.name, shape: s.shape, dtype: 'float32' as const };
    }),
    weightData: new Uint8Array(tf.io.CompositeArrayBuffer.join(saved.weightData)),
  };
}

/** How a model did on labelled rows. */
export interface Judgement {
  /** Rows whose predicted class is their label. */
  correct: number;
  /** Mean loss per row. */
  loss: number;
  /** Predicted class index of each row. */
  predictions: Int32Array;
}

/**
 * Judges labelled rows `batchSize` at a time, so that the tensors of only one batch exist at once.
 * `score(rows)` (run inside `tf.tidy`) gives, for those row indices, their summed loss and their
 * predicted class indices.
 */
export async function judgeInBatches(
  labels: readonly number[],
  score: (rows: number[]) => [loss: tf.Scalar, predictions: tf.Tensor1D],
  batchSize = 32,
): Promise<Judgement> {
  const predictions = new Int32Array(labels.length);
  let loss = 0;
  let correct = 0;
  for (let start = 0; start < labels.length; start += batchSize) {
    const rows = Array.from({ length: Math.min(batchSize, labels.length - start) }, (_, i) => start + i);
    const [lossT, predT] = tf.tidy(() => score(rows));
    try {
      loss += ((await lossT.data()) as Float32Array)[0] as number;
      const pred = (await predT.data()) as Int32Array;
      rows.forEach((r, i) => {
        predictions[r] = pred[i] as number;
        if (pred[i] === labels[r]) correct++;
      });
    } finally {
      tf.dispose([lossT, predT]);
    }
  }
  return { correct, loss: loss / labels.length, predictions };
}
