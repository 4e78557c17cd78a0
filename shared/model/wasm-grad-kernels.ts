/**
 * Convolution gradient kernels for TF.js's WASM backend, which 4.22 lacks.
 *
 * `@tensorflow/tfjs-backend-wasm` 4.22 registers no `Conv2DBackpropFilter`,
 * `DepthwiseConv2dNativeBackpropFilter` or `DepthwiseConv2dNativeBackpropInput`
 * (upstream issue tfjs#8474), so any gradient that reaches a convolution's weights,
 * or flows through a depthwise convolution, fails on 'wasm': unfreezing any conv
 * layer of MobileNetV2 cannot train. {@link registerWasmGradientKernels} registers
 * them, and replaces the stock `Conv2DBackpropInput` for pointwise (1x1) convolutions,
 * where the stock C++ loop is ~5x slower than XNNPACK's matrix multiply.
 *
 * How each kernel computes (convolutions: NHWC and float32 only):
 * - `Conv2DBackpropFilter`: dW = im2col(x)^T · dy as ONE matrix multiply on the WASM
 *   backend's own `BatchMatMul`, in the form that reaches XNNPACK's fully connected
 *   operator (no transposed operands: `Transpose` first, also in C++). For pointwise,
 *   stride-1, unpadded convolutions (most of MobileNetV2) im2col(x) is x itself, so
 *   nothing is copied in JavaScript. Otherwise the patch matrix is built in a tight
 *   typed-array loop, a few images at a time to bound the memory it takes.
 * - `Conv2DBackpropInput` (pointwise only, the rest stays on the stock kernel):
 *   dx = dy · W^T, one XNNPACK multiply.
 * - `DepthwiseConv2dNativeBackpropFilter` / `...BackpropInput`: tight loops over
 *   Float32Array views of the WASM heap (no copies), innermost over the contiguous
 *   channel axis; filter sums accumulate in float64.
 * - `AvgPoolGrad` and `Tile` replace stock kernels that work but are slow where
 *   MobileNetV2's top trains: the stock `AvgPoolGrad` loops over every (input pixel,
 *   window tap) pair in C++ (30-100 ms for the 7x7 pool at batch 8, 1280 channels), and
 *   the stock `Tile` computes an index per element (50 ms to tile a [1,1,1,1280]
 *   batch-norm factor to [8,7,7,1280], which every `FusedBatchNorm` gradient does). Ours
 *   scatter once per window tap (~5 ms), and copy whole rows (~1 ms); what they do not
 *   handle (other dtypes, ranks) goes to the stock kernels.
 *
 * `implementation: 'cpu-reference'` instead registers the three missing kernels as
 * calls into TF.js's `cpu` backend kernels (copy in, compute, copy out): correct, but a
 * training step through MobileNetV2's top block takes minutes instead of a fraction of a
 * second (bench/finetune-step.ts); kept for that comparison and as a cross-check.
 *
 * Only `@tensorflow/tfjs-core` and (for its kernel registrations) the wasm backend
 * package are imported, and the backend instance is reached through the kernel-function
 * `backend` argument, so this runs in the browser, workerd and Node. Package internals are touched (the backend's heap and `BatchMatMul` /
 * `Transpose` kernels), hence the tfjs pin to 4.22.0.
 */
import * as tf from '@tensorflow/tfjs-core';
// For its side effect only: registering the stock wasm kernels before this module's code can
// run, so that the ones replaced here are captured (and not re-registered over ours later).
// shared/model/wasm-backend.ts imports the same module, so this adds nothing to a bundle.
import '@tensorflow/tfjs-backend-wasm';

/** Which implementation {@link registerWasmGradientKernels} installs. */
export type GradientKernelImplementation = 'wasm' | 'cpu-reference';

/** Options for {@link registerWasmGradientKernels}. */
export interface WasmGradientKernelOptions {
  /**
   * `'wasm'` (default): the fast kernels described in the module comment.
   * `'cpu-reference'`: the three kernels the WASM backend lacks, computed by TF.js's
   * `cpu` backend kernels; `@tensorflow/tfjs-backend-cpu` must have been imported.
   */
  implementation?: GradientKernelImplementation;
  /**
   * Largest im2col patch matrix, in floats, that the general `Conv2DBackpropFilter`
   * builds at once; bigger inputs are processed a few images at a time. Default
   * 4M floats (16 MB), small next to the Worker's 128 MB isolate.
   */
  im2colMaxFloats?: number;
}

/**
 * The kernels {@link registerWasmGradientKernels} registers for 'wasm': the three the
 * backend lacks, and three stock ones it replaces for speed ({@link REPLACED_STOCK_KERNELS}).
 */
export const WASM_GRADIENT_KERNEL_NAMES = [
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'AvgPoolGrad',
  'Tile',
] as const;

