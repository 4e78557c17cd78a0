/**
 * The convolution gradient kernels of shared/model/wasm-grad-kernels.ts on the WASM SIMD backend,
 * checked against TF.js's pure-JS `cpu` backend: every reference is computed on cpu first
 * (beforeAll), then the same computation runs on wasm and is compared by relative error,
 * max|wasm - cpu| / max(1e-6, max|cpu|), which must stay <= 1e-4.
 */
import * as tf from '@tensorflow/tfjs-core';
// Importing tfjs-layers also registers tfjs-core's gradient functions (see shared/learn/train-head.ts).
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNodeCpuBackend, startNodeWasmBackend } from '../../scripts/node-backend.ts';
import { registerWasmGradientKernels, wasmGradientKernelsImplementation } from '../../shared/model/wasm-grad-kernels.ts';

const TOLERANCE = 1e-4;

type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | number;

/** Deterministic values in [-1, 1) (mulberry32), so every run checks the same numbers. */
function seeded(shape: number[], seed: number): tf.Tensor {
  let state = seed >>> 0;
  const size = shape.reduce((a, b) => a * b, 1);
  const values = Float32Array.from({ length: size }, () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  });
  return tf.tensor(values, shape);
}

/** max|a - b| / max(1e-6, max|b|), `b` being the reference. */
function relativeError(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  return diff / Math.max(1e-6, scale);
}

const read = (t: tf.Tensor): Float32Array => t.dataSync() as Float32Array;

/** A convolution whose gradients (w.r.t. input, filter and bias, if any) are compared. */
interface GradCase {
  name: string;
  op: 'conv2d' | 'depthwise' | 'fusedConv2d' | 'fusedDepthwise';
  x: Shape4;
  filter: Shape4;
  strides: number | [number, number];
  pad: Pad;
}

