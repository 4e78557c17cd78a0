/**
 * Global setup of the `worker` project. Runs once in Node before the tests run inside workerd: it
 * builds the test images and computes their embeddings and default-head scores through the Node
 * path (same decoder, preprocessing, model files and WASM backend). The Worker tests compare the
 * edge's answers with these, which proves the edge runs the real model.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TestProject } from 'vitest/node';
import type { Prediction } from '../../shared/api/types.ts';
import { decodeImage } from '../../shared/image/decode.ts';
import { build } from '../../scripts/build.ts';
import { initNodeImageDecoder, startNodeWasmBackend } from '../../scripts/node-backend.ts';
import { loadLocalModels } from '../../scripts/node-models.ts';
import { fixtures } from '../helpers/fixtures.ts';
import { makeTestHead } from '../helpers/heads.ts';
import { loadPredictor } from '../../shared/predict/predictor.ts';
import { DEFAULT_FEATURE_MAP_CROP, type CropUsed } from '../../shared/head/crop.ts';
import { cropScenePixels } from '../helpers/crop-scene.ts';

export interface ReferenceCase {
  name: string;
  type: 'image/png' | 'image/jpeg';
  /** The image file, as numbers (provide() serialises structured data). */
  bytes: number[];
  width: number;
  height: number;
  embedding: number[];
  predictions: Prediction[];
}

/** A personal head and its scores on every reference case, computed by the Node path. */
export interface ReferenceHead {
  /** The head document as uploaded (JSON text). */
  document: string;
  /** Scores per reference case, in case order. */
  predictions: Prediction[][];
}

declare module 'vitest' {
  export interface ProvidedContext {
    reference: { backbone: string; cases: ReferenceCase[] };
    /** A float32 head reading every part, and a uint8-quantized one reading `flatten_1` only. */
    personalHeads: ReferenceHead[];
    /** A head with a feature-map crop (shared/head/crop.ts) and its box and scores on the crop scene (tests/helpers/crop-scene.ts), by the Node path. */
    cropHead: { document: string; box: CropUsed['box']; predictions: Prediction[] };
  }
}

export default async function setup(project: TestProject): Promise<void> {
  build({ pages: false }); // the Worker tests need the model files, not the pages
  await startNodeWasmBackend();
  await initNodeImageDecoder();
  const models = await loadLocalModels();
  const head = await models.head('content-safety');
  const cases: ReferenceCase[] = [];
  for (const f of await fixtures()) {
    const image = await decodeImage(f.bytes);
    const embedding = await models.backbone.embed(image);
    cases.push({
      name: f.name,
      type: f.type,
      bytes: Array.from(f.bytes),
      width: image.width,
      height: image.height,
      embedding: Array.from(embedding),
      predictions: await head.predictFrozen({ embedding }),
    });
  }
  project.provide('reference', { backbone: models.backbone.ref, cases });

  const personalHeads: ReferenceHead[] = [];
  for (const options of [{ seed: 7 }, { seed: 8, quantize: true, parts: ['flatten_1'], hidden: 0, id: '0b7e2a44-9a51-4c3e-8f00-4d1c2b3a4e5f' }]) {
    const doc = makeTestHead(models.manifest.backbone, options);
    const head = await loadPredictor(doc, models.backbone);
    const predictions: Prediction[][] = [];
    for (const c of cases) predictions.push(await head.predictFrozen({ embedding: Float32Array.from(c.embedding) }));
    head.dispose();
    personalHeads.push({ document: JSON.stringify(doc), predictions });
  }
  project.provide('personalHeads', personalHeads);

  const cropDoc = { ...makeTestHead(models.manifest.backbone, { seed: 9, id: 'c7a1e0b2-5d3f-4a6e-9b8c-1f2e3d4c5b6a' }), formatVersion: 2 as const, crop: DEFAULT_FEATURE_MAP_CROP };
  const cropPredictor = await loadPredictor(cropDoc, models.backbone);
  const cropped = await cropPredictor.classifyPixels(cropScenePixels());
  cropPredictor.dispose();
  if (!cropped.crop) throw new Error('the crop head answered no box');
  project.provide('cropHead', { document: JSON.stringify(cropDoc), box: cropped.crop.box, predictions: cropped.predictions });
  models.backbone.dispose();
  (await models.head('content-safety')).dispose();
  tf.disposeVariables();
}
