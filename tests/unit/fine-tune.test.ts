/**
 * Fine-tuning the backbone's top block with the real MobileNetV2 on the WASM backend (project
 * gradient kernels), on a few emoji: the split reproduces the backbone exactly, a fine-tuned model
 * round-trips through its head document (JSON and standard files) with identical predictions,
 * stays under the head size limit, and leaks no tensors.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Backbone } from '../../shared/model/backbone.ts';
import { beforeAll, describe, expect, it } from 'vitest';
import { openBackbone } from '../../scripts/cli/runtime.ts';
import { startNodeWasmBackend } from '../../scripts/node-backend.ts';
import { loadLocalModels } from '../../scripts/node-models.ts';
import { bytesToBase64 } from '../../shared/util/base64.ts';
import { fineTune, type FineTuneExample, type FineTuneResult } from '../../shared/learn/fine-tune.ts';
import { HEAD_LIMITS } from '../../shared/limits.ts';
import { splitBackbone, type BackboneSplit, type FrozenOutput } from '../../shared/model/backbone-split.ts';
import { loadPredictor } from '../../shared/predict/predictor.ts';
import { exportBackboneTailFiles, exportHeadFiles, importHeadFiles, type HeadDocument } from '../../shared/head/document.ts';
import { decodeImage } from '../../shared/image/decode.ts';
import type { BackboneManifest } from '../../shared/model/manifest.ts';
import { preprocess } from '../../shared/image/preprocess.ts';
import { mulberry32, shuffle } from '../../shared/util/random.ts';
import { trainHead } from '../../shared/learn/train-head.ts';
import { registerWasmGradientKernels } from '../../shared/model/wasm-grad-kernels.ts';
import { emojiFiles, emojiPng } from '../../scripts/emoji.ts';
import { maxAbsDiff } from '../helpers/compare.ts';

const CLASSES = ['food-fruit', 'heart', 'transport-ground'];
const TRAIN_PER_CLASS = 4;
const TEST_PER_CLASS = 2;


let manifest: BackboneManifest;
let backbone: Backbone;
let split: BackboneSplit;
let train: FineTuneExample[];
let test: FrozenOutput[];
/** Backbone.embed of the first training photo, through the ordinary (unsplit) model. */
let reference: Float32Array;

beforeAll(async () => {
  await startNodeWasmBackend();
  registerWasmGradientKernels();
  backbone = await openBackbone();
  manifest = backbone.manifest;
  split = splitBackbone(backbone, { unfreeze: 1 });
  const random = mulberry32(5);
  train = [];
  test = [];
  let firstPixels: Awaited<ReturnType<typeof decodeImage>> | null = null;
  for (const label of CLASSES) {
    const files = emojiFiles(label);
    for (const [k, file] of shuffle(files, random).slice(0, TRAIN_PER_CLASS + TEST_PER_CLASS).entries()) {
      const pixels = await decodeImage(emojiPng(file));
      firstPixels ??= pixels;
      const frozen = await split.forward(preprocess(pixels, manifest.normalization));
      if (k < TRAIN_PER_CLASS) train.push({ photoId: file, label, embedding: frozen.embedding, cut: frozen.cut, augmented: false });
      else test.push(frozen);
    }
  }
  const models = await loadLocalModels();
  reference = await models.backbone.embed(firstPixels as NonNullable<typeof firstPixels>);
  models.backbone.dispose();
}, 300_000);


describe('BackboneSplit', () => {
  it('cuts MobileNetV2 above block 16 (unfreeze 1) or 15 (unfreeze 2); the frozen pass gives the ordinary embedding', () => {
    expect(split.cut).toBe('block_15_add');
    expect(split.cutShape).toEqual([7, 7, 160]);
    expect(split.tailParts).toEqual(['block_16_expand_relu', 'flatten_1']);
    expect(split.tailLayers[0]).toBe('block_16_expand');
    expect(split.tailLayers).toContain('Conv_1');
    expect(split.tailLayers).not.toContain('embedding');
    const two = splitBackbone(backbone, { unfreeze: 2 });
    expect(two.cut).toBe('block_14_add');
    expect(two.tailLayers).toContain('block_15_add');
    // Inside a residual block the tail would also read the block's frozen input.
    expect(() => splitBackbone(backbone, { cut: 'block_15_project_BN' })).toThrow(/block_15_add also reads block_14_add/);
    expect(() => splitBackbone(backbone, { cut: 'flatten_1' })).toThrow(/above every embedding part/);
    expect(splitBackbone(backbone, { cut: 'out_relu' }).tailParts).toEqual(['flatten_1']);
    // Conv_1 and its batch normalisation run inside out_relu's fused kernel: there is no output to cut at.
    expect(() => splitBackbone(backbone, { cut: 'Conv_1' })).toThrow(/Conv_1: it is folded into out_relu/);
    expect(maxAbsDiff((train[0] as FineTuneExample).embedding, reference)).toBe(0);
  });

  it('the untrained personal tail reproduces the frozen embedding', async () => {
    const warm = await trainHead(train, { backbone: manifest, seed: 1, epochs: 5 });
    const tail = await split.initialTail();
    const doc: HeadDocument = {
      ...warm.doc,
      backboneTail: { cut: split.cut, cutShape: split.cutShape, parts: split.tailParts, ...tail, weightData: bytesToBase64(tail.weightData) },
    };
    const before = tf.memory().numTensors;
    const personal = await loadPredictor(doc, split);
    // The frozen embedding comes from the folded graph, the tail from unfolded layers (batch
    // normalisation applied after the convolution): float32 rounding differs by a few 1e-6.
    for (const f of test.slice(0, 2)) expect(maxAbsDiff(await personal.embed(f), f.embedding)).toBeLessThanOrEqual(1e-5);
    personal.dispose();
    expect(tf.memory().numTensors).toBe(before);
  }, 300_000);
});

