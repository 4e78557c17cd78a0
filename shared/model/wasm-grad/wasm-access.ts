/**
 * What the gradient kernels (shared/model/wasm-grad-kernels.ts) share: typed access to the WASM
 * backend's internals from a kernel function (its heap, its own C++ kernels), input checks, the
 * matrix multiply in the form XNNPACK speeds up, and the stock kernels ours replace.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The backend the kernels are registered for. */
export const BACKEND = 'wasm';

/** An NHWC (or filter HWCM) shape. */
export type Shape4 = [number, number, number, number];
/** Padding as TF.js kernels receive it. */
export type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
/** Rounding of output sizes as TF.js kernels receive it. */
export type RoundingMode = 'floor' | 'round' | 'ceil';

/**
 * The parts of `BackendWasm` (tfjs-backend-wasm 4.22) used here. Described locally
 * rather than imported so that nothing from the package is loaded at run time, and
 * so that its emscripten-typed members do not leak into every tsconfig.
 */
export interface WasmBackendInternals {
  /** Allocates an (uninitialised, or filled from `values`) tensor on the heap. */
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: tf.backend_util.BackendValues): tf.TensorInfo;
  /** A view of the tensor's bytes on the heap; invalid once the heap grows. */
  typedArrayFromHeap(info: tf.TensorInfo): tf.backend_util.TypedArray;
  readSync(dataId: tf.DataId): tf.backend_util.BackendValues;
  /** Decrements the reference count and frees the memory when it reaches 0. */
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

/** What TF.js passes to a kernel function. */
export type KernelArgs = Parameters<tf.KernelFunc>[0];

/** The kernel's `backend` argument as the WASM backend's internals; throws if it is not tfjs-backend-wasm 4.22. */
export function asWasmBackend(backend: unknown, kernelName: string): WasmBackendInternals {
  const b = backend as Partial<WasmBackendInternals> | null;
  if (b == null || typeof b.makeOutput !== 'function' || typeof b.typedArrayFromHeap !== 'function' || typeof b.disposeData !== 'function') {
    throw new Error(`${kernelName}: expected the tfjs-backend-wasm 4.22 backend (makeOutput/typedArrayFromHeap missing)`);
  }
  return b as WasmBackendInternals;
}

/** A kernel input by name, checked to be float32 and rank 4. */
export function input(inputs: tf.NamedTensorInfoMap, name: string, kernelName: string): tf.TensorInfo {
  const t = inputs[name];
  if (t === undefined) throw new Error(`${kernelName}: missing input '${name}'`);
  if (t.dtype !== 'float32') throw new Error(`${kernelName}: only float32 is supported, got ${t.dtype} for '${name}'`);
  if (t.shape.length !== 4) throw new Error(`${kernelName}: '${name}' must be rank 4 (NHWC), got shape [${t.shape.join(', ')}]`);
  return t;
}

/** Throws unless `t` has the shape the convolution geometry implies (reading past it would read other tensors' heap bytes). */
export function requireShape(t: tf.TensorInfo, expected: readonly number[], name: string, kernelName: string): void {
  if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
    throw new Error(`${kernelName}: '${name}' has shape [${t.shape.join(', ')}], expected [${expected.join(', ')}]`);
  }
}

/** Throws unless the data format is NHWC (the default). */
export function requireNhwc(dataFormat: string | undefined, kernelName: string): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(`${kernelName}: only NHWC is supported on wasm by shared/model/wasm-grad-kernels, got ${dataFormat}`);
  }
}

/** A float32 view of a tensor's bytes on the WASM heap; take it after every allocation (growing the heap detaches it). */
export function f32(backend: WasmBackendInternals, info: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/** Runs one of the WASM backend's own kernels with TensorInfos (no engine, no tape). */
export function runWasmKernel(name: string, backend: WasmBackendInternals, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap): tf.TensorInfo {
  const config = tf.getKernel(name, BACKEND);
  if (config === undefined) throw new Error(`wasm-grad-kernels: the wasm backend has no '${name}' kernel`);
  const out = config.kernelFunc({ inputs, backend, attrs });
  if (Array.isArray(out)) throw new Error(`wasm-grad-kernels: '${name}' returned several outputs`);
  return out;
}

/** A TensorInfo over the same heap bytes with another shape of the same size (what `Reshape` does, minus the ref count). */
export function view(info: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/**
 * `a · b` for 2-D `a` [m, k] and `b` [k, n], neither transposed. Why this form:
 * tfjs-backend-wasm sends only untransposed, batch-1 products to XNNPACK's fully
 * connected operator (SIMD, ~10x faster); any transpose flag takes its scalar
 * fallback loop. XNNPACK caches the packed `b` keyed by its tensor id until that
 * tensor is disposed, so `b` must always be viewed with the same shape.
 */
export function matMul(backend: WasmBackendInternals, a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo {
  return runWasmKernel('BatchMatMul', backend, { a, b }, { transposeA: false, transposeB: false });
}

/** 2-D transpose on the WASM backend (C++). */
export function transpose2d(backend: WasmBackendInternals, x: tf.TensorInfo): tf.TensorInfo {
  return runWasmKernel('Transpose', backend, { x }, { perm: [1, 0] });
}

/** Whether a convolution is 1x1, stride 1, undilated and unpadded: then im2col(x) is x itself. */
export function isPointwise(info: tf.backend_util.Conv2DInfo): boolean {
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

/** Stock kernels, kept when ours replace them, to delegate to and to restore. */
export const stockKernels = new Map<string, tf.KernelConfig>();

/** Runs the stock wasm kernel that ours replaced, for the cases ours hand back. */
export function runStock(kernelName: string, args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const stock = stockKernels.get(kernelName);
  if (stock === undefined) throw new Error(`${kernelName}: the stock wasm kernel is missing`);
  return stock.kernelFunc(args);
}

