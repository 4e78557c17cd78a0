/**
 * Node-side figures with the same model files and backends the product uses: the bare forward pass
 * (batch 1) on WASM SIMD and on TF.js's cpu backend, the folded backbone against the layers model
 * as shipped (alternated in one process), and the JS steps around it at the edge
 * (preprocessing; decoding is measured in bench/decode-memory.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { decodeImage } from '../shared/image/decode.ts';
import { preprocess } from '../shared/image/preprocess.ts';
import { initNodeImageDecoder, startNodeCpuBackend, startNodeWasmBackend } from '../scripts/node-backend.ts';
import { loadLocalModels } from '../scripts/node-models.ts';
import { makeJpeg } from '../tests/helpers/images.ts';
import { scenePixels } from '../tests/helpers/fixtures.ts';
import { median, timeRuns, type Results } from './lib.ts';

// Composed once at import (decoding the emoji PNGs is async), so `benchJpeg()` stays synchronous.
const BENCH_JPEG = makeJpeg(640, 480, 90, await scenePixels(640, 480, ['1f436', '1f34e', '1f697']));

/** The 640x480 JPEG the edge benchmarks send (a fresh copy each call). */
export const benchJpeg = (): Uint8Array => BENCH_JPEG.slice();

export async function benchNode(): Promise<Results> {
  const jpeg = benchJpeg();
  await startNodeWasmBackend();
  await initNodeImageDecoder();
  const models = await loadLocalModels();
  const spec = models.manifest.backbone.normalization;
  const image = await decodeImage(jpeg);
  const input = preprocess(image, spec);

  const preprocessMs = await timeRuns(15, () => preprocess(image, spec));
  // Forward on wasm and cpu interleaved in rounds, so machine noise hits both alike.
  const wasm: number[] = [];
  const cpu: number[] = [];
  await timeRuns(1, () => models.backbone.embedPreprocessed(input), 3);
  for (let round = 0; round < 3; round++) {
    await startNodeWasmBackend();
    wasm.push(...(await timeRuns(10, () => models.backbone.embedPreprocessed(input), 1)));
    await startNodeCpuBackend();
    cpu.push(...(await timeRuns(1, () => models.backbone.embedPreprocessed(input), round === 0 ? 1 : 0)));
  }
  await startNodeWasmBackend();
  const tensors = tf.memory().numTensors;
  // Folded against unfolded, alternated in rounds on the WASM backend.
  const model = await models.backbone.layersModel();
  const { height, width } = spec;
  const unfoldedForward = async (): Promise<void> => {
    const out = tf.tidy(() => model.predict(tf.tensor4d(input, [1, height, width, 3])) as tf.Tensor);
    await out.data();
    out.dispose();
  };
  await timeRuns(1, unfoldedForward, 3);
  const folded: number[] = [];
  const unfolded: number[] = [];
  for (let round = 0; round < 3; round++) {
    folded.push(...(await timeRuns(10, () => models.backbone.embedPreprocessed(input), 1)));
    unfolded.push(...(await timeRuns(10, unfoldedForward, 1)));
  }
  const ops = models.backbone.graph.kernelCount;
  const layers = model.layers.length - 1;
  models.backbone.dispose();
  const w = median(wasm);
  const c = median(cpu);
  return {
    'node.forward_wasm_ms': { value: w, unit: 'ms', note: `median of ${wasm.length}, batch 1, WASM SIMD, 1 thread` },
    'node.forward_cpu_ms': { value: c, unit: 'ms', note: `median of ${cpu.length}, batch 1, tfjs cpu backend` },
    'node.forward_unfolded_ms': { value: median(unfolded), unit: 'ms', note: `the layers model as shipped (${layers} layers), WASM SIMD, batch 1, median of ${unfolded.length} alternated with ${folded.length} folded (${median(folded).toFixed(1)} ms)` },
    'node.folded_over_unfolded': { value: median(folded) / median(unfolded), unit: 'x', note: `folded (${ops} ops) / unfolded forward, alternated in one process (goal <= 0.55)` },
    'node.cpu_over_wasm': { value: c / w, unit: 'x', note: 'forward cpu / forward wasm, same run' },
    'node.preprocess_ms': { value: median(preprocessMs), unit: 'ms', note: 'composite + bilinear resize + scale, JS' },
    'node.model_tensors': { value: tensors, unit: 'tensors', note: 'weights held after load (reference for leak checks)' },
  };
}
