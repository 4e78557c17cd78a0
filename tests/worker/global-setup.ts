/**
 * Global setup of the `worker` project. Runs once in Node before the tests run inside workerd: it
 * builds the test images and computes their embeddings and default-head scores through the Node
 * path (same decoder, preprocessing, model files and WASM backend). The Worker tests compare the
 * edge's answers with these, which proves the edge runs the real model.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TestProject } from 'vitest/node';
import type { Prediction } from '../../shared/api.ts';
import { decodeImage } from '../../shared/image-decode.ts';
import { build } from '../../scripts/build.ts';
import { initNodeImageDecoder, startNodeWasmBackend } from '../../scripts/node-backend.ts';
import { loadLocalModels } from '../../scripts/node-models.ts';
import { fixtures } from '../helpers/fixtures.ts';

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

declare module 'vitest' {
  export interface ProvidedContext {
    reference: { backbone: string; cases: ReferenceCase[] };
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
      predictions: await head.predict(embedding),
    });
  }
  project.provide('reference', { backbone: models.backbone.ref, cases });
  models.backbone.dispose();
  (await models.head('content-safety')).dispose();
  tf.disposeVariables();
}