/**
 * Stock wasm kernels that the 'wasm' implementation replaces (delegating the cases it
 * does not speed up to them) and that the 'cpu-reference' implementation leaves alone.
 */
export const REPLACED_STOCK_KERNELS = ['Conv2DBackpropInput', 'AvgPoolGrad', 'Tile'] as const;

const BACKEND = 'wasm';
const DEFAULT_IM2COL_MAX_FLOATS = 4 * 1024 * 1024;

type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
type RoundingMode = 'floor' | 'round' | 'ceil';

/**
 * The parts of `BackendWasm` (tfjs-backend-wasm 4.22) used here. Described locally
 * rather than imported so that nothing from the package is loaded at run time, and
 * so that its emscripten-typed members do not leak into every tsconfig.
 */
interface WasmBackendInternals {
  /** Allocates an (uninitialised, or filled from `values`) tensor on the heap. */
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: tf.backend_util.BackendValues): tf.TensorInfo;
  /** A view of the tensor's bytes on the heap; invalid once the heap grows. */
  typedArrayFromHeap(info: tf.TensorInfo): tf.backend_util.TypedArray;
  readSync(dataId: tf.DataId): tf.backend_util.BackendValues;
  /** Decrements the reference count and frees the memory when it reaches 0. */
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

/** The parts of the `cpu` backend (`MathBackendCPU`) the reference kernels use. */
interface CpuBackendInternals {
  write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): tf.DataId;
  readSync(dataId: tf.DataId): tf.backend_util.BackendValues;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

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

type KernelArgs = Parameters<tf.KernelFunc>[0];

// ---------------------------------------------------------------------------
// Helpers

function asWasmBackend(backend: unknown, kernelName: string): WasmBackendInternals {
  const b = backend as Partial<WasmBackendInternals> | null;
  if (b == null || typeof b.makeOutput !== 'function' || typeof b.typedArrayFromHeap !== 'function' || typeof b.disposeData !== 'function') {
    throw new Error(`${kernelName}: expected the tfjs-backend-wasm 4.22 backend (makeOutput/typedArrayFromHeap missing)`);
  }
  return b as WasmBackendInternals;
}

function input(inputs: tf.NamedTensorInfoMap, name: string, kernelName: string): tf.TensorInfo {
  const t = inputs[name];
  if (t === undefined) throw new Error(`${kernelName}: missing input '${name}'`);
  if (t.dtype !== 'float32') throw new Error(`${kernelName}: only float32 is supported, got ${t.dtype} for '${name}'`);
  if (t.shape.length !== 4) throw new Error(`${kernelName}: '${name}' must be rank 4 (NHWC), got shape [${t.shape.join(', ')}]`);
  return t;
}

/** Throws unless `t` has the shape the convolution geometry implies (reading past it would read other tensors' heap bytes). */
function requireShape(t: tf.TensorInfo, expected: readonly number[], name: string, kernelName: string): void {
  if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
    throw new Error(`${kernelName}: '${name}' has shape [${t.shape.join(', ')}], expected [${expected.join(', ')}]`);
  }
}

function requireNhwc(dataFormat: string | undefined, kernelName: string): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(`${kernelName}: only NHWC is supported on wasm by shared/wasm-grad-kernels, got ${dataFormat}`);
  }
}

