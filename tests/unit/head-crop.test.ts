/**
 * Issue 17 point 2: the crop setting of a head document (shared/head/crop.ts) and the crop step of
 * the prediction layer (shared/crop/crop-step.ts, shared/predict/predictor.ts) on the real
 * MobileNetV2 and WASM backend. A crop head predicts a photo exactly as a plain head predicts the
 * photo's crop, with the box the clutter eval's arithmetic gives (the feature map of the same pass,
 * featureMapBox, the cut from the original pixels); validation refuses what no runtime can run;
 * the tensor count stays flat.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initNodeImageDecoder, startNodeWasmBackend } from '../../scripts/node-backend.ts';
import { loadLocalModels, type LocalModels } from '../../scripts/node-models.ts';
import { PUBLIC_DIR } from '../../scripts/prepare-models.ts';
import { cropToBox, WHOLE_FRAME } from '../../shared/crop/box.ts';
import { cropPhoto } from '../../shared/crop/crop-step.ts';
import { featureMapBox } from '../../shared/crop/feature-map-box.ts';
import { TannerinError } from '../../shared/errors.ts';
import { DEFAULT_FEATURE_MAP_CROP, type HeadCrop } from '../../shared/head/crop.ts';
import { exportHeadFiles, importHeadFiles, makeHeadDocument, type HeadDocument } from '../../shared/head/document.ts';
import { validateHeadDocument, type BackboneModelJson } from '../../shared/head/validate.ts';
import { preprocess } from '../../shared/image/preprocess.ts';
import { loadPredictor } from '../../shared/predict/predictor.ts';
import { cropScenePixels } from '../helpers/crop-scene.ts';
import { makeTestHead } from '../helpers/heads.ts';

let models: LocalModels;
let backboneModel: BackboneModelJson;
let plain: HeadDocument;

/** `doc` with a crop (formatVersion 2). */
const withCrop = (doc: HeadDocument, crop: HeadCrop): HeadDocument => ({ ...doc, formatVersion: 2, crop });
const message = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof TannerinError) return `${err.code}: ${err.message}`;
    throw err;
  }
  throw new Error('expected a TannerinError');
};

beforeAll(async () => {
  await startNodeWasmBackend();
  await initNodeImageDecoder();
  models = await loadLocalModels();
  backboneModel = JSON.parse(readFileSync(join(PUBLIC_DIR, models.manifest.backbone.files[0]?.path ?? ''), 'utf8')) as BackboneModelJson;
  plain = makeTestHead(models.manifest.backbone, { seed: 5 });
}, 300_000);

afterAll(() => models.backbone.dispose());

describe('the crop setting in the head document', () => {
  const manifest = () => models.manifest.backbone;
  const check = (doc: unknown) => validateHeadDocument(JSON.parse(JSON.stringify(doc)), manifest(), { backboneModel });

  it('a feature-map crop validates with formatVersion 2, and survives export to TF.js files and back', () => {
    const doc = withCrop(plain, DEFAULT_FEATURE_MAP_CROP);
    expect(check(doc).doc.crop).toEqual(DEFAULT_FEATURE_MAP_CROP);
    expect(check(withCrop(plain, { method: 'detector', detector: 'centernet-mobilenetv3', minScore: 0.3, pad: 0.15 })).doc.crop?.method).toBe('detector');
    const { modelJson, weights } = exportHeadFiles(doc);
    expect(importHeadFiles(JSON.parse(JSON.stringify(modelJson)) as Record<string, unknown>, weights)).toEqual(doc);
    const { format: _f, formatVersion: _v, modelTopology, weightSpecs, weightData: _d, ...meta } = doc;
    expect(makeHeadDocument(meta, { modelTopology, weightSpecs, weightData: new Uint8Array(weights) }).formatVersion).toBe(2);
    expect(makeHeadDocument({ ...meta, crop: undefined }, { modelTopology, weightSpecs, weightData: new Uint8Array(weights) }).formatVersion).toBe(1);
  });

  it('the version says whether there is a crop: a reader of version 1 refuses a crop head', () => {
    expect(message(() => check({ ...plain, crop: DEFAULT_FEATURE_MAP_CROP }))).toMatch(/invalid_head: .*a head with a crop has formatVersion 2, got 1/);
    expect(message(() => check({ ...plain, formatVersion: 2 }))).toMatch(/formatVersion 2 is for heads with a crop/);
    expect(message(() => check({ ...plain, formatVersion: 3 }))).toMatch(/version 1 \(or 2 with a crop\), got "tannerin-head" version 3/);
  });

  it('refuses unknown methods, unknown or missing fields, numbers out of range and layers that are not feature maps', () => {
    const bad = (crop: unknown) => message(() => check({ ...plain, formatVersion: 2, crop }));
    expect(bad({ method: 'saliency', layer: 'out_relu', threshold: 0.5, pad: 0.1 })).toMatch(/crop\.method must be one of "featuremap", "detector", got "saliency"/);
    expect(bad('featuremap')).toMatch(/crop must be an object/);
    expect(bad({ ...DEFAULT_FEATURE_MAP_CROP, extra: 1 })).toMatch(/unknown: extra/);
    expect(bad({ method: 'featuremap', layer: 'out_relu', pad: 0.1 })).toMatch(/missing: threshold/);
    for (const threshold of [0, -0.1, 1.5, null, '0.5']) expect(bad({ ...DEFAULT_FEATURE_MAP_CROP, threshold })).toMatch(/crop\.threshold must be a number greater than 0 and at most 1/);
    for (const pad of [-0.01, 1.01, Number.NaN]) expect(bad({ ...DEFAULT_FEATURE_MAP_CROP, pad })).toMatch(/crop\.pad must be a number from 0 to 1/);
    expect(bad({ method: 'detector', detector: 'Big Detector', minScore: 0.3, pad: 0 })).toMatch(/crop\.detector must name a detector/);
    expect(bad({ method: 'detector', detector: 'centernet', minScore: 2, pad: 0 })).toMatch(/crop\.minScore must be a number from 0 to 1/);
    expect(bad({ ...DEFAULT_FEATURE_MAP_CROP, layer: 'no_such_layer' })).toMatch(/crop\.layer "no_such_layer" is not a feature map .* of mobilenet_v2@/);
    expect(bad({ ...DEFAULT_FEATURE_MAP_CROP, layer: 'flatten_1' })).toMatch(/crop\.layer "flatten_1" is not a feature map/);
    expect(bad({ ...DEFAULT_FEATURE_MAP_CROP, layer: '../x y' })).toMatch(/crop\.layer must be a backbone layer name/);
    // A finer layer the eval measured is a feature map too.
    expect(check(withCrop(plain, { ...DEFAULT_FEATURE_MAP_CROP, layer: 'block_6_expand_relu' })).doc.crop?.method).toBe('featuremap');
  });
});

