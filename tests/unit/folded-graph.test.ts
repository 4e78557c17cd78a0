/**
 * The folded backbone (shared/model/folded-graph.ts) against the unfolded TF.js layers model, on
 * the real MobileNetV2 files and real images (WASM backend): the same embedding and the same
 * intermediate activations to 1e-4, with every batch normalisation, ReLU6 and zero padding folded
 * away; and, on a small model with random statistics, the other chains a second backbone brings
 * (Conv -> BN without scale -> Activation('relu'), a lone BN, odd input sizes, max pooling).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initNodeImageDecoder, startNodeWasmBackend } from '../../scripts/node-backend.ts';
import { loadLocalModels, type LocalModels } from '../../scripts/node-models.ts';
import { decodeImage } from '../../shared/image/decode.ts';
import { preprocess } from '../../shared/image/preprocess.ts';
import { decodeWeights, FoldedGraph, type LayersModelFile } from '../../shared/model/folded-graph.ts';
import { mulberry32 } from '../../shared/util/random.ts';
import { maxAbsDiff } from '../helpers/compare.ts';
import { fixtures } from '../helpers/fixtures.ts';

let models: LocalModels;
let inputs: Float32Array[];

beforeAll(async () => {
  await startNodeWasmBackend();
  await initNodeImageDecoder();
  models = await loadLocalModels();
  const spec = models.manifest.backbone.normalization;
  inputs = [];
  // Emoji PNGs with transparency and the 640x480 JPEG scene: real, varied inputs.
  for (const f of await fixtures()) inputs.push(preprocess(await decodeImage(f.bytes), spec));
}, 300_000);

afterAll(() => models.backbone.dispose());

describe('the folded MobileNetV2', () => {
  it('gives the layers model’s embedding to 1e-4 on real images, batch 1 and batched', async () => {
    const { backbone } = models;
    const model = await backbone.layersModel();
    const { height, width } = backbone.manifest.normalization;
    expect(inputs.length).toBeGreaterThanOrEqual(3);
    let largest = 0;
    for (const input of inputs) {
      const folded = await backbone.embedPreprocessed(input);
      const reference = tf.tidy(() => model.predict(tf.tensor4d(input, [1, height, width, 3])) as tf.Tensor);
      const expected = (await reference.data()) as Float32Array;
      reference.dispose();
      expect(folded.length).toBe(backbone.manifest.embedding.size);
      expect(maxAbsDiff(folded, expected)).toBeLessThan(1e-4);
      largest = Math.max(largest, ...expected);
    }
    // Not a trivially small output: the comparison means something.
    expect(largest).toBeGreaterThan(1);

    const batch = tf.tensor4d(Float32Array.from(inputs.flatMap((x) => [...x])), [inputs.length, height, width, 3]);
    const [foldedBatch] = backbone.graph.execute(batch, [backbone.graph.output]);
    const referenceBatch = model.predict(batch) as tf.Tensor;
    expect(maxAbsDiff(await (foldedBatch as tf.Tensor).data(), await referenceBatch.data())).toBeLessThan(1e-4);
    tf.dispose([batch, foldedBatch as tf.Tensor, referenceBatch]);
  });

  it('gives the same cut activation and embedding parts that fine-tuning and fine-tuned models read', async () => {
    const { backbone } = models;
    const model = await backbone.layersModel();
    const { height, width } = backbone.manifest.normalization;
    const names = ['block_15_add', 'block_14_add', 'block_13_expand_relu', 'block_16_expand_relu', 'out_relu', 'Conv1_relu'];
    const input = inputs[0] as Float32Array;
    const folded = await backbone.run(input, names);
    const view = tfl.model({ inputs: model.inputs, outputs: names.map((n) => model.getLayer(n).output as tfl.SymbolicTensor) });
    const outs = tf.tidy(() => view.predict(tf.tensor4d(input, [1, height, width, 3])) as tf.Tensor[]);
    for (const [i, name] of names.entries()) {
      const expected = await (outs[i] as tf.Tensor).data();
      expect(folded[i]?.length, name).toBe(expected.length);
      expect(maxAbsDiff(folded[i] as Float32Array, expected), name).toBeLessThan(1e-4);
      expect(backbone.graph.shapeOf(name), name).toEqual((outs[i] as tf.Tensor).shape.slice(1));
    }
    tf.dispose(outs);
  });

  it('folds every batch normalisation, ReLU6 and zero padding into the convolutions: 67 ops where the layers model runs 159 layers', () => {
    const { graph } = models.backbone;
    const kinds = graph.nodes.map((n) => n.kind);
    expect(kinds).not.toContain('BatchNormalization');
    expect(kinds).not.toContain('ReLU');
    expect(kinds).not.toContain('ZeroPadding2D');
    // The shipped model has 35 ReLU6 layers, each right after a convolution's batch normalisation.
    expect(kinds.filter((k) => /Conv2D\+BatchNormalization\+ReLU$/.test(k)).length).toBe(35);
    expect(kinds.filter((k) => k.startsWith('ZeroPadding2D+')).length).toBe(5);
    // 35 + 17 fused convolutions, 10 adds, 2 global max pools, the average pool, flatten and concatenate.
    expect(graph.kernelCount).toBe(67);
    expect(graph.foldedInto('bn_Conv1')).toBe('Conv1_relu');
    expect(() => graph.execute(tf.zeros([1, 224, 224, 3]), ['Conv_1'])).toThrow(/Conv_1 is folded into out_relu/);
  });

  it('leaks no tensors across forward passes and reads of intermediate layers', async () => {
    const { backbone } = models;
    await backbone.embedPreprocessed(inputs[0] as Float32Array);
    const before = tf.memory().numTensors;
    for (const input of inputs.slice(0, 2)) {
      await backbone.embedPreprocessed(input);
      await backbone.run(input, ['block_15_add', 'block_13_expand_relu_gmp']);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

/** A small functional model with the chains InceptionV3-style backbones use, with random batch-norm statistics. */
function smallModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [17, 17, 3], name: 'image' });
  let x = tfl.layers.zeroPadding2d({ padding: [[0, 1], [0, 1]], name: 'pad' }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'valid', useBias: false, name: 'c1' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.batchNormalization({ scale: false, epsilon: 1e-3, name: 'c1_bn' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.activation({ activation: 'relu', name: 'c1_act' }).apply(x) as tfl.SymbolicTensor;
  const a = tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, name: 'dw' }).apply(x) as tfl.SymbolicTensor;
  const a2 = tfl.layers.batchNormalization({ name: 'dw_bn' }).apply(a) as tfl.SymbolicTensor;
  const a3 = tfl.layers.reLU({ maxValue: 6, name: 'dw_relu' }).apply(a2) as tfl.SymbolicTensor;
  const b = tfl.layers.conv2d({ filters: 8, kernelSize: 1, padding: 'same', useBias: true, name: 'proj' }).apply(x) as tfl.SymbolicTensor;
  const b2 = tfl.layers.batchNormalization({ name: 'proj_bn' }).apply(b) as tfl.SymbolicTensor;
  const sum = tfl.layers.add({ name: 'sum' }).apply([a3, b2]) as tfl.SymbolicTensor;
  const pooled = tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'pool' }).apply(sum) as tfl.SymbolicTensor;
  const lone = tfl.layers.batchNormalization({ name: 'lone_bn' }).apply(pooled) as tfl.SymbolicTensor;
  const gap = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(lone) as tfl.SymbolicTensor;
  const gmp = tfl.layers.globalMaxPooling2d({ name: 'gmp' }).apply(sum) as tfl.SymbolicTensor;
  const out = tfl.layers.concatenate({ name: 'embedding' }).apply([gmp, gap]) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out });
  // Random weights and batch-norm statistics (fresh layers have mean 0, variance 1: folding them would prove little).
  const random = mulberry32(7);
  model.setWeights(
    model.weights.map((w) => {
      const size = w.shape.reduce((p: number, d) => p * (d ?? 1), 1);
      const variance = w.originalName.endsWith('moving_variance');
      return tf.tensor(Float32Array.from({ length: size }, () => (variance ? 0.2 + random() : random() * 2 - 1)), w.shape.map((d) => d ?? 1));
    }),
  );
  return model;
}

