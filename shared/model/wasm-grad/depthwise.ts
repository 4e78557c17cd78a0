/**
 * `DepthwiseConv2dNativeBackpropFilter` and `...BackpropInput` on the WASM backend: tight loops
 * over Float32Array views of the WASM heap (no copies), innermost over the contiguous channel
 * axis; filter sums accumulate in float64.
 */
import * as tf from '@tensorflow/tfjs-core';
import { asWasmBackend, f32, input, requireShape, type KernelArgs, type Pad, type RoundingMode, type Shape4 } from './wasm-access.ts';

interface DepthwiseBackpropFilterAttrs {
  strides: number | [number, number];
  dilations?: number | [number, number];
  pad: Pad;
  dimRoundingMode?: RoundingMode;
  filterShape: Shape4;
}

interface DepthwiseBackpropInputAttrs {
  strides: number | [number, number];
  dilations?: number | [number, number];
  pad: Pad;
  dimRoundingMode?: RoundingMode;
  inputShape: Shape4;
}

function depthwiseInfo(xShape: Shape4, filterShape: Shape4, attrs: { strides: number | [number, number]; dilations?: number | [number, number]; pad: Pad; dimRoundingMode?: RoundingMode }, name: string): tf.backend_util.Conv2DInfo {
  if (xShape[3] !== filterShape[2]) {
    throw new Error(`${name}: input has ${xShape[3]} channels but the filter expects ${filterShape[2]}`);
  }
  return tf.backend_util.computeConv2DInfo(xShape, filterShape, attrs.strides, attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode, true, 'channelsLast');
}

/** `DepthwiseConv2dNativeBackpropFilter` for 'wasm' (float64 sums). */
export function depthwiseBackpropFilterWasm(args: KernelArgs): tf.TensorInfo {
  const name = 'DepthwiseConv2dNativeBackpropFilter';
  const backend = asWasmBackend(args.backend, name);
  const attrs = args.attrs as unknown as DepthwiseBackpropFilterAttrs;
  const xInfo = input(args.inputs, 'x', name);
  const dyInfo = input(args.inputs, 'dy', name);
  const info = depthwiseInfo(xInfo.shape as Shape4, attrs.filterShape, attrs, name);
  requireShape(dyInfo, info.outShape, 'dy', name);
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, outChannels: CO, filterHeight: KH, filterWidth: KW } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const mult = CO / C;
  const acc = new Float64Array(KH * KW * CO);
  const out = backend.makeOutput([...attrs.filterShape], 'float32');
  const x = f32(backend, xInfo);
  const dy = f32(backend, dyInfo);
  // dW[kh, kw, c, q] = sum over n, oh, ow of x[n, ih, iw, c] * dy[n, oh, ow, c*mult + q].
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const ih0 = oh * sh - top;
      for (let ow = 0; ow < OW; ow++) {
        const iw0 = ow * sw - left;
        const dyRow = ((n * OH + oh) * OW + ow) * CO;
        for (let kh = 0; kh < KH; kh++) {
          const ih = ih0 + kh * dh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = iw0 + kw * dw;
            if (iw < 0 || iw >= W) continue;
            const xRow = ((n * H + ih) * W + iw) * C;
            const wRow = (kh * KW + kw) * CO;
            if (mult === 1) {
              for (let c = 0; c < C; c++) acc[wRow + c] = (acc[wRow + c] as number) + (x[xRow + c] as number) * (dy[dyRow + c] as number);
            } else {
              for (let c = 0; c < C; c++) {
                const xv = x[xRow + c] as number;
                for (let q = 0; q < mult; q++) {
                  const o = c * mult + q;
                  acc[wRow + o] = (acc[wRow + o] as number) + xv * (dy[dyRow + o] as number);
                }
              }
            }
          }
        }
      }
    }
  }
  f32(backend, out).set(acc);
  return out;
}

/** `DepthwiseConv2dNativeBackpropInput` for 'wasm' (scatter form). */
export function depthwiseBackpropInputWasm(args: KernelArgs): tf.TensorInfo {
  const name = 'DepthwiseConv2dNativeBackpropInput';
  const backend = asWasmBackend(args.backend, name);
  const attrs = args.attrs as unknown as DepthwiseBackpropInputAttrs;
  const dyInfo = input(args.inputs, 'dy', name);
  const filterInfo = input(args.inputs, 'filter', name);
  const info = depthwiseInfo(attrs.inputShape, filterInfo.shape as Shape4, attrs, name);
  requireShape(dyInfo, info.outShape, 'dy', name);
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, outChannels: CO, filterHeight: KH, filterWidth: KW } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const mult = CO / C;
  const out = backend.makeOutput([...attrs.inputShape], 'float32');
  const dx = f32(backend, out);
  const dy = f32(backend, dyInfo);
  const w = f32(backend, filterInfo);
  dx.fill(0);
  // Scatter form: each dy pixel adds dy * W into the input pixels its window covered.
  // At most KH*KW*mult terms reach one dx element, so float32 sums lose nothing visible.
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const ih0 = oh * sh - top;
      for (let ow = 0; ow < OW; ow++) {
        const iw0 = ow * sw - left;
        const dyRow = ((n * OH + oh) * OW + ow) * CO;
        for (let kh = 0; kh < KH; kh++) {
          const ih = ih0 + kh * dh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = iw0 + kw * dw;
            if (iw < 0 || iw >= W) continue;
            const xRow = ((n * H + ih) * W + iw) * C;
            const wRow = (kh * KW + kw) * CO;
            if (mult === 1) {
              for (let c = 0; c < C; c++) dx[xRow + c] = (dx[xRow + c] as number) + (dy[dyRow + c] as number) * (w[wRow + c] as number);
            } else {
              for (let c = 0; c < C; c++) {
                let sum = 0;
                for (let q = 0; q < mult; q++) sum += (dy[dyRow + c * mult + q] as number) * (w[wRow + c * mult + q] as number);
                dx[xRow + c] = (dx[xRow + c] as number) + sum;
              }
            }
          }
        }
      }
    }
  }
  return out;
}

