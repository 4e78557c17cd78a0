/**
 * The WASM SIMD backend inside workerd: started from the `.wasm` file imported as
 * a precompiled module (the only way in; workerd forbids compiling from bytes).
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import simd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm';
import { startWasmBackend, wasmBackendInfo } from '../../shared/model/wasm-backend.ts';

/** Direct NHWC/HWIO 'same'-padded, stride-1 convolution, as a reference. */
function referenceConv2dSame(
  input: Float32Array, [h, w, cin]: [number, number, number],
  filter: Float32Array, [fh, fw, cout]: [number, number, number],
): Float32Array {
  const out = new Float32Array(h * w * cout);
  const padTop = Math.floor((fh - 1) / 2);
  const padLeft = Math.floor((fw - 1) / 2);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let o = 0; o < cout; o++) {
        let sum = 0;
        for (let dy = 0; dy < fh; dy++) {
          for (let dx = 0; dx < fw; dx++) {
            const iy = y + dy - padTop;
            const ix = x + dx - padLeft;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            for (let c = 0; c < cin; c++) {
              sum += input[(iy * w + ix) * cin + c]! * filter[((dy * fw + dx) * cin + c) * cout + o]!;
            }
          }
        }
        out[(y * w + x) * cout + o] = sum;
      }
    }
  }
  return out;
}

describe('WASM backend in workerd', () => {
  beforeAll(async () => {
    expect(simd).toBeInstanceOf(WebAssembly.Module);
    await startWasmBackend(simd);
  });

  it('is the active backend, and a second start is a no-op', async () => {
    expect(tf.getBackend()).toBe('wasm');
    const before = tf.backend();
    await startWasmBackend(simd);
    expect(tf.backend()).toBe(before);
    const info = wasmBackendInfo();
    expect(info.backend).toBe('wasm');
    expect(info.heapBytes).toBeGreaterThanOrEqual(16 * 1024 * 1024);
  });

  it('multiplies matrices', () => {
    const product = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]])).arraySync());
    expect(product).toEqual([[19, 22], [43, 50]]);
  });

  it('convolves (hand-computed 3x3 input, 2x2 ones filter, valid)', () => {
    const out = tf.tidy(() => {
      const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
      const f = tf.ones([2, 2, 1, 1]) as tf.Tensor4D;
      return tf.conv2d(x, f, 1, 'valid').arraySync();
    });
    // [1+2+4+5, 2+3+5+6; 4+5+7+8, 5+6+8+9]
    expect(out).toEqual([[[[12], [16]], [[24], [28]]]]);
  });

  it('convolves multi-channel inputs like a direct convolution (XNNPACK path)', () => {
    const [h, w, cin, fh, fw, cout] = [7, 5, 3, 3, 3, 4];
    const input = Float32Array.from({ length: h * w * cin }, (_, i) => ((i * 37) % 19) / 19 - 0.5);
    const filter = Float32Array.from({ length: fh * fw * cin * cout }, (_, i) => ((i * 11) % 13) / 13 - 0.5);
    const got = tf.tidy(() =>
      tf.conv2d(tf.tensor4d(input, [1, h, w, cin]), tf.tensor4d(filter, [fh, fw, cin, cout]), 1, 'same').dataSync() as Float32Array,
    );
    const want = referenceConv2dSame(input, [h, w, cin], filter, [fh, fw, cout]);
    expect(got.length).toBe(want.length);
    let maxDiff = 0;
    for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
    expect(maxDiff).toBeLessThan(1e-5);
  });

  it('leaks no tensors through tf.tidy', () => {
    const before = tf.memory().numTensors;
    const sum = tf.tidy(() => {
      const a = tf.randomNormal([64, 64]);
      // Functional ops only: tfjs-core alone does not install the chained
      // methods (`t.transpose()`); see FIELD-NOTES / the wasm-backend report.
      const b = tf.matMul(a, tf.transpose(a));
      return tf.sum(tf.conv2d(tf.reshape(b, [1, 64, 64, 1]) as tf.Tensor4D, tf.ones([3, 3, 1, 1]) as tf.Tensor4D, 1, 'same'));
    });
    expect(tf.memory().numTensors).toBe(before + 1);
    sum.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('serves model files from the ASSETS binding (when built)', async () => {
    const { env } = await import('cloudflare:workers');
    const assets = (env as { ASSETS?: Fetcher }).ASSETS;
    expect(assets).toBeDefined();
    const res = await assets!.fetch('http://assets.local/models/index.json');
    // dist/public is populated by the install step; before it, a 404 is fine.
    expect([200, 404]).toContain(res.status);
    await res.body?.cancel();
  });
});