const GRAD_CASES: GradCase[] = [
  { name: 'conv2d 1x1 s1 same, batch 1', op: 'conv2d', x: [1, 7, 7, 5], filter: [1, 1, 5, 6], strides: 1, pad: 'same' },
  { name: 'conv2d 1x1 s1 valid, batch 3, 5x9', op: 'conv2d', x: [3, 5, 9, 8], filter: [1, 1, 8, 4], strides: 1, pad: 'valid' },
  { name: 'conv2d 1x1 s2 same, batch 2, 7x7', op: 'conv2d', x: [2, 7, 7, 4], filter: [1, 1, 4, 6], strides: 2, pad: 'same' },
  { name: 'conv2d 3x3 s1 same, batch 2, 7x5', op: 'conv2d', x: [2, 7, 5, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { name: 'conv2d 3x3 s2 same, batch 2, 9x7', op: 'conv2d', x: [2, 9, 7, 4], filter: [3, 3, 4, 3], strides: 2, pad: 'same' },
  { name: 'conv2d 3x3 s2 valid, batch 1, 11x9', op: 'conv2d', x: [1, 11, 9, 3], filter: [3, 3, 3, 5], strides: 2, pad: 'valid' },
  { name: 'conv2d 3x3 s1 valid, batch 3, 6x8, 9 channels', op: 'conv2d', x: [3, 6, 8, 9], filter: [3, 3, 9, 2], strides: 1, pad: 'valid' },
  { name: 'conv2d 5x3 strides [2,1] same', op: 'conv2d', x: [2, 9, 6, 3], filter: [5, 3, 3, 4], strides: [2, 1], pad: 'same' },
  // Numeric padding only with square filters and strides: tfjs-core 4.22's shape inference
  // applies the height's filter size and stride to the width too for numeric pads.
  { name: 'conv2d 3x3 s2 pad 1, 9x8', op: 'conv2d', x: [2, 9, 8, 3], filter: [3, 3, 3, 4], strides: 2, pad: 1 },
  { name: 'depthwise 3x3 s1 same, batch 1, 7x7', op: 'depthwise', x: [1, 7, 7, 8], filter: [3, 3, 8, 1], strides: 1, pad: 'same' },
  { name: 'depthwise 3x3 s2 same, batch 2, 9x9', op: 'depthwise', x: [2, 9, 9, 5], filter: [3, 3, 5, 1], strides: 2, pad: 'same' },
  { name: 'depthwise 3x3 s2 valid, batch 3, 8x7', op: 'depthwise', x: [3, 8, 7, 4], filter: [3, 3, 4, 1], strides: 2, pad: 'valid' },
  { name: 'depthwise 3x3 s2 same, batch 2, 8x8 (even)', op: 'depthwise', x: [2, 8, 8, 6], filter: [3, 3, 6, 1], strides: 2, pad: 'same' },
  { name: 'depthwise 5x5 s1 valid, batch 2, 9x7', op: 'depthwise', x: [2, 9, 7, 3], filter: [5, 5, 3, 1], strides: 1, pad: 'valid' },
  { name: 'depthwise 3x3 s1 same, channel multiplier 2', op: 'depthwise', x: [2, 5, 7, 3], filter: [3, 3, 3, 2], strides: 1, pad: 'same' },
  { name: 'fused conv2d 1x1 + bias', op: 'fusedConv2d', x: [2, 5, 5, 6], filter: [1, 1, 6, 4], strides: 1, pad: 'same' },
  { name: 'fused conv2d 3x3 s2 + bias', op: 'fusedConv2d', x: [2, 7, 7, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'same' },
  { name: 'fused depthwise 3x3 s2 + bias', op: 'fusedDepthwise', x: [2, 7, 9, 5], filter: [3, 3, 5, 1], strides: 2, pad: 'same' },
];

/** Gradients of sum(op(x, filter[, bias]) * dy) w.r.t. each input, dy random: x, filter[, bias]. */
function caseGradients(c: GradCase, seed: number): Float32Array[] {
  return tf.tidy(() => {
    const x = seeded(c.x, seed) as tf.Tensor4D;
    const filter = seeded(c.filter, seed + 1) as tf.Tensor4D;
    const fused = c.op === 'fusedConv2d' || c.op === 'fusedDepthwise';
    const outChannels = c.op === 'conv2d' || c.op === 'fusedConv2d' ? c.filter[3] : c.filter[2] * c.filter[3];
    const bias = seeded([outChannels], seed + 2);
    const f = (...args: tf.Tensor[]): tf.Tensor => {
      const [xi, fi, bi] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D | undefined];
      switch (c.op) {
        case 'conv2d':
          return tf.conv2d(xi, fi, c.strides, c.pad);
        case 'depthwise':
          return tf.depthwiseConv2d(xi, fi, c.strides, c.pad);
        case 'fusedConv2d':
          return tf.fused.conv2d({ x: xi, filter: fi, strides: c.strides, pad: c.pad, bias: bi });
        case 'fusedDepthwise':
          return tf.fused.depthwiseConv2d({ x: xi, filter: fi, strides: c.strides, pad: c.pad, bias: bi });
      }
    };
    const inputs = fused ? [x, filter, bias] : [x, filter];
    const dy = seeded(f(...inputs).shape, seed + 3);
    return tf.grads(f)(inputs, dy).map((g) => read(g));
  });
}

/** Kernels called directly: what autodiff never asks for (dilations) or rarely (explicit pads). */
interface KernelCase {
  name: string;
  kernel: 'Conv2DBackpropFilter' | 'DepthwiseConv2dNativeBackpropFilter' | 'DepthwiseConv2dNativeBackpropInput';
  x: Shape4;
  filter: Shape4;
  dy: Shape4;
  /** Dilation rate (depthwise only), 'same' padding, stride 1. */
  dilation?: number;
  attrs: Record<string, unknown>;
}

const KERNEL_CASES: KernelCase[] = [
  {
    name: 'depthwise filter grad, dilation 2, same',
    kernel: 'DepthwiseConv2dNativeBackpropFilter',
    x: [2, 9, 8, 4],
    filter: [3, 3, 4, 1],
    dy: [2, 9, 8, 4],
    dilation: 2,
    attrs: { strides: 1, pad: 'same', dilations: 2, filterShape: [3, 3, 4, 1] },
  },
  {
    name: 'depthwise input grad, dilation 2, same',
    kernel: 'DepthwiseConv2dNativeBackpropInput',
    x: [2, 9, 8, 4],
    filter: [3, 3, 4, 1],
    dy: [2, 9, 8, 4],
    dilation: 2,
    attrs: { strides: 1, pad: 'same', dilations: 2, inputShape: [2, 9, 8, 4] },
  },
  {
    name: 'conv2d filter grad, explicit asymmetric padding',
    kernel: 'Conv2DBackpropFilter',
    x: [2, 6, 7, 3],
    filter: [3, 2, 3, 4],
    dy: [2, 6, 4, 4],
    attrs: { strides: [1, 2], pad: [[0, 0], [1, 1], [0, 1], [0, 0]], dataFormat: 'NHWC', filterShape: [3, 2, 3, 4] },
  },
];

function kernelCaseOutput(c: KernelCase, seed: number): Float32Array {
  return tf.tidy(() => {
    const x = seeded(c.x, seed);
    const filter = seeded(c.filter, seed + 1);
    const dy = seeded(c.dy, seed + 2);
    const inputs: tf.NamedTensorMap = c.kernel === 'DepthwiseConv2dNativeBackpropInput' ? { dy, filter } : { x, dy };
    const out = tf.engine().runKernel(c.kernel, inputs, c.attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
    return read(out);
  });
}

/**
 * The cpu reference for a case. The cpu backend's depthwise gradient kernels ignore dilations
 * (tfjs-core never asks for dilated depthwise gradients), so a dilated case is computed as the
 * undilated one with the equivalent filter: taps spread `dilation` apart, zeros between. With
 * 'same' padding both give the same pads (computed from the effective filter size).
 */
function kernelCaseReference(c: KernelCase, seed: number): Float32Array {
  const d = c.dilation ?? 1;
  if (d === 1) return kernelCaseOutput(c, seed);
  const [kh, kw, channels, mult] = c.filter;
  const wide: Shape4 = [(kh - 1) * d + 1, (kw - 1) * d + 1, channels, mult];
  const tap = (i: number, j: number): number => ((i * d) * wide[1] + j * d) * channels * mult;
  return tf.tidy(() => {
    const x = seeded(c.x, seed);
    const filter = read(seeded(c.filter, seed + 1));
    const dy = seeded(c.dy, seed + 2);
    const attrs = { ...c.attrs, dilations: 1 };
    if (c.kernel === 'DepthwiseConv2dNativeBackpropInput') {
      const spread = new Float32Array(wide[0] * wide[1] * channels * mult);
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          const from = (i * kw + j) * channels * mult;
          spread.set(filter.subarray(from, from + channels * mult), tap(i, j));
        }
      }
      const out = tf.engine().runKernel(c.kernel, { dy, filter: tf.tensor(spread, wide) }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
      return read(out);
    }
    const out = tf.engine().runKernel(c.kernel, { x, dy }, { ...attrs, filterShape: wide } as unknown as tf.NamedAttrMap) as tf.Tensor;
    const all = read(out);
    const taps = new Float32Array(kh * kw * channels * mult);
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) taps.set(all.subarray(tap(i, j), tap(i, j) + channels * mult), (i * kw + j) * channels * mult);
    }
    return taps;
  });
}

