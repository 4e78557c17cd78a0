/**
 * `Conv2DBackpropFilter` (dW = im2col(x)^T · dy as one XNNPACK multiply; x itself for pointwise
 * convolutions) and the pointwise fast path of `Conv2DBackpropInput` (dx = dy · W^T), on the WASM
 * backend. Why these forms: shared/model/wasm-grad-kernels.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  asWasmBackend,
  f32,
  input,
  isPointwise,
  matMul,
  requireNhwc,
  requireShape,
  runStock,
  transpose2d,
  view,
  type KernelArgs,
  type Pad,
  type RoundingMode,
  type Shape4,
} from './wasm-access.ts';

interface Conv2DBackpropFilterAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: RoundingMode;
  filterShape: Shape4;
}

interface Conv2DBackpropInputAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: RoundingMode;
  inputShape: Shape4;
}

/**
 * Fills `patches` ([images * outHeight * outWidth, filterHeight * filterWidth * inChannels],
 * row-major) with the im2col rows of images `n0 .. n0 + images - 1` of `x`; zero outside.
 */
function im2col(x: Float32Array, info: tf.backend_util.Conv2DInfo, n0: number, images: number, patches: Float32Array): void {
  const { inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, filterHeight: KH, filterWidth: KW } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const rowLength = KH * KW * C;
  let row = 0;
  for (let n = n0; n < n0 + images; n++) {
    const xImage = n * H * W * C;
    for (let oh = 0; oh < OH; oh++) {
      const ih0 = oh * sh - top;
      for (let ow = 0; ow < OW; ow++) {
        const iw0 = ow * sw - left;
        let p = row * rowLength;
        for (let kh = 0; kh < KH; kh++) {
          const ih = ih0 + kh * dh;
          const rowInside = ih >= 0 && ih < H;
          for (let kw = 0; kw < KW; kw++) {
            const iw = iw0 + kw * dw;
            if (rowInside && iw >= 0 && iw < W) {
              const src = xImage + (ih * W + iw) * C;
              // `set` of a subarray is a memcpy; faster than a JS loop from ~8 channels up.
              if (C >= 8) patches.set(x.subarray(src, src + C), p);
              else for (let c = 0; c < C; c++) patches[p + c] = x[src + c] as number;
            } else {
              patches.fill(0, p, p + C);
            }
            p += C;
          }
        }
        row++;
      }
    }
  }
}

/** `Conv2DBackpropFilter` for 'wasm': dW = im2col(x)^T · dy, im2col built `im2colMaxFloats` at most at once. */
export function conv2DBackpropFilterWasm(args: KernelArgs, im2colMaxFloats: number): tf.TensorInfo {
  const name = 'Conv2DBackpropFilter';
  const backend = asWasmBackend(args.backend, name);
  const attrs = args.attrs as unknown as Conv2DBackpropFilterAttrs;
  requireNhwc(attrs.dataFormat, name);
  const x = input(args.inputs, 'x', name);
  const dy = input(args.inputs, 'dy', name);
  const info = tf.backend_util.computeConv2DInfo(x.shape as Shape4, attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  const { batchSize: N, outHeight: OH, outWidth: OW, outChannels: CO, filterHeight: KH, filterWidth: KW, inChannels: C } = info;
  if (attrs.filterShape[2] !== C) throw new Error(`${name}: input has ${C} channels but the filter expects ${attrs.filterShape[2]}`);
  requireShape(dy, info.outShape, 'dy', name);
  const rows = OH * OW; // im2col rows per image
  const K = KH * KW * C; // im2col columns = filter size

  if (isPointwise(info)) {
    // im2col(x) is x itself: dW = x^T · dy, with x viewed as [N*H*W, C].
    const xT = transpose2d(backend, view(x, [N * rows, C]));
    try {
      return view(matMul(backend, xT, view(dy, [N * rows, CO])), attrs.filterShape);
    } finally {
      backend.disposeData(xT.dataId);
    }
  }

  const imagesPerChunk = Math.max(1, Math.min(N, Math.floor(im2colMaxFloats / (rows * K))));
  let result: tf.TensorInfo | undefined;
  let accumulator: Float64Array | undefined;
  try {
    for (let n0 = 0; n0 < N; n0 += imagesPerChunk) {
      const images = Math.min(imagesPerChunk, N - n0);
      const whole = images === N;
      const patches = backend.makeOutput([images * rows, K], 'float32');
      let patchesT: tf.TensorInfo | undefined;
      let dyChunk: tf.TensorInfo | undefined;
      let product: tf.TensorInfo | undefined;
      try {
        // Views are taken after every allocation: growing the heap detaches older ones.
        im2col(f32(backend, x), info, n0, images, f32(backend, patches));
        patchesT = transpose2d(backend, patches);
        if (whole) {
          dyChunk = view(dy, [N * rows, CO]);
        } else {
          // XNNPACK needs `b` as a tensor of its own: copy this chunk's rows of dy.
          dyChunk = backend.makeOutput([images * rows, CO], 'float32');
          const start = n0 * rows * CO;
          f32(backend, dyChunk).set(f32(backend, dy).subarray(start, start + images * rows * CO));
        }
        product = matMul(backend, patchesT, dyChunk);
        if (whole) {
          result = product;
          product = undefined;
        } else {
          // Chunks are summed in float64, so chunking costs no precision.
          const part = f32(backend, product);
          accumulator ??= new Float64Array(part.length);
          for (let i = 0; i < part.length; i++) accumulator[i] = (accumulator[i] as number) + (part[i] as number);
        }
      } finally {
        backend.disposeData(patches.dataId);
        if (patchesT) backend.disposeData(patchesT.dataId);
        if (dyChunk && !whole) backend.disposeData(dyChunk.dataId);
        if (product) backend.disposeData(product.dataId);
      }
    }
  } catch (err) {
    if (result) backend.disposeData(result.dataId);
    throw err;
  }
  if (result) return view(result, attrs.filterShape);
  return backend.makeOutput(attrs.filterShape, 'float32', undefined, Float32Array.from(accumulator ?? new Float64Array(K * CO)));
}

/** `Conv2DBackpropInput` for 'wasm': dx = dy · W^T for pointwise convolutions, the stock kernel otherwise. */
export function conv2DBackpropInputWasm(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const name = 'Conv2DBackpropInput';
  const attrs = args.attrs as unknown as Conv2DBackpropInputAttrs;
  const filter = args.inputs['filter'];
  const dyInfo = args.inputs['dy'];
  if (attrs.dataFormat === undefined || attrs.dataFormat === 'NHWC') {
    if (filter?.dtype === 'float32' && filter.shape.length === 4 && dyInfo?.dtype === 'float32') {
      const info = tf.backend_util.computeConv2DInfo(attrs.inputShape, filter.shape as Shape4, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
      if (isPointwise(info) && filter.shape[2] === info.inChannels) {
        requireShape(dyInfo, info.outShape, 'dy', name);
        const backend = asWasmBackend(args.backend, name);
        const M = info.batchSize * info.inHeight * info.inWidth;
        // dx = dy · W^T, with W viewed as [Cin, Cout] and dy as [M, Cout].
        const wT = transpose2d(backend, view(filter, [info.inChannels, info.outChannels]));
        try {
          return view(matMul(backend, view(dyInfo, [M, info.outChannels]), wT), attrs.inputShape);
        } finally {
          backend.disposeData(wT.dataId);
        }
      }
    }
  }
  return runStock(name, args);
}

