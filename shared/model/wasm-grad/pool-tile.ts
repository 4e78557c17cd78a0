/**
 * Faster replacements of two stock WASM kernels that MobileNetV2's top block calls in every
 * training step: `AvgPoolGrad` (a scatter per window tap) and `Tile` (whole-row copies). What
 * they do not handle goes to the stock kernels.
 */
import * as tf from '@tensorflow/tfjs-core';
import { asWasmBackend, f32, requireShape, runStock, type KernelArgs, type Pad, type RoundingMode, type Shape4 } from './wasm-access.ts';

interface AvgPoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: Pad;
  dimRoundingMode?: RoundingMode;
}

/**
 * Same semantics as the cpu and stock wasm kernels: every window tap gets dy / (window
 * area), padding included in the area. Scatter form: one pass over dy per tap, innermost
 * over the contiguous channels, instead of a gather over all taps per input pixel.
 */
export function avgPoolGradWasm(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const name = 'AvgPoolGrad';
  const dyInfo = args.inputs['dy'];
  const xInfo = args.inputs['input'];
  if (dyInfo === undefined || xInfo === undefined || dyInfo.dtype !== 'float32' || xInfo.shape.length !== 4) {
    return runStock(name, args);
  }
  const backend = asWasmBackend(args.backend, name);
  const attrs = args.attrs as unknown as AvgPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(xInfo.shape as Shape4, attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  requireShape(dyInfo, info.outShape, 'dy', name);
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, filterHeight: KH, filterWidth: KW } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const scale = 1 / (KH * KW);
  const out = backend.makeOutput([...xInfo.shape], 'float32');
  const dx = f32(backend, out);
  const dy = f32(backend, dyInfo);
  dx.fill(0);
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const ih0 = oh * sh - top;
      for (let ow = 0; ow < OW; ow++) {
        const iw0 = ow * sw - left;
        const dyRow = ((n * OH + oh) * OW + ow) * C;
        for (let kh = 0; kh < KH; kh++) {
          const ih = ih0 + kh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = iw0 + kw;
            if (iw < 0 || iw >= W) continue;
            const xRow = ((n * H + ih) * W + iw) * C;
            for (let c = 0; c < C; c++) dx[xRow + c] = (dx[xRow + c] as number) + (dy[dyRow + c] as number) * scale;
          }
        }
      }
    }
  }
  return out;
}

/**
 * Tile by whole rows: each output row (last axis) is its source row repeated; the source
 * row index is kept with an odometer over the outer axes, so the per-element work is a
 * memcpy. Numeric dtypes only (strings go to the stock kernel).
 */
export function tileWasm(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const name = 'Tile';
  const xInfo = args.inputs['x'];
  const reps = (args.attrs as unknown as { reps: number[] }).reps;
  if (xInfo === undefined || xInfo.shape.length === 0 || reps.length !== xInfo.shape.length || !['float32', 'int32', 'bool'].includes(xInfo.dtype)) {
    return runStock(name, args);
  }
  const backend = asWasmBackend(args.backend, name);
  const shape = xInfo.shape;
  const rank = shape.length;
  const outShape = shape.map((d, i) => d * (reps[i] as number));
  const out = backend.makeOutput(outShape, xInfo.dtype);
  const dst = backend.typedArrayFromHeap(out);
  const src = backend.typedArrayFromHeap(xInfo);
  const rowLength = shape[rank - 1] as number;
  const rowReps = reps[rank - 1] as number;
  const outRowLength = rowLength * rowReps;
  if (dst.length === 0) return out;
  // Source row-index strides of the outer axes.
  const srcStrides = new Array<number>(rank - 1).fill(0);
  for (let i = rank - 3, stride = 1; i >= -1; i--) {
    srcStrides[i + 1] = stride;
    stride *= shape[i + 1] as number;
  }
  const outerShape = outShape.slice(0, -1);
  const outRows = outerShape.reduce((a, b) => a * b, 1);
  const index = new Array<number>(rank - 1).fill(0); // position over the outer output axes
  const srcIndex = new Array<number>(rank - 1).fill(0); // the same, modulo the input shape
  let srcRow = 0;
  for (let row = 0; row < outRows; row++) {
    const from = srcRow * rowLength;
    const rowData = src.subarray(from, from + rowLength);
    const base = row * outRowLength;
    for (let r = 0; r < rowReps; r++) dst.set(rowData, base + r * rowLength);
    // Advance the odometer (innermost outer axis first).
    for (let axis = rank - 2; axis >= 0; axis--) {
      index[axis] = (index[axis] as number) + 1;
      const next = (srcIndex[axis] as number) + 1;
      if (next === shape[axis]) {
        srcIndex[axis] = 0;
        srcRow -= (next - 1) * (srcStrides[axis] as number);
      } else {
        srcIndex[axis] = next;
        srcRow += srcStrides[axis] as number;
      }
      if (index[axis] !== outShape[axis]) break;
      index[axis] = 0;
      // Wrapping the output axis always wraps the source axis too: reps are whole.
    }
  }
  return out;
}

