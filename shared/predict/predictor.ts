/**
 * Prediction from frozen passes (moved from shared/learn/fine-tune.ts): a head document, plain or
 * fine-tuned, run on cached cut activations and embeddings of a backbone split at its cut.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Prediction } from '../api.ts';
import { backboneTailArtifacts, headArtifacts, type HeadDocument } from '../head/document.ts';
import { embeddingPart, type BackboneManifest } from '../model/manifest.ts';
import { headModelProbabilities, rankPredictions } from './head-runner.ts';

/** What the frozen part gives for one image: the cut activation and the ordinary embedding. */
export interface FrozenOutput {
  /** The cut layer's output, flattened (shape `cutShape`). */
  cut: Float32Array;
  /** The backbone's embedding, exactly as `Backbone.embed` computes it. */
  embedding: Float32Array;
}

/** Where a backbone was split: the frozen passes a {@link PersonalModel} reads come from this cut. */
export interface FrozenCut {
  readonly cut: string;
  readonly cutShape: readonly number[];
  readonly manifest: BackboneManifest;
}

/** A head document, fine-tuned or not, ready to predict from a frozen pass. */
export interface PersonalModel {
  readonly doc: HeadDocument;
  /** The embedding the head reads: the frozen one with the tail's parts recomputed by the personal layers. */
  embed(frozen: FrozenOutput): Promise<Float32Array>;
  /** Class scores, descending. */
  predict(frozen: FrozenOutput, top?: number): Promise<Prediction[]>;
  /** Class probabilities (in `doc.classes` order) for many frozen passes, batched. */
  probabilities(frozen: readonly FrozenOutput[]): Promise<Float32Array[]>;
  dispose(): void;
}

/** Copies the tail's part outputs into a copy of the frozen embedding, row by row. */
function personalEmbeddings(manifest: BackboneManifest, parts: readonly string[], frozen: readonly FrozenOutput[], outputs: Float32Array[]): Float32Array[] {
  return frozen.map((f, row) => {
    const embedding = f.embedding.slice();
    parts.forEach((name, k) => {
      const part = embeddingPart(manifest, name);
      embedding.set((outputs[k] as Float32Array).subarray(row * part.size, (row + 1) * part.size), part.offset);
    });
    return embedding;
  });
}

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

/**
 * Loads a head document for prediction from frozen passes of `split`'s backbone. A fine-tuned
 * document's tail must have been cut where `split` cuts; a plain head works too (its embedding is
 * the frozen one).
 */
export async function loadPersonalModel(doc: HeadDocument, split: FrozenCut): Promise<PersonalModel> {
  const tailDoc = doc.backboneTail;
  if (tailDoc && (tailDoc.cut !== split.cut || tailDoc.cutShape.join() !== split.cutShape.join())) {
    throw new Error(`the model was fine-tuned above ${tailDoc.cut} ${JSON.stringify(tailDoc.cutShape)}, the backbone is split at ${split.cut} ${JSON.stringify(split.cutShape)}`);
  }
  const manifest = split.manifest;
  const head = await tfl.loadLayersModel(tf.io.fromMemory(headArtifacts(doc)));
  let tail: tfl.LayersModel | null = null;
  try {
    if (tailDoc) tail = await tfl.loadLayersModel(tf.io.fromMemory(backboneTailArtifacts(tailDoc)));
  } catch (error) {
    head.dispose();
    throw error;
  }

  const embedAll = async (frozen: readonly FrozenOutput[]): Promise<Float32Array[]> => {
    if (!tail || !tailDoc) return frozen.map((f) => f.embedding);
    const outputs = await runTail(tail, tailDoc.cutShape, frozen.map((f) => f.cut));
    return personalEmbeddings(manifest, tailDoc.parts, frozen, outputs);
  };
  const probabilities = async (frozen: readonly FrozenOutput[]): Promise<Float32Array[]> => {
    if (frozen.length === 0) return [];
    return headModelProbabilities(head, doc, manifest, await embedAll(frozen));
  };
  return {
    doc,
    embed: async (frozen) => (await embedAll([frozen]))[0] as Float32Array,
    predict: async (frozen, top) => rankPredictions(doc.classes, (await probabilities([frozen]))[0] as Float32Array, top),
    probabilities,
    dispose() {
      head.dispose();
      tail?.dispose();
    },
  };
}