describe('fineTune', () => {
  let result: FineTuneResult;
  let tensorsBefore: number;
  beforeAll(async () => {
    tensorsBefore = tf.memory().numTensors;
    // No held-out photos: a fixed 2-epoch schedule always yields a tail to round-trip.
    result = await fineTune(split, train, { backbone: manifest, seed: 2, epochs: 2, validation: 'none', learningRate: 1e-3 });
  }, 300_000);

  it('trains the tail and the head without leaking tensors, under the size limit', async () => {
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(result.bestEpoch).toBe(2);
    expect(result.measured).toBe(false);
    expect(result.history.map((h) => [h.phase, h.epoch])).toEqual([
      ['final', 0],
      ['final', 1],
      ['final', 2],
    ]);
    for (const h of result.history.slice(1)) expect(Number.isFinite(h.loss)).toBe(true);
    const tail = result.doc.backboneTail;
    expect(tail).toMatchObject({ cut: 'block_15_add', cutShape: [7, 7, 160], parts: ['block_16_expand_relu', 'flatten_1'] });
    expect(result.documentBytes).toBe(new TextEncoder().encode(JSON.stringify(result.doc)).length);
    expect(result.documentBytes).toBeLessThan(HEAD_LIMITS.maxDocumentBytes);
    // The personal layers moved: the recomputed parts differ from the frozen ones.
    const personal = await loadPredictor(result.doc, split);
    const e = await personal.embed(test[0] as FrozenOutput);
    personal.dispose();
    const part = manifest.embedding.parts.find((p) => p.name === 'flatten_1') as { offset: number; size: number };
    const frozenPart = (test[0] as FrozenOutput).embedding.subarray(part.offset, part.offset + part.size);
    expect(maxAbsDiff(e.subarray(part.offset, part.offset + part.size), frozenPart)).toBeGreaterThan(1e-4);
    const first = manifest.embedding.parts[0] as { offset: number; size: number };
    // ...and the frozen part before the cut is untouched.
    expect(maxAbsDiff(e.subarray(first.offset, first.offset + first.size), (test[0] as FrozenOutput).embedding.subarray(first.offset, first.offset + first.size))).toBe(0);
  });

  it('round-trips through JSON and through standard TF.js files with identical predictions', async () => {
    const viaJson = JSON.parse(JSON.stringify(result.doc)) as HeadDocument;
    const head = exportHeadFiles(result.doc);
    const tail = exportBackboneTailFiles(result.doc);
    const viaFiles = importHeadFiles(
      JSON.parse(JSON.stringify(head.modelJson)) as Record<string, unknown>,
      head.weights,
      { modelJson: JSON.parse(JSON.stringify(tail.modelJson)) as Record<string, unknown>, weights: tail.weights },
    );
    expect(viaFiles).toEqual(result.doc);
    const before = tf.memory().numTensors;
    const scores = async (doc: HeadDocument): Promise<Float32Array[]> => {
      const m = await loadPredictor(doc, split);
      try {
        return await m.probabilities(test);
      } finally {
        m.dispose();
      }
    };
    const original = await scores(result.doc);
    expect(await scores(viaJson)).toEqual(original);
    expect(await scores(viaFiles)).toEqual(original);
    expect(tf.memory().numTensors).toBe(before);
    // predictFrozen() agrees with the batched probabilities.
    const m = await loadPredictor(viaJson, split);
    const top = (await m.predictFrozen(test[0] as FrozenOutput))[0];
    m.dispose();
    const row = original[0] as Float32Array;
    expect(top?.label).toBe(result.doc.classes[row.indexOf(Math.max(...row))]);
  }, 300_000);

  it('measures on held-out photos (epoch 0, the plain head, competing under early stopping), then refits on all', async () => {
    const before = tf.memory().numTensors;
    const r = await fineTune(split, train, { backbone: manifest, seed: 3, epochs: 1, patience: 1 });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.split.method).toBe('holdout');
    expect(r.measured).toBe(true);
    const phases = r.history.map((h) => h.phase);
    expect(phases.slice(0, 2)).toEqual(['measure', 'measure']);
    expect(phases.slice(2)).toEqual(Array.from({ length: r.bestEpoch + 1 }, () => 'final'));
    for (const h of r.history) expect(h.valAccuracy === null).toBe(h.phase === 'final');
    expect(r.metrics.n).toBe(CLASSES.length);
    expect(r.baseline.n).toBe(CLASSES.length);
    expect(r.improved).toBe(r.bestEpoch > 0);
    expect(r.doc.backboneTail !== undefined).toBe(r.improved);
    expect(r.metrics.accuracy).toBeGreaterThanOrEqual(r.baseline.accuracy);
  }, 300_000);

  it('refuses a document over the size limit', async () => {
    await expect(fineTune(split, train, { backbone: manifest, seed: 2, epochs: 1, validation: 'none', maxDocumentBytes: 1e6 })).rejects.toThrow(/over the 1\.0 MB limit/);
  }, 300_000);
});
