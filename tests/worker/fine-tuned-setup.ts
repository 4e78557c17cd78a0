/**
 * Global setup (Node) for the Worker tests of fine-tuned models: builds a fine-tuned model (the
 * backbone's top block, weights perturbed; tests/helpers/fine-tuned.ts) and its scores on the
 * reference images through the Node path (shared/predict/predictor.ts on the same model files and WASM
 * backend), plus a 1024x1024 JPEG (the largest image the edge accepts) for the memory check.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TestProject } from 'vitest/node';
import type { Prediction } from '../../shared/api/types.ts';
import { decodeImage } from '../../shared/image/decode.ts';
import { preprocess } from '../../shared/image/preprocess.ts';
import { loadPredictor } from '../../shared/predict/predictor.ts';
import { initNodeImageDecoder, startNodeWasmBackend } from '../../scripts/node-backend.ts';
import { loadLocalModels } from '../../scripts/node-models.ts';
import { fixtures, scenePixels } from '../helpers/fixtures.ts';
import { makeFineTunedDoc } from '../helpers/fine-tuned.ts';
import { makeJpeg } from '../helpers/images.ts';

export interface FineTunedReference {
  /** The fine-tuned head document (JSON text). */
  document: string;
  /** The images, as numbers, with their type. */
  cases: { name: string; type: string; bytes: number[] }[];
  /** Scores per case from the Node path. */
  predictions: Prediction[][];
  /** A 1024x1024 JPEG of a scene (q 95). */
  largeJpeg: number[];
}

declare module 'vitest' {
  export interface ProvidedContext {
    fineTuned: FineTunedReference;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  // dist/public is built by tests/worker/global-setup.ts, which runs first.
  await startNodeWasmBackend();
  await initNodeImageDecoder();
  const models = await loadLocalModels();
  const manifest = models.manifest.backbone;
  const doc = await makeFineTunedDoc(models.backbone, { id: 'a1d3c0de-5e7f-4a2b-9c1d-0e2f3a4b5c6d', seed: 11 });
  const model = await loadPredictor(doc, models.backbone);
  const cases: FineTunedReference['cases'] = [];
  const predictions: Prediction[][] = [];
  for (const f of await fixtures()) {
    cases.push({ name: f.name, type: f.type, bytes: Array.from(f.bytes) });
    predictions.push(await model.predictPreprocessed(preprocess(await decodeImage(f.bytes), manifest.normalization)));
  }
  model.dispose();
  models.backbone.dispose();
  tf.disposeVariables();
  const largeJpeg = makeJpeg(1024, 1024, 95, await scenePixels(1024, 1024, ['1f436', '1f34e', '1f697', '1f680']));
  project.provide('fineTuned', { document: JSON.stringify(doc), cases, predictions, largeJpeg: Array.from(largeJpeg) });
}