function f32(backend: WasmBackendInternals, info: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/** Runs one of the WASM backend's own kernels with TensorInfos (no engine, no tape). */
function runWasmKernel(name: string, backend: WasmBackendInternals, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap): tf.TensorInfo {
  const config = tf.getKernel(name, BACKEND);
  if (config === undefined) throw new Error(`wasm-grad-kernels: the wasm backend has no '${name}' kernel`);
  const out = config.kernelFunc({ inputs, backend, attrs });
  if (Array.isArray(out)) throw new Error(`wasm-grad-kernels: '${name}' returned several outputs`);
  return out;
}

/** A TensorInfo over the same heap bytes with another shape of the same size (what `Reshape` does, minus the ref count). */
function view(info: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/**
 * `a · b` for 2-D `a` [m, k] and `b` [k, n], neither transposed. Why this form:
 * tfjs-backend-wasm sends only untransposed, batch-1 products to XNNPACK's fully
 * connected operator (SIMD, ~10x faster); any transpose flag takes its scalar
 * fallback loop. XNNPACK caches the packed `b` keyed by its tensor id until that
 * tensor is disposed, so `b` must always be viewed with the same shape.
 */
function matMul(backend: WasmBackendInternals, a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo {
  return runWasmKernel('BatchMatMul', backend, { a, b }, { transposeA: false, transposeB: false });
}

/** 2-D transpose on the WASM backend (C++). */
function transpose2d(backend: WasmBackendInternals, x: tf.TensorInfo): tf.TensorInfo {
  return runWasmKernel('Transpose', backend, { x }, { perm: [1, 0] });
}

function isPointwise(info: tf.backend_util.Conv2DInfo): boolean {
  const p = info.padInfo;
  return (
    info.filterHeight === 1 &&
    info.filterWidth === 1 &&
    info.strideHeight === 1 &&
    info.strideWidth === 1 &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1 &&
    p.top === 0 &&
    p.left === 0 &&
    p.bottom === 0 &&
    p.right === 0
  );
}

// ---------------------------------------------------------------------------
// Conv2DBackpropFilter

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

function conv2DBackpropFilterWasm(args: KernelArgs, im2colMaxFloats: number): tf.TensorInfo {
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

// ---------------------------------------------------------------------------
// Conv2DBackpropInput (pointwise fast path; the stock kernel for the rest)

/** Stock kernels, kept when ours replace them, to delegate to and to restore. */
const stockKernels = new Map<string, tf.KernelConfig>();

function runStock(kernelName: string, args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const stock = stockKernels.get(kernelName);
  if (stock === undefined) throw new Error(`${kernelName}: the stock wasm kernel is missing`);
  return stock.kernelFunc(args);
}

function conv2DBackpropInputWasm(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
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

// ---------------------------------------------------------------------------
// Depthwise gradients

function depthwiseInfo(xShape: Shape4, filterShape: Shape4, attrs: { strides: number | [number, number]; dilations?: number | [number, number]; pad: Pad; dimRoundingMode?: RoundingMode }, name: string): tf.backend_util.Conv2DInfo {
  if (xShape[3] !== filterShape[2]) {
    throw new Error(`${name}: input has ${xShape[3]} channels but the filter expects ${filterShape[2]}`);
  }
  return tf.backend_util.computeConv2DInfo(xShape, filterShape, attrs.strides, attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode, true, 'channelsLast');
}

function depthwiseBackpropFilterWasm(args: KernelArgs): tf.TensorInfo {
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

function depthwiseBackpropInputWasm(args: KernelArgs): tf.TensorInfo {
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

// ---------------------------------------------------------------------------
// AvgPoolGrad and Tile (faster replacements of stock kernels)

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
function avgPoolGradWasm(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
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
function tileWasm(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
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

// ---------------------------------------------------------------------------
// CPU reference kernels

let cpuBackend: CpuBackendInternals | undefined;

/**
 * A private instance of TF.js's `cpu` backend, made from its registered factory.
 * Private so that the engine's active backend and its bookkeeping are untouched.
 */
function privateCpuBackend(): CpuBackendInternals {
  if (cpuBackend) return cpuBackend;
  const factory = tf.findBackendFactory('cpu');
  if (factory == null) {
    throw new Error("wasm-grad-kernels: 'cpu-reference' needs the cpu backend: import '@tensorflow/tfjs-backend-cpu' first");
  }
  const instance: unknown = factory();
  if (instance instanceof Promise) throw new Error('wasm-grad-kernels: the cpu backend factory is asynchronous');
  // `MathBackendCPU` prints a "install tfjs-node" banner on its first write in Node; this
  // private instance is not a backend choice the user made, so skip it.
  (instance as { firstUse?: boolean }).firstUse = false;
  cpuBackend = instance as CpuBackendInternals;
  return cpuBackend;
}

/** A kernel function for 'wasm' that runs `kernelName`'s `cpu` kernel on copies of the inputs. */
function cpuReferenceKernel(kernelName: string): tf.KernelFunc {
  return (args) => {
    const wasm = asWasmBackend(args.backend, kernelName);
    const cpuKernel = tf.getKernel(kernelName, 'cpu');
    if (cpuKernel === undefined) {
      throw new Error(`wasm-grad-kernels: no cpu kernel '${kernelName}': import '@tensorflow/tfjs-backend-cpu' first`);
    }
    const cpu = privateCpuBackend();
    const cpuInputs: tf.NamedTensorInfoMap = {};
    try {
      for (const [key, info] of Object.entries(args.inputs)) {
        if (info === undefined) continue;
        // `readSync` copies out of the heap; the cpu backend keeps the array it is given.
        cpuInputs[key] = { dataId: cpu.write(wasm.readSync(info.dataId), info.shape, info.dtype), shape: info.shape, dtype: info.dtype };
      }
      const out = cpuKernel.kernelFunc({ inputs: cpuInputs, backend: cpu, attrs: args.attrs ?? {} });
      if (Array.isArray(out)) throw new Error(`wasm-grad-kernels: cpu '${kernelName}' returned several outputs`);
      try {
        return wasm.makeOutput(out.shape, out.dtype, undefined, cpu.readSync(out.dataId));
      } finally {
        cpu.disposeData(out.dataId, true);
      }
    } finally {
      for (const info of Object.values(cpuInputs)) if (info) cpu.disposeData(info.dataId, true);
    }
  };
}

// ---------------------------------------------------------------------------
// Registration

interface Installed {
  implementation: GradientKernelImplementation;
  im2colMaxFloats: number;
  funcs: Map<string, tf.KernelFunc>;
}

let installed: Installed | undefined;

function kernelFuncs(implementation: GradientKernelImplementation, im2colMaxFloats: number): Map<string, tf.KernelFunc> {
  if (implementation === 'cpu-reference') {
    // Only what the WASM backend lacks; the replaced stock kernels come back.
    return new Map<string, tf.KernelFunc>([
      ['Conv2DBackpropFilter', cpuReferenceKernel('Conv2DBackpropFilter')],
      ['DepthwiseConv2dNativeBackpropFilter', cpuReferenceKernel('DepthwiseConv2dNativeBackpropFilter')],
      ['DepthwiseConv2dNativeBackpropInput', cpuReferenceKernel('DepthwiseConv2dNativeBackpropInput')],
    ]);
  }
  return new Map<string, tf.KernelFunc>([
    ['Conv2DBackpropFilter', (args) => conv2DBackpropFilterWasm(args, im2colMaxFloats)],
    ['Conv2DBackpropInput', conv2DBackpropInputWasm],
    ['DepthwiseConv2dNativeBackpropFilter', depthwiseBackpropFilterWasm],
    ['DepthwiseConv2dNativeBackpropInput', depthwiseBackpropInputWasm],
    ['AvgPoolGrad', avgPoolGradWasm],
    ['Tile', tileWasm],
  ]);
}

/**
 * Registers `config` for 'wasm', replacing whatever is there, without TF.js's
 * "already registered" warning.
 */
function setKernel(config: tf.KernelConfig): void {
  if (tf.getKernel(config.kernelName, BACKEND) !== undefined) tf.unregisterKernel(config.kernelName, BACKEND);
  tf.registerKernel(config);
}

/**
 * Registers the convolution gradient kernels for the 'wasm' backend, plus the faster
 * `Conv2DBackpropInput`, `AvgPoolGrad` and `Tile` (see the module comment for what each
 * computes and how). Call it once, before training on wasm; it may run before or after
 * the backend starts. Idempotent: a second call with the same options does nothing; a
 * call with other options swaps the kernels (for 'cpu-reference', the replaced stock
 * kernels come back).
 *
 * Supported by the new gradient kernels: NHWC, float32, any kernel size and strides,
 * 'same'/'valid'/numeric/explicit padding; depthwise also dilations and any channel
 * multiplier. Anything else throws a clear error when the kernel runs. The replacements
 * of stock kernels hand what they do not cover back to the stock kernel instead.
 */
export function registerWasmGradientKernels(options: WasmGradientKernelOptions = {}): void {
  const implementation = options.implementation ?? 'wasm';
  const im2colMaxFloats = options.im2colMaxFloats ?? DEFAULT_IM2COL_MAX_FLOATS;
  if (!(im2colMaxFloats > 0)) throw new Error(`wasm-grad-kernels: im2colMaxFloats must be positive, got ${im2colMaxFloats}`);
  if (installed && installed.implementation === implementation && installed.im2colMaxFloats === im2colMaxFloats && allStillRegistered(installed)) {
    return;
  }
  // Keep each stock kernel the first time ours replaces it (and not ours, on a re-registration).
  for (const kernelName of REPLACED_STOCK_KERNELS) {
    const current = tf.getKernel(kernelName, BACKEND);
    if (current !== undefined && current.kernelFunc !== installed?.funcs.get(kernelName)) {
      stockKernels.set(kernelName, current);
    }
  }
  const funcs = kernelFuncs(implementation, im2colMaxFloats);
  for (const kernelName of WASM_GRADIENT_KERNEL_NAMES) {
    const kernelFunc = funcs.get(kernelName);
    const stock = stockKernels.get(kernelName);
    if (kernelFunc) {
      // Ours delegate some cases to the stock kernel, whose setup function binds its C++
      // entry point when the backend starts: keep that setup on ours in case the backend
      // starts after this call.
      const setupFunc = stock?.setupFunc;
      setKernel({ kernelName, backendName: BACKEND, kernelFunc, ...(setupFunc ? { setupFunc } : {}) });
    } else if (stock) {
      setKernel(stock);
    }
  }
  installed = { implementation, im2colMaxFloats, funcs };
}

function allStillRegistered(state: Installed): boolean {
  for (const [kernelName, func] of state.funcs) {
    if (tf.getKernel(kernelName, BACKEND)?.kernelFunc !== func) return false;
  }
  return true;
}

/** Which implementation {@link registerWasmGradientKernels} last installed, if any. */
export function wasmGradientKernelsImplementation(): GradientKernelImplementation | undefined {
  return installed && allStillRegistered(installed) ? installed.implementation : undefined;
}