/**
 * Gradients through the other MobileNetV2 ops, which the stock wasm backend already differentiates;
 * batchNorm's gradient runs the replaced `Tile`, avgPool's the replaced `AvgPoolGrad`.
 */
function stockOpGradients(seed: number): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.mul(seeded([2, 5, 5, 4], seed), 8); // spans relu6's both edges
    const mean = seeded([4], seed + 1);
    const variance = tf.add(tf.abs(seeded([4], seed + 2)), 0.1);
    const offset = seeded([4], seed + 3);
    const scale = seeded([4], seed + 4);
    const dy = seeded([2, 5, 5, 4], seed + 5);
    const relu6 = tf.grad((a: tf.Tensor) => tf.relu6(a))(x, dy);
    const clip = tf.grad((a: tf.Tensor) => tf.clipByValue(a, 0, 6))(x, dy);
    const bn = tf.grads((a: tf.Tensor, m: tf.Tensor, v: tf.Tensor, o: tf.Tensor, s: tf.Tensor) => tf.batchNorm(a, m, v, o, s, 1e-3))(
      [x, mean, variance, offset, scale],
      dy,
    );
    const pool = tf.grad((a: tf.Tensor) => tf.mean(tf.avgPool(a as tf.Tensor4D, 5, 5, 'valid'), [1, 2]))(x, seeded([2, 4], seed + 6));
    return [relu6, clip, ...bn, pool].map((g) => read(g));
  });
}

