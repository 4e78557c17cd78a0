/**
 * Fine-tuned models through the prediction layer (shared/predict/predictor.ts) on the real
 * MobileNetV2 and WASM backend: its two entry points (pixels, and a cached frozen pass from
 * shared/model/backbone-split.ts) agree, the embedding parts above the cut really change while the
 * others stay the frozen ones, it refuses documents and inputs it cannot run, and it leaks no tensors.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNodeWasmBackend, initNodeImageDecoder } from '../../scripts/node-backend.ts';
import { loadLocalModels, type LocalModels } from '../../scripts/node-models.ts';
import { splitBackbone } from '../../shared/model/backbone-split.ts';
import type { HeadDocument } from '../../shared/head/document.ts';
import { decodeImage } from '../../shared/image/decode.ts';
import { validateHeadDocument, type BackboneModelJson } from '../../shared/head/validate.ts';
import { inferLayerShapes } from '../../shared/model/layer-shapes.ts';
import { embeddingPart } from '../../shared/model/manifest.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PUBLIC_DIR } from '../../scripts/prepare-models.ts';
import { preprocess } from '../../shared/image/preprocess.ts';
import { argMax, documentWeightCount, loadPredictor, rankPredictions } from '../../shared/predict/predictor.ts';
import { augmentedViews } from '../../shared/image/augment.ts';
import { fixtures } from '../helpers/fixtures.ts';
import { makeFineTunedDoc } from '../helpers/fine-tuned.ts';
import { makeTestHead } from '../helpers/heads.ts';

let models: LocalModels;
let doc: HeadDocument;
let inputs: Float32Array[];

beforeAll(async () => {
  await startNodeWasmBackend();
  await initNodeImageDecoder();
  models = await loadLocalModels();
  const manifest = models.manifest.backbone;
  doc = await makeFineTunedDoc(models.backbone, { id: crypto.randomUUID(), seed: 3 });
  inputs = [];
  for (const f of (await fixtures()).slice(0, 3)) inputs.push(preprocess(await decodeImage(f.bytes), manifest.normalization));
}, 300_000);

afterAll(() => models.backbone.dispose());

describe('a tail as TF.js writes it (shared/learn/fine-tune.ts)', () => {
  it('passes validation against the backbone’s converted model.json (TF.js drops ReLU defaults it does not implement)', () => {
    const manifest = models.manifest.backbone;
    const backboneModel = JSON.parse(readFileSync(join(PUBLIC_DIR, (manifest.files[0] as { path: string }).path), 'utf8')) as BackboneModelJson;
    expect(validateHeadDocument(JSON.parse(JSON.stringify(doc)), manifest, { backboneModel }).doc.id).toBe(doc.id);
    // A ReLU that really differs is still refused.
    const tail = structuredClone(doc.backboneTail) as NonNullable<HeadDocument['backboneTail']>;
    const layers = (tail.modelTopology as { config: { layers: { class_name: string; config: Record<string, unknown> }[] } }).config.layers;
    const relu = layers.find((l) => l.class_name === 'ReLU');
    if (!relu) throw new Error('no ReLU in the tail');
    relu.config.negative_slope = 0.1;
    expect(() => validateHeadDocument(JSON.parse(JSON.stringify({ ...doc, backboneTail: tail })), manifest, { backboneModel })).toThrow(/differs from the backbone/);
  });
});

describe('inferLayerShapes (shared/model/layer-shapes.ts), which the validator checks cutShape with', () => {
  it('gives every layer of the shipped backbone the output shape TF.js gives it', async () => {
    const manifest = models.manifest.backbone;
    const backboneModel = JSON.parse(readFileSync(join(PUBLIC_DIR, (manifest.files[0] as { path: string }).path), 'utf8')) as BackboneModelJson;
    const topology = backboneModel.modelTopology as { model_config?: { config: Record<string, unknown> }; config?: Record<string, unknown> };
    const shapes = inferLayerShapes(topology.model_config?.config ?? topology.config ?? {});
    const layers = (await models.backbone.layersModel()).layers;
    expect(layers.length).toBeGreaterThan(150);
    for (const layer of layers) {
      const real = (layer.outputShape as (number | null)[]).slice(1);
      expect(shapes.get(layer.name), layer.name).toEqual(real);
    }
  });
});

describe('loadPredictor with a fine-tuned model', () => {
  it('its two entry points agree: from pixels, and from the backbone split’s cached frozen pass, to 1e-6', async () => {
    const predictor = await loadPredictor(doc, models.backbone);
    const split = splitBackbone(models.backbone, { cut: predictor.cut as string });
    try {
      for (const input of inputs) {
        const fromPixels = await predictor.predictPreprocessed(input);
        const fromFrozen = await predictor.predictFrozen(await split.forward(input));
        expect(fromPixels.map((p) => p.label)).toEqual(fromFrozen.map((p) => p.label));
        fromPixels.forEach((p, i) => expect(Math.abs(p.score - (fromFrozen[i]?.score as number))).toBeLessThan(1e-6));
        // The batched form of the second entry point gives the same scores.
        const [row] = await predictor.probabilities([await split.forward(input)]);
        fromFrozen.forEach((p) => expect(Math.abs(p.score - ((row as Float32Array)[doc.classes.indexOf(p.label)] as number))).toBeLessThan(1e-6));
        // argMax of a row of probabilities names the top-ranked class.
        expect(doc.classes[argMax(row as Float32Array)]).toBe(fromFrozen[0]?.label);
      }
    } finally {
      predictor.dispose();
    }
  });

  it('recomputes the tail’s parts and takes the others from the frozen backbone', async () => {
    const manifest = models.manifest.backbone;
    const tailed = await loadPredictor(doc, models.backbone);
    try {
      const input = inputs[0] as Float32Array;
      const frozen = await models.backbone.embedPreprocessed(input);
      const personal = await tailed.embed(await tailed.frozenPass(input));
      const tailParts = doc.backboneTail?.parts ?? [];
      expect(tailParts.length).toBeGreaterThan(0);
      for (const p of manifest.embedding.parts) {
        const part = embeddingPart(manifest, p.name);
        const a = frozen.subarray(part.offset, part.offset + part.size);
        const b = personal.subarray(part.offset, part.offset + part.size);
        let diff = 0;
        for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
        if (tailParts.includes(p.name)) expect(diff, p.name).toBeGreaterThan(1e-3);
        else expect(diff, p.name).toBe(0);
      }
    } finally {
      tailed.dispose();
    }
  });

  it('with the backbone’s own weights in the tail, the personal embedding is the frozen one', async () => {
    const same = await makeFineTunedDoc(models.backbone, { id: crypto.randomUUID(), jitter: 0 });
    const tailed = await loadPredictor(same, models.backbone);
    try {
      const input = inputs[1] as Float32Array;
      const frozen = await models.backbone.embedPreprocessed(input);
      const personal = await tailed.embed(await tailed.frozenPass(input));
      let diff = 0;
      for (let i = 0; i < frozen.length; i++) diff = Math.max(diff, Math.abs((frozen[i] as number) - (personal[i] as number)));
      expect(diff).toBeLessThan(1e-4);
    } finally {
      tailed.dispose();
    }
  });

  it('refuses an unknown cut, a wrong cut shape, a missing backbone model and a frozen pass of another cut, leaking nothing', async () => {
    const manifest = models.manifest.backbone;
    const before = tf.memory().numTensors;
    const tail = doc.backboneTail as NonNullable<HeadDocument['backboneTail']>;
    await expect(loadPredictor({ ...doc, backboneTail: { ...tail, cut: 'no_such_layer' } }, models.backbone)).rejects.toThrow(/not in backbone/);
    await expect(loadPredictor({ ...doc, backboneTail: { ...tail, cutShape: [7, 7, 161] } }, models.backbone)).rejects.toThrow(/fine-tuned above/);
    await expect(loadPredictor(doc, { manifest })).rejects.toThrow(/backbone model/);
    expect(tf.memory().numTensors).toBe(before);
    const predictor = await loadPredictor(doc, models.backbone);
    try {
      const embedding = await models.backbone.embedPreprocessed(inputs[0] as Float32Array);
      await expect(predictor.predictFrozen({ embedding })).rejects.toThrow(/reads 7840 floats/);
      await expect(predictor.predictFrozen({ embedding, cut: new Float32Array(7 * 7 * 96) })).rejects.toThrow(/got 4704/);
    } finally {
      predictor.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a plain head predicts the same from pixels as from the backbone’s embedding', async () => {
    const manifest = models.manifest.backbone;
    const predictor = await loadPredictor(makeTestHead(manifest), models.backbone);
    try {
      expect(predictor.cut).toBeNull();
      const input = inputs[2] as Float32Array;
      const embedding = await models.backbone.embedPreprocessed(input);
      expect(await predictor.predictPreprocessed(input)).toEqual(await predictor.predictFrozen({ embedding }));
    } finally {
      predictor.dispose();
    }
  });

  it('leaks no tensors across predictions and frees its weights on dispose', async () => {
    const before = tf.memory().numTensors;
    const bytesBefore = tf.memory().numBytes;
    const tailed = await loadPredictor(doc, models.backbone);
    const loaded = tf.memory().numTensors;
    expect(loaded).toBeGreaterThan(before);
    // What it reports for cache budgets is what its weights really take.
    expect(tailed.weightBytes).toBe(tf.memory().numBytes - bytesBefore);
    await tailed.predictPreprocessed(inputs[0] as Float32Array);
    const after1 = tf.memory().numTensors;
    for (const input of inputs) await tailed.predictPreprocessed(input, 2);
    expect(tf.memory().numTensors).toBe(after1);
    tailed.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(tailed.weightBytes).toBe(documentWeightCount(doc) * 4);
    expect(tailed.weightBytes).toBeGreaterThan(500_000 * 4);
  });
});

describe('predictPixels with test-time augmentation (shared/head/tta.ts)', () => {
  it('a head that records it: the mean of its per-view probabilities, the same on every run; without it: the photo alone', async () => {
    const manifest = models.manifest.backbone;
    const pixels = await decodeImage(((await fixtures())[0] as { bytes: Uint8Array }).bytes);
    const tta = { views: 3, seed: 21 };
    const plainDoc = makeTestHead(manifest, { hidden: 0 });
    const plain = await loadPredictor(plainDoc, models.backbone);
    const augmented = await loadPredictor({ ...plainDoc, testTimeAugmentation: tta }, models.backbone);
    try {
      const before = tf.memory().numTensors;
      const scores = await augmented.predictPixels(pixels);
      // Written out here, not through shared/head/tta.ts, so that a drift there fails: the views
      // Train stores for a photo (augmentedViews with the head's seed), and the plain mean.
      const frozen = [];
      for (const view of [pixels, ...augmentedViews(pixels, { count: tta.views, seed: tta.seed })]) frozen.push(await plain.frozenPass(preprocess(view, manifest.normalization)));
      const rows = await plain.probabilities(frozen);
      const mean = plainDoc.classes.map((_, j) => Math.fround(rows.reduce((a, row) => a + (row[j] as number), 0) / rows.length));
      const expected = rankPredictions(plainDoc.classes, mean);
      expect(scores).toEqual(expected);
      expect(await augmented.predictPixels(pixels)).toEqual(scores);
      // The photo alone scores differently; a head without the field, and TTA turned off, give that.
      const alone = await plain.predictPreprocessed(preprocess(pixels, manifest.normalization));
      expect(scores).not.toEqual(alone);
      expect(await plain.predictPixels(pixels)).toEqual(alone);
      expect(await augmented.predictPixels(pixels, undefined, { testTimeAugmentation: false })).toEqual(alone);
      expect((await augmented.predictPixels(pixels, 2)).map((p) => p.label)).toEqual(scores.slice(0, 2).map((p) => p.label));
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      plain.dispose();
      augmented.dispose();
    }
  });
});
