/**
 * Fine-tuning cost on the WASM SIMD backend: one training step at batch 8 through MobileNetV2's
 * last inverted-residual block (`block_16_*`), `Conv_1`/`Conv_1_bn`/`out_relu`, the pooling and a
 * softmax head, with the real backbone weights, using shared/model/wasm-grad-kernels.ts; then the same
 * step with the 'cpu-reference' gradient kernels (TF.js's cpu kernels behind the wasm kernel
 * names, the naive way to fill tfjs#8474's gap), and the ratio.
 *
 * The frozen part of the network (input to `block_15_add`) runs once: its output, the activations
 * entering `block_16_expand`, is cached and fed to a sub-model built from the backbone's own
 * layer objects, so the step measures only what fine-tuning the top repeats.
 *
 * Standalone: `npx tsx bench/finetune-step.ts` prints the figures (not wired into bench/run.ts).
 */
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
// Registers the cpu backend and its kernels, which the 'cpu-reference' gradient kernels call.
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { registerWasmGradientKernels } from '../shared/model/wasm-grad-kernels.ts';
import { startNodeWasmBackend } from '../scripts/node-backend.ts';
import { loadLocalModels } from '../scripts/node-models.ts';
import { median, printTable, timeRuns, type Results } from './lib.ts';

const BATCH = 8;
const CLASSES = 10;
/** Timed fast steps (after one warm-up step that also creates Adam's slots). */
const RUNS = 5;
/** The layers after the cached activations, in order: all trainable. */
const TOP_LAYERS = [
  'block_16_expand',
  'block_16_expand_BN',
  'block_16_expand_relu',
  'block_16_depthwise',
  'block_16_depthwise_BN',
  'block_16_depthwise_relu',
  'block_16_project',
  'block_16_project_BN',
  'Conv_1',
  'Conv_1_bn',
  'out_relu',
  'average_pooling2d_1',
  'flatten_1',
];

/** Deterministic values in [0, 1) (mulberry32). */
function seededUniform(size: number, seed: number): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length: size }, () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  });
}

/** Measures `finetune.step_ms`, `finetune.step_ms_cpu_fallback` and `finetune.speedup`. */
export async function benchFinetuneStep(): Promise<Results> {
  await startNodeWasmBackend();
  registerWasmGradientKernels();
  const models = await loadLocalModels();
  // The top block trains, so it comes from the unfolded layers model.
  const backbone = await models.backbone.layersModel();

  // The frozen part runs once; its output is what every step starts from. The product runs it on
  // the folded graph (BackboneSplit.forward); the unfolded view is timed too, for comparison.
  const blockInput = backbone.getLayer('block_16_expand').input;
  if (Array.isArray(blockInput)) throw new Error('block_16_expand has several inputs');
  const frozen = tfl.model({ inputs: backbone.inputs, outputs: blockInput });
  const [height, width] = [224, 224];
  const pixels = tf.tensor4d(seededUniform(BATCH * height * width * 3, 1), [BATCH, height, width, 3]);
  const timeOnce = async (run: () => tf.Tensor): Promise<{ ms: number; out: tf.Tensor4D }> => {
    const t0 = performance.now();
    const out = tf.tidy(run) as tf.Tensor4D;
    await out.data();
    return { ms: performance.now() - t0, out };
  };
  // Warm-up of both (kernel setup), then one timed batch each, alternated twice; the medians.
  const foldedRuns: number[] = [];
  const unfoldedRuns: number[] = [];
  let cached: tf.Tensor4D | null = null;
  for (let round = 0; round < 3; round++) {
    const f = await timeOnce(() => models.backbone.graph.execute(pixels, ['block_15_add'])[0] as tf.Tensor);
    const u = await timeOnce(() => frozen.predict(pixels) as tf.Tensor);
    if (round > 0) {
      foldedRuns.push(f.ms);
      unfoldedRuns.push(u.ms);
    }
    u.out.dispose();
    if (cached) f.out.dispose();
    else cached = f.out;
  }
  const frozenMs = median(foldedRuns);
  const frozenUnfoldedMs = median(unfoldedRuns);
  pixels.dispose();
  if (!cached) throw new Error('no frozen pass ran');

  // The top block, re-applied to a new input: same layer objects, so the same weights.
  const input = tfl.input({ shape: cached.shape.slice(1) });
  let h: tfl.SymbolicTensor = input;
  for (const name of TOP_LAYERS) {
    const layer = backbone.getLayer(name);
    layer.trainable = true;
    h = layer.apply(h) as tfl.SymbolicTensor;
  }
  const head = tfl.layers.dense({ units: CLASSES, activation: 'softmax', name: 'finetune_head' });
  const top = tfl.model({ inputs: input, outputs: head.apply(h) as tfl.SymbolicTensor });
  const variables = top.trainableWeights.map((w) => w.read() as tf.Variable);
  const labels = tf.oneHot(tf.tensor1d(Array.from({ length: BATCH }, (_, i) => i % CLASSES), 'int32'), CLASSES);
  const optimizer = tf.train.adam(1e-4);

  // Batch norm stays in inference mode (moving statistics), the usual choice when fine-tuning on
  // small batches; gamma and beta still train.
  const step = (): void => {
    tf.tidy(() => {
      optimizer.minimize(
        () => {
          const p = top.apply(cached, { training: false }) as tf.Tensor;
          return tf.neg(tf.mean(tf.sum(tf.mul(labels, tf.log(tf.add(p, 1e-7))), -1))) as tf.Scalar;
        },
        false,
        variables,
      );
    });
  };

  const fastMs = await timeRuns(RUNS, step, 1);
  const tensorsBefore = tf.memory().numTensors;
  step();
  const leaked = tf.memory().numTensors - tensorsBefore;

  registerWasmGradientKernels({ implementation: 'cpu-reference' });
  let fallbackMs: number[];
  try {
    fallbackMs = await timeRuns(1, step, 0);
  } finally {
    registerWasmGradientKernels();
  }

  const parameters = variables.reduce((a, v) => a + v.size, 0);
  tf.dispose([cached, labels]);
  optimizer.dispose();
  // The top model first (its head's weights; the shared layers are still held by the
  // backbone), then the backbone. `frozen` only views the backbone's layers.
  top.dispose();
  models.backbone.dispose();

  const fast = median(fastMs);
  const fallback = median(fallbackMs);
  const shape = `batch ${BATCH}, ${cached.shape.slice(1).join('x')} cached input, block_16 + Conv_1 + ${CLASSES}-class softmax head, ${(parameters / 1e6).toFixed(2)}M trainable parameters, Adam`;
  return {
    'finetune.step_ms': { value: fast, unit: 'ms', note: `median of ${RUNS}, WASM SIMD + shared/wasm-grad-kernels, ${shape}` },
    'finetune.step_ms_cpu_fallback': { value: fallback, unit: 'ms', note: '1 step, the same with cpu-reference gradient kernels (TF.js cpu kernels behind the wasm names)' },
    'finetune.speedup': { value: fallback / fast, unit: 'x', note: 'step_ms_cpu_fallback / step_ms, same run (goal >= 20)' },
    'finetune.frozen_forward_ms': {
      value: frozenMs,
      unit: 'ms',
      note: `once per batch: input to block_15_add, batch ${BATCH}, cached; the folded graph (median of 2 after a warm-up); the unfolded layers model took ${frozenUnfoldedMs.toFixed(0)} ms, alternated`,
    },
    'finetune.leaked_tensors': { value: leaked, unit: 'tensors', note: 'numTensors after one more step minus before (must be 0)' },
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  printTable(await benchFinetuneStep());
  process.exit(0);
}