/** Cases for the stock kernels replaced for speed: `Tile` (any dtype it takes) and `AvgPoolGrad`. */
const TILE_CASES: { shape: number[]; reps: number[]; dtype: 'float32' | 'int32' | 'bool' }[] = [
  { shape: [1, 1, 1, 5], reps: [2, 3, 4, 1], dtype: 'float32' }, // the batch-norm gradient's pattern
  { shape: [2, 3], reps: [3, 2], dtype: 'float32' },
  { shape: [4], reps: [3], dtype: 'float32' },
  { shape: [2, 1, 3], reps: [1, 4, 2], dtype: 'float32' },
  { shape: [1, 2, 1, 2, 3], reps: [2, 1, 3, 1, 2], dtype: 'float32' },
  { shape: [3, 2], reps: [1, 1], dtype: 'float32' },
  { shape: [2, 2], reps: [2, 3], dtype: 'int32' },
  { shape: [3, 1], reps: [1, 2], dtype: 'bool' },
];

function tileOutput(c: (typeof TILE_CASES)[number], seed: number): Float32Array {
  return tf.tidy(() => {
    const values = seeded(c.shape, seed);
    const x = c.dtype === 'bool' ? tf.greater(values, 0) : c.dtype === 'int32' ? tf.cast(tf.mul(values, 100), 'int32') : values;
    const out = tf.tile(x, c.reps);
    expect(out.dtype).toBe(c.dtype);
    return Float32Array.from(out.dataSync());
  });
}

const AVG_POOL_CASES: { x: Shape4; filter: number; strides: number; pad: 'same' | 'valid' }[] = [
  { x: [3, 7, 7, 6], filter: 7, strides: 7, pad: 'valid' }, // MobileNetV2's average_pooling2d_1
  { x: [2, 9, 8, 3], filter: 3, strides: 2, pad: 'same' },
  { x: [2, 8, 8, 4], filter: 2, strides: 2, pad: 'valid' },
  { x: [1, 5, 7, 2], filter: 3, strides: 1, pad: 'same' },
];

function avgPoolGradient(c: (typeof AVG_POOL_CASES)[number], seed: number): Float32Array {
  return tf.tidy(() => {
    const x = seeded(c.x, seed) as tf.Tensor4D;
    const f = (a: tf.Tensor): tf.Tensor => tf.avgPool(a as tf.Tensor4D, c.filter, c.strides, c.pad);
    return read(tf.grad(f)(x, seeded(f(x).shape, seed + 1)));
  });
}

// ---------------------------------------------------------------------------
// A small MobileNetV2-like model trained a few steps on each backend