describe('the crop step of the prediction layer', () => {
  it('predicts the crop as a plain head predicts it, with the eval’s box from the same feature map', async () => {
    const scene = cropScenePixels();
    const predictor = await loadPredictor(withCrop(plain, DEFAULT_FEATURE_MAP_CROP), models.backbone);
    const reference = await loadPredictor(plain, models.backbone);
    try {
      const result = await predictor.classifyPixels(scene);
      // The box by hand: the whole photo's out_relu, featureMapBox with the photo's aspect.
      const [map] = await models.backbone.run(preprocess(scene, models.manifest.backbone.normalization), ['out_relu']);
      const box = featureMapBox(map as Float32Array, { height: 7, width: 7, channels: 1280 }, { threshold: 0.5, pad: 0.15, aspect: scene.width / scene.height });
      expect(result.crop).toEqual({ method: 'featuremap', box });
      expect(box.width).toBeLessThan(1);
      // Square in pixels: the photo is 4:3.
      expect(box.width * scene.width).toBeCloseTo(box.height * scene.height, 6);
      const crop = cropToBox(scene, box);
      expect(result.predictions).toEqual(await reference.predictPixels(crop));
      expect(await predictor.predictPixels(scene)).toEqual(result.predictions);
      // The frozen pass it returns is the crop's.
      expect(result.frozen.embedding).toEqual(await models.backbone.embed(crop));
      // With test-time augmentation: the views are the crop's.
      const tta = await loadPredictor({ ...withCrop(plain, DEFAULT_FEATURE_MAP_CROP), testTimeAugmentation: { views: 2, seed: 3 } }, models.backbone);
      const ttaPlain = await loadPredictor({ ...plain, testTimeAugmentation: { views: 2, seed: 3 } }, models.backbone);
      expect(await tta.predictPixels(scene)).toEqual(await ttaPlain.predictPixels(crop));
      tta.dispose();
      ttaPlain.dispose();
    } finally {
      predictor.dispose();
      reference.dispose();
    }
  });

  it('cuts from the original pixels, not from the backbone’s input', async () => {
    const scene = cropScenePixels();
    const { pixels, box } = await cropPhoto(scene, DEFAULT_FEATURE_MAP_CROP, { graph: models.backbone.graph, normalization: models.manifest.backbone.normalization });
    expect(box).not.toEqual(WHOLE_FRAME);
    expect(pixels.width).toBe(Math.ceil((box.x + box.width) * scene.width - 1e-9) - Math.floor(box.x * scene.width + 1e-9));
    expect(pixels.width).toBeLessThan(224);
  });

  it('keeps the tensor count flat, refuses a detector crop (409) and a layer the graph does not compute (422)', async () => {
    const scene = cropScenePixels();
    const predictor = await loadPredictor(withCrop(plain, DEFAULT_FEATURE_MAP_CROP), models.backbone);
    await predictor.predictPixels(scene);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await predictor.predictPixels(scene);
    expect(tf.memory().numTensors).toBe(before);
    predictor.dispose();

    const detector = await loadPredictor(withCrop(plain, { method: 'detector', detector: 'centernet-mobilenetv3', minScore: 0.3, pad: 0.15 }), models.backbone);
    const err = await detector.predictPixels(scene).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(TannerinError);
    expect((err as TannerinError).status).toBe(409);
    expect((err as TannerinError).message).toMatch(/object detector \(centernet-mobilenetv3\)/);
    detector.dispose();

    // Refused at load, the head's weights freed.
    const loaded = tf.memory().numTensors;
    const folded = await loadPredictor(withCrop(plain, { ...DEFAULT_FEATURE_MAP_CROP, layer: 'no_such_layer' }), models.backbone).then(() => null, (e: unknown) => e);
    expect((folded as TannerinError).code).toBe('invalid_head');
    expect(tf.memory().numTensors).toBe(loaded);
  });
});
