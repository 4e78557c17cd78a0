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
import { conv2DBackpropFilterWasm, conv2DBackpropInputWasm } from './wasm-grad/conv2d.ts';
import { cpuReferenceKernel } from './wasm-grad/cpu-reference.ts';
import { depthwiseBackpropFilterWasm, depthwiseBackpropInputWasm } from './wasm-grad/depthwise.ts';
import { avgPoolGradWasm, tileWasm } from './wasm-grad/pool-tile.ts';
import { BACKEND, stockKernels } from './wasm-grad/wasm-access.ts';

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

const DEFAULT_IM2COL_MAX_FLOATS = 4 * 1024 * 1024;

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