const TRAIN_STEPS = 4;
const TRAIN_BATCH = 4;

/** Conv 1x1 -> BN -> ReLU6 -> depthwise 3x3 s2 -> conv 1x1 -> global average pooling -> softmax. */
function buildModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [9, 9, 4] });
  const layers: tfl.layers.Layer[] = [
    tfl.layers.conv2d({ filters: 8, kernelSize: 1, useBias: false, name: 'expand' }),
    tfl.layers.batchNormalization({ name: 'expand_bn' }),
    tfl.layers.reLU({ maxValue: 6, name: 'expand_relu' }),
    tfl.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', useBias: false, name: 'depthwise' }),
    tfl.layers.conv2d({ filters: 6, kernelSize: 1, name: 'project' }),
    tfl.layers.globalAveragePooling2d({ name: 'pool' }),
    tfl.layers.dense({ units: 3, activation: 'softmax', name: 'head' }),
  ];
  const output = layers.reduce((h: tfl.SymbolicTensor, layer) => layer.apply(h) as tfl.SymbolicTensor, input);
  return tfl.model({ inputs: input, outputs: output });
}

interface TrainResult {
  losses: number[];
  weights: Float32Array[];
}

/** Categorical cross-entropy of softmax probabilities, as one scalar. */
function crossEntropy(labels: tf.Tensor, probabilities: tf.Tensor): tf.Scalar {
  return tf.neg(tf.mean(tf.sum(tf.mul(labels, tf.log(tf.add(probabilities, 1e-7))), -1))) as tf.Scalar;
}

function trainingData(): { xs: tf.Tensor4D; ys: tf.Tensor2D } {
  const xs = seeded([TRAIN_BATCH, 9, 9, 4], 77) as tf.Tensor4D;
  const ys = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d([0, 1, 2, 1], 'int32'), 3), 'float32') as tf.Tensor2D);
  return { xs, ys };
}

/** One SGD step on all trainable weights, BN in training mode; returns the loss. */
function trainStep(model: tfl.LayersModel, optimizer: tf.Optimizer, xs: tf.Tensor, ys: tf.Tensor): tf.Scalar {
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const loss = optimizer.minimize(() => crossEntropy(ys, model.apply(xs, { training: true }) as tf.Tensor), true, variables);
  if (loss === null) throw new Error('minimize returned no loss');
  return loss;
}

function train(model: tfl.LayersModel): TrainResult {
  const { xs, ys } = trainingData();
  const optimizer = tf.train.sgd(0.5);
  const losses: number[] = [];
  for (let step = 0; step < TRAIN_STEPS; step++) {
    const loss = tf.tidy(() => trainStep(model, optimizer, xs, ys));
    losses.push(read(loss)[0] as number);
    loss.dispose();
  }
  tf.dispose([xs, ys]);
  optimizer.dispose();
  return { losses, weights: model.getWeights().map((w) => read(w)) };
}

// ---------------------------------------------------------------------------

