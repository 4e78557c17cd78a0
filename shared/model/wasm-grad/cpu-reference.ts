/**
 * The 'cpu-reference' implementation: kernels for 'wasm' that copy their inputs to a private
 * instance of TF.js's `cpu` backend, run its kernel there, and copy the result back. Correct but
 * slow; kept to compare with and to cross-check the fast kernels.
 */
import * as tf from '@tensorflow/tfjs-core';
import { asWasmBackend } from './wasm-access.ts';

/** The parts of the `cpu` backend (`MathBackendCPU`) the reference kernels use. */
interface CpuBackendInternals {
  write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): tf.DataId;
  readSync(dataId: tf.DataId): tf.backend_util.BackendValues;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

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
export function cpuReferenceKernel(kernelName: string): tf.KernelFunc {
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