describe('folding any Conv -> BatchNormalization -> activation chain', () => {
  it('matches the layers model on a model with a scale-less BN, a lone BN, odd padding and max pooling', async () => {
    const model = smallModel();
    let file: LayersModelFile | undefined;
    let data: Uint8Array | undefined;
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        file = { modelTopology: artifacts.modelTopology as Record<string, unknown>, weightsManifest: [{ weights: artifacts.weightSpecs as LayersModelFile['weightsManifest'][0]['weights'] }] };
        data = new Uint8Array(artifacts.weightData as ArrayBuffer);
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const graph = FoldedGraph.fromModelFile(file as LayersModelFile, decodeWeights((file as LayersModelFile).weightsManifest[0]?.weights ?? [], data as Uint8Array));
    try {
      expect(graph.nodes.map((n) => n.kind)).toEqual([
        'InputLayer',
        'ZeroPadding2D+Conv2D+BatchNormalization+Activation',
        'DepthwiseConv2D+BatchNormalization+ReLU',
        'Conv2D+BatchNormalization',
        'Add',
        'MaxPooling2D',
        'BatchNormalization',
        'GlobalMaxPooling2D',
        'GlobalAveragePooling2D',
        'Concatenate',
      ]);
      const random = mulberry32(3);
      const x = tf.tensor4d(Float32Array.from({ length: 2 * 17 * 17 * 3 }, () => random()), [2, 17, 17, 3]);
      const [folded] = graph.execute(x, [graph.output]);
      const expected = model.predict(x) as tf.Tensor;
      expect(maxAbsDiff(await (folded as tf.Tensor).data(), await expected.data())).toBeLessThan(1e-4);
      tf.dispose([x, folded as tf.Tensor, expected]);
    } finally {
      graph.dispose();
      model.dispose();
    }
  });

  it('refuses a layer it cannot run, naming it, and frees what it had folded', () => {
    const before = tf.memory().numTensors;
    const file: LayersModelFile = {
      modelTopology: {
        class_name: 'Model',
        config: {
          layers: [
            { name: 'in', class_name: 'InputLayer', config: { batch_input_shape: [null, 4, 4, 1] }, inbound_nodes: [] },
            { name: 'c', class_name: 'Conv2D', config: { filters: 1, kernel_size: [1, 1], padding: 'same', use_bias: false, activation: 'linear' }, inbound_nodes: [[['in', 0, 0, {}]]] },
            { name: 'lstm', class_name: 'LSTM', config: {}, inbound_nodes: [[['c', 0, 0, {}]]] },
          ],
          input_layers: [['in', 0, 0]],
          output_layers: [['lstm', 0, 0]],
        },
      },
      weightsManifest: [{ weights: [{ name: 'c/kernel', shape: [1, 1, 1, 1], dtype: 'float32' }] }],
    };
    const weights = decodeWeights(file.weightsManifest[0]?.weights ?? [], new Uint8Array(new Float32Array([2]).buffer));
    expect(() => FoldedGraph.fromModelFile(file, weights)).toThrow(/cannot fold layer lstm: LSTM is not supported/);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => decodeWeights(file.weightsManifest[0]?.weights ?? [], new Uint8Array(8))).toThrow(/hold 8 bytes, the manifest describes 4/);
  });
});