describe('WASM gradient kernels (shared/model/wasm-grad-kernels.ts) against the cpu backend', () => {
  const gradRefs = new Map<string, Float32Array[]>();
  const kernelRefs = new Map<string, Float32Array>();
  let stockRefs: Float32Array[] = [];
  let tileRefs: Float32Array[] = [];
  let avgPoolRefs: Float32Array[] = [];
  let missingBefore: string[] = [];
  let initialWeights: { values: Float32Array; shape: number[] }[] = [];
  let trainRef: TrainResult;
  const maxErrors = new Map<string, number>();

  const check = (name: string, got: Float32Array, want: Float32Array): void => {
    const err = relativeError(got, want);
    maxErrors.set(name, Math.max(maxErrors.get(name) ?? 0, err));
    expect(err, name).toBeLessThanOrEqual(TOLERANCE);
  };

  beforeAll(async () => {
    await startNodeCpuBackend();
    GRAD_CASES.forEach((c, i) => gradRefs.set(c.name, caseGradients(c, 100 + 10 * i)));
    KERNEL_CASES.forEach((c, i) => kernelRefs.set(c.name, kernelCaseReference(c, 500 + 10 * i)));
    stockRefs = stockOpGradients(900);
    tileRefs = TILE_CASES.map((c, i) => tileOutput(c, 700 + i));
    avgPoolRefs = AVG_POOL_CASES.map((c, i) => avgPoolGradient(c, 800 + 10 * i));
    const model = buildModel();
    initialWeights = model.getWeights().map((w) => ({ values: read(w).slice(), shape: w.shape }));
    trainRef = train(model);
    model.dispose();

    await startNodeWasmBackend();
    missingBefore = ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput'].filter(
      (name) => tf.getKernel(name, 'wasm') === undefined,
    );
    registerWasmGradientKernels();
  }, 300_000);

  afterAll(async () => {
    // Leave the process on wasm with the default kernels, for whatever runs next in this worker.
    registerWasmGradientKernels();
    await startNodeWasmBackend();
    const summary = [...maxErrors].map(([name, err]) => `${err.toExponential(2)}  ${name}`).join('\n');
    console.log(`max relative error vs cpu:\n${summary}`);
  });

  it('runs on wasm, registers idempotently, and reports its implementation', () => {
    expect(tf.getBackend()).toBe('wasm');
    // tfjs#8474: if a tfjs upgrade ships these, compare its kernels with ours before dropping ours.
    expect(missingBefore).toEqual(['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput']);
    const before = tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc;
    registerWasmGradientKernels();
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc).toBe(before);
    expect(wasmGradientKernelsImplementation()).toBe('wasm');
  });

  it.each(GRAD_CASES.map((c, i) => [c.name, c, i] as const))('gradients of %s', (_name, c, i) => {
    const got = caseGradients(c, 100 + 10 * i);
    const want = gradRefs.get(c.name) as Float32Array[];
    expect(got.length).toBe(want.length);
    const labels = ['dx', 'dfilter', 'dbias'];
    got.forEach((g, j) => check(`${c.name}: ${labels[j] ?? j}`, g, want[j] as Float32Array));
  });

  it.each(KERNEL_CASES.map((c, i) => [c.name, c, i] as const))('kernel: %s', (_name, c, i) => {
    check(c.name, kernelCaseOutput(c, 500 + 10 * i), kernelRefs.get(c.name) as Float32Array);
  });

  it('splits a large im2col into chunks of images without changing the result', () => {
    // 3x3 over 9x7 images: 63 rows x 36 columns per image; a 3000-float budget takes one image at a time.
    registerWasmGradientKernels({ im2colMaxFloats: 3000 });
    try {
      const c = GRAD_CASES.find((g) => g.name.startsWith('conv2d 3x3 s1 valid, batch 3')) as GradCase;
      const i = GRAD_CASES.indexOf(c);
      const got = caseGradients(c, 100 + 10 * i);
      check(`${c.name} (chunked im2col): dfilter`, got[1] as Float32Array, (gradRefs.get(c.name) as Float32Array[])[1] as Float32Array);
    } finally {
      registerWasmGradientKernels();
    }
  });

  it('keeps the gradients of relu6, clipByValue, batchNorm (through Tile) and avgPool right', () => {
    const got = stockOpGradients(900);
    const labels = ['relu6 dx', 'clipByValue dx', 'batchNorm dx', 'batchNorm dmean', 'batchNorm dvariance', 'batchNorm doffset', 'batchNorm dscale', 'avgPool dx'];
    got.forEach((g, j) => check(labels[j] ?? String(j), g, stockRefs[j] as Float32Array));
  });

  it.each(TILE_CASES.map((c, i) => [`${c.dtype} [${c.shape.join(',')}] x [${c.reps.join(',')}]`, c, i] as const))('tile (replaced stock kernel): %s', (name, c, i) => {
    check(`tile ${name}`, tileOutput(c, 700 + i), tileRefs[i] as Float32Array);
  });

  it.each(AVG_POOL_CASES.map((c, i) => [`${c.filter}x${c.filter} s${c.strides} ${c.pad} on [${c.x.join(',')}]`, c, i] as const))(
    'avgPool gradient (replaced stock kernel): %s',
    (name, c, i) => {
      check(`avgPool dx ${name}`, avgPoolGradient(c, 800 + 10 * i), avgPoolRefs[i] as Float32Array);
    },
  );

  it('the cpu-reference implementation gives the same gradients, and swaps back', () => {
    registerWasmGradientKernels({ implementation: 'cpu-reference' });
    try {
      expect(wasmGradientKernelsImplementation()).toBe('cpu-reference');
      // The replaced stock kernels are back.
      expect(tf.getKernel('Tile', 'wasm')?.setupFunc).toBeTypeOf('function');
      expect(tf.getKernel('AvgPoolGrad', 'wasm')?.setupFunc).toBeTypeOf('function');
      for (const name of ['conv2d 3x3 s2 same, batch 2, 9x7', 'depthwise 3x3 s2 same, batch 2, 9x9']) {
        const i = GRAD_CASES.findIndex((g) => g.name === name);
        const got = caseGradients(GRAD_CASES[i] as GradCase, 100 + 10 * i);
        got.forEach((g, j) => check(`cpu-reference ${name}: ${j}`, g, (gradRefs.get(name) as Float32Array[])[j] as Float32Array));
      }
    } finally {
      registerWasmGradientKernels();
    }
    expect(wasmGradientKernelsImplementation()).toBe('wasm');
  });

  it('rejects NCHW with a clear error', () => {
    const run = (): void =>
      tf.tidy(() => {
        tf.engine().runKernel('Conv2DBackpropFilter', { x: tf.ones([1, 3, 4, 4]), dy: tf.ones([1, 2, 4, 4]) }, {
          strides: 1,
          pad: 'valid',
          dataFormat: 'NCHW',
          filterShape: [1, 1, 3, 2],
        } as unknown as tf.NamedAttrMap);
      });
    expect(run).toThrow(/only NHWC/);
  });

  it('trains a small MobileNetV2-like model like the cpu backend does, without leaking tensors', () => {
    const model = buildModel();
    model.setWeights(initialWeights.map((w) => tf.tensor(w.values, w.shape)));
    const result = train(model);
    result.losses.forEach((loss, step) => {
      const want = trainRef.losses[step] as number;
      const err = Math.abs(loss - want) / Math.max(1e-6, Math.abs(want));
      maxErrors.set('training loss', Math.max(maxErrors.get('training loss') ?? 0, err));
      expect(err, `loss at step ${step}: ${loss} vs cpu ${want}`).toBeLessThanOrEqual(TOLERANCE);
    });
    // The losses fall, so the gradients reach every layer in the right direction.
    expect(result.losses[TRAIN_STEPS - 1]).toBeLessThan(result.losses[0] as number);
    result.weights.forEach((w, j) => check(`trained weight ${model.weights[j]?.name ?? j}`, w, trainRef.weights[j] as Float32Array));

    // One more, tidy'd step: no tensor and no WASM heap allocation may outlive it.
    const { xs, ys } = trainingData();
    const optimizer = tf.train.sgd(0.5);
    tf.tidy(() => trainStep(model, optimizer, xs, ys)); // warm-up: optimizer state, lazy kernels
    const backend = tf.backend();
    const tensors = tf.memory().numTensors;
    const dataIds = backend.numDataIds();
    tf.tidy(() => {
      trainStep(model, optimizer, xs, ys);
    });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(backend.numDataIds()).toBe(dataIds);
    tf.dispose([xs, ys]);
    optimizer.dispose();
    model.dispose();
  });
});
