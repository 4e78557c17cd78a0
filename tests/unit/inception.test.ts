/**
 * The second backbone, nsfwjs's InceptionV3 cut at `mixed7` (scripts/model-spec.ts), as the install
 * step prepared it: the folded graph (shared/model/folded-graph.ts, every Conv2D -> BatchNormalization
 * without scale -> ReLU fused, average pooling with 'same' padding, the `mixedN` concatenations) gives
 * the unfolded layers model's embedding to 1e-4 on real images, and that embedding is the original
 * full nsfwjs model's `mixed7`, global-average pooled: the cut dropped nothing the embedding needs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadLayersModel, model as functionalModel } from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INCEPTION_V3 } from '../../scripts/model-spec.ts';
import { initNodeImageDecoder, startNodeWasmBackend } from '../../scripts/node-backend.ts';
import { loadLocalModels, type LocalModels } from '../../scripts/node-models.ts';
import { readSource } from '../../scripts/prepare-models.ts';
import { decodeImage } from '../../shared/image/decode.ts';
import { preprocess } from '../../shared/image/preprocess.ts';
import { maxAbsDiff } from '../helpers/compare.ts';
import { fixtures } from '../helpers/fixtures.ts';

let models: LocalModels;
let inputs: Float32Array[];

beforeAll(async () => {
  await startNodeWasmBackend();
  await initNodeImageDecoder();
  models = await loadLocalModels(undefined, INCEPTION_V3.id);
  const spec = models.backbone.manifest.normalization;
  inputs = [];
  // Emoji PNGs with transparency and the 640x480 JPEG scene, resized to 299x299.
  for (const f of (await fixtures()).slice(0, 3)) inputs.push(preprocess(await decodeImage(f.bytes), spec));
}, 300_000);

afterAll(() => models.backbone.dispose());

describe('the folded InceptionV3 (mixed7, average pooled)', () => {
  it('folds every batch normalisation and ReLU into its convolution', () => {
    const { graph } = models.backbone;
    expect(graph.inputShape).toEqual([299, 299, 3]);
    const kinds = graph.nodes.map((n) => n.kind);
    // The 70 convolutions up to mixed7 (conv2d_1..conv2d_70), each with its BN and ReLU folded in; nothing left unfolded.
    expect(kinds.filter((k) => k === 'Conv2D+BatchNormalization+Activation').length).toBe(70);
    expect(kinds.filter((k) => k.startsWith('BatchNormalization') || k === 'Activation')).toEqual([]);
  });

  it('gives the layers model’s embedding to 1e-4 on real images', async () => {
    const { backbone } = models;
    const layers = await backbone.layersModel();
    expect(inputs.length).toBe(3);
    const before = tf.memory().numTensors;
    let largest = 0;
    for (const input of inputs) {
      const folded = await backbone.embedPreprocessed(input);
      const reference = tf.tidy(() => layers.predict(tf.tensor4d(input, [1, 299, 299, 3])) as tf.Tensor);
      const expected = (await reference.data()) as Float32Array;
      reference.dispose();
      expect(folded.length).toBe(768);
      expect(maxAbsDiff(folded, expected)).toBeLessThan(1e-4);
      largest = Math.max(largest, ...expected);
    }
    // Not a trivially small output: the comparison means something.
    expect(largest).toBeGreaterThan(1);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is the original full model’s mixed7, global-average pooled', async () => {
    const { model, weights } = readSource(INCEPTION_V3);
    const group = model.weightsManifest[0];
    const original = await loadLayersModel(tf.io.fromMemory({ modelTopology: model.modelTopology, weightSpecs: group?.weights, weightData: weights.slice().buffer }));
    try {
      const probe = functionalModel({ inputs: original.inputs, outputs: original.getLayer('mixed7').output as never });
      const input = inputs[2] as Float32Array;
      const pooled = tf.tidy(() => tf.mean(probe.predict(tf.tensor4d(input, [1, 299, 299, 3])) as tf.Tensor, [1, 2]));
      const expected = (await pooled.data()) as Float32Array;
      pooled.dispose();
      expect(maxAbsDiff(await models.backbone.embedPreprocessed(input), expected)).toBeLessThan(1e-4);
    } finally {
      original.dispose();
    }
  }, 120_000);
});
