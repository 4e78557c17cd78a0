/**
 * The WASM SIMD backend in Node, started through the same `startWasmBackend` the
 * Worker uses (the module compiled here from the file bytes), checked against
 * TF.js's pure-JS cpu backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNodeCpuBackend, startNodeWasmBackend } from '../../scripts/node-backend.ts';
import { wasmBackendInfo } from '../../shared/model/wasm-backend.ts';

/** Small deterministic PRNG (mulberry32) so the "random" inputs are fixed. */
function seededValues(length: number, seed: number): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length }, () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  });
}

describe('WASM backend in Node', () => {
  beforeAll(async () => {
    await startNodeWasmBackend();
  });

  afterAll(async () => {
    // Leave the process on wasm for whatever runs next in this worker.
    await startNodeWasmBackend();
  });

  it('is the active backend, and a second start is a no-op', async () => {
    expect(tf.getBackend()).toBe('wasm');
    const before = tf.backend();
    await startNodeWasmBackend();
    expect(tf.backend()).toBe(before);
    expect(wasmBackendInfo()).toEqual({ backend: 'wasm', heapBytes: expect.any(Number) });
    expect(wasmBackendInfo().heapBytes).toBeGreaterThanOrEqual(16 * 1024 * 1024);
  });

  it('multiplies matrices', () => {
    const product = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]])).arraySync());
    expect(product).toEqual([[19, 22], [43, 50]]);
  });

  it('convolves (hand-computed)', () => {
    const out = tf.tidy(() =>
      tf.conv2d(tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]), tf.ones([2, 2, 1, 1]) as tf.Tensor4D, 1, 'valid').arraySync(),
    );
    expect(out).toEqual([[[[12], [16]], [[24], [28]]]]);
  });

  it('leaks no tensors through tf.tidy', () => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const a = tf.randomNormal([32, 32]);
      tf.conv2d(tf.reshape(tf.matMul(a, tf.transpose(a)), [1, 32, 32, 1]) as tf.Tensor4D, tf.ones([3, 3, 1, 1]) as tf.Tensor4D, 1, 'same');
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('matches the cpu backend on a random conv2d (stride 2, same padding, 8 -> 16 channels)', async () => {
    const inputShape: [number, number, number, number] = [2, 17, 13, 8];
    const filterShape: [number, number, number, number] = [3, 3, 8, 16];
    const input = seededValues(inputShape.reduce((a, b) => a * b), 1);
    const filter = seededValues(filterShape.reduce((a, b) => a * b), 2);
    const run = (): Float32Array =>
      tf.tidy(() => tf.conv2d(tf.tensor4d(input, inputShape), tf.tensor4d(filter, filterShape), 2, 'same').dataSync() as Float32Array);

    const onWasm = run();
    await startNodeCpuBackend();
    expect(tf.getBackend()).toBe('cpu');
    const onCpu = run();
    await startNodeWasmBackend();
    expect(tf.getBackend()).toBe('wasm');

    expect(onWasm.length).toBe(2 * 9 * 7 * 16);
    expect(onWasm.length).toBe(onCpu.length);
    let maxDiff = 0;
    for (let i = 0; i < onCpu.length; i++) maxDiff = Math.max(maxDiff, Math.abs(onWasm[i]! - onCpu[i]!));
    expect(maxDiff).toBeLessThan(1e-4);
  });
});
