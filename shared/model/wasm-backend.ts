/**
 * Starts TF.js's WASM (SIMD) backend from a precompiled `WebAssembly.Module`.
 *
 * Why not the stock `@tensorflow/tfjs-backend-wasm` initialisation: its `init()`
 * locates the `.wasm` file and fetches or reads it, then compiles it from bytes.
 * Inside workerd (the Workers runtime) there is no file system or URL to fetch it
 * from, and compiling WebAssembly from bytes at run time is forbidden; the only
 * way in is a module imported as `CompiledWasm`, which wrangler precompiles. So
 * this file replays what the stock `init()` does (emscripten factory, the `cwrap`
 * bridge, `BackendWasm`) but hands emscripten the precompiled module through its
 * `instantiateWasm` hook. The same function works in Node, where the caller
 * compiles the module from the file bytes (see `scripts/node-backend.ts`), and in
 * a browser, where the caller can use `WebAssembly.compileStreaming`.
 *
 * This touches package internals (the emscripten factory and the `cwrap` names
 * wired by `backend_wasm.js`), so the tfjs packages are pinned to 4.22.0.
 *
 * Only `@tensorflow/tfjs-core` and backend-wasm are imported: no fs, Buffer, DOM
 * or Worker globals, so this typechecks and runs in the Worker, Node and the
 * browser.
 */
import * as tf from '@tensorflow/tfjs-core';
// Importing the package's index registers every WASM kernel under 'wasm' (and the
// stock backend factory, which `registerWasmBackend` replaces).
import { BackendWasm, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
// The plain (non-threaded) emscripten factory. The stock `init()` uses it for
// both the vanilla and the SIMD binary: both binaries have the same imports and
// exports. Its sibling `tfjs-backend-wasm-simd.js` cannot be used: its epilogue
// looks for a global `WasmBackendModule` that it never defines, and throws.
import * as wasmFactoryNamespace from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.js';
import { resolveEmscriptenFactory, wasmRuntime, withEmscriptenGlobals, type InstantiateWasmHook } from './emscripten.ts';

/** The name under which the backend is registered with TF.js. */
const BACKEND_NAME = 'wasm';
/** Same priority as the stock registration (`base.js`), above `cpu` (1). */
const WASM_PRIORITY = 2;

/** Options for {@link startWasmBackend}. */
export interface WasmBackendOptions {
  /**
   * XNNPACK thread count. Only 1 is supported: the SIMD binary is not threaded,
   * and workerd has no Web Workers to host threads.
   */
  numThreads?: 1;
}

/** Diagnostics returned by {@link wasmBackendInfo}. */
export interface WasmBackendInfo {
  /** The active TF.js backend, or `'none'` if none has been set yet. */
  backend: string;
  /** Size of the WASM linear memory (the heap), in bytes; 0 if not on WASM. */
  heapBytes: number;
}

/**
 * The few parts of the emscripten module object this file uses. The package's
 * own `BackendWasmModule` type extends `EmscriptenModule` from
 * `@types/emscripten`, a global that is not in every tsconfig here, so it is
 * described locally instead.
 */
interface EmscriptenBackendModule {
  cwrap(ident: string, returnType: 'number' | null, argTypes: readonly 'number'[]): (...args: number[]) => unknown;
  HEAPU8: Uint8Array;
  tfjs?: TfjsBridge;
}

/** The `cwrap` bridge that `BackendWasm` and the kernels expect on `module.tfjs`. */
interface TfjsBridge {
  init(): void;
  initWithThreadsCount(threadsCount: number): void;
  getThreadsCount(): number;
  registerTensor(id: number, size: number, memoryOffset: number): void;
  disposeData(id: number): void;
  dispose(): void;
}

/** The settings this file passes to the emscripten factory. */
interface FactorySettings {
  instantiateWasm: InstantiateWasmHook;
  onAbort: (reason: unknown) => void;
  print: (text: string) => void;
  printErr: (text: string) => void;
}

type WasmFactory = (settings: FactorySettings) => Promise<EmscriptenBackendModule>;

function resolveFactory(): WasmFactory {
  return resolveEmscriptenFactory<WasmFactory>(wasmFactoryNamespace, 'tfjs-backend-wasm wasm-out/tfjs-backend-wasm.js');
}

/**
 * Instantiates the emscripten runtime around `wasmModule` and wires the same
 * `cwrap` functions as the stock `init()` in `backend_wasm.js`.
 */
function createEmscriptenModule(wasmModule: WebAssembly.Module): Promise<EmscriptenBackendModule> {
  const factory = resolveFactory();
  return new Promise<EmscriptenBackendModule>((resolve, reject) => {
    let settled = false;
    const fail = (reason: unknown): void => {
      if (settled) return;
      settled = true;
      reject(reason instanceof Error ? reason : new Error(`tfjs-backend-wasm aborted: ${String(reason)}`));
    };
    const settings: FactorySettings = {
      // Instantiating an already compiled module is allowed in workerd; compiling
      // from bytes is not. Returning `{}` tells emscripten the result comes later.
      instantiateWasm: (imports, receive) => {
        wasmRuntime.instantiate(wasmModule, imports).then(
          (instance) => receive(instance, wasmModule),
          fail,
        );
        return {};
      },
      onAbort: fail,
      print: (text) => console.log(text),
      printErr: (text) => console.warn(text),
    };
    let ready: Promise<EmscriptenBackendModule>;
    try {
      // Hide `process`, or emscripten takes its Node path (see shared/model/emscripten.ts).
      ready = withEmscriptenGlobals({ hideProcess: true }, () => factory(settings));
    } catch (err) {
      fail(err);
      return;
    }
    ready.then((module) => {
      if (settled) return;
      // Same functions and signatures as `init()` in backend_wasm.js (4.22.0).
      module.tfjs = {
        init: module.cwrap('init', null, []) as TfjsBridge['init'],
        initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']) as TfjsBridge['initWithThreadsCount'],
        getThreadsCount: module.cwrap('get_threads_count', 'number', []) as TfjsBridge['getThreadsCount'],
        registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']) as TfjsBridge['registerTensor'],
        disposeData: module.cwrap('dispose_data', null, ['number']) as TfjsBridge['disposeData'],
        dispose: module.cwrap('dispose', null, []) as TfjsBridge['dispose'],
      };
      settled = true;
      resolve(module);
    }, fail);
  });
}

/**
 * Replaces the stock 'wasm' backend factory (registered when the package index
 * was imported) with one that uses `wasmModule`. Kernels live in a separate
 * registry keyed by backend name, so removing the factory keeps them.
 * `registerBackend` refuses to overwrite an existing name, hence the removal.
 * Neither call touches `ENGINE.backend`, so no backend is probed or initialised.
 */
function registerWasmBackend(wasmModule: WebAssembly.Module, onError: (err: unknown) => void): void {
  if (tf.findBackendFactory(BACKEND_NAME) != null) {
    tf.removeBackend(BACKEND_NAME);
  }
  tf.registerBackend(
    BACKEND_NAME,
    async () => {
      try {
        // `BackendWasm`'s declared parameter type is the package's emscripten
        // module type; the object built here has everything it uses.
        const module = await createEmscriptenModule(wasmModule);
        return new BackendWasm(module as unknown as ConstructorParameters<typeof BackendWasm>[0]);
      } catch (err) {
        // TF.js swallows factory errors into a console warning and a `false`
        // from setBackend; keep the real cause for the caller.
        onError(err);
        throw err;
      }
    },
    WASM_PRIORITY,
  );
}

let starting: Promise<void> | undefined;

/**
 * Registers the WASM backend built from `wasmModule` (the SIMD binary,
 * `tfjs-backend-wasm-simd.wasm`, or the plain one) and makes it the active
 * TF.js backend.
 *
 * Call it before any other `tf.*` call: TF.js otherwise initialises the
 * best-priority backend on its own, and probes WebGL where that is registered.
 *
 * Idempotent: later calls wait for the first one and make 'wasm' the active
 * backend again if something switched away (their `wasmModule` is ignored).
 * If the first call failed, the next call tries again.
 */
export async function startWasmBackend(wasmModule: WebAssembly.Module, options: WasmBackendOptions = {}): Promise<void> {
  if (starting === undefined) {
    starting = start(wasmModule, options);
    starting.catch(() => {
      starting = undefined;
    });
    return starting;
  }
  await starting;
  if (tf.getBackend() !== BACKEND_NAME) {
    await setWasmBackend(undefined);
  }
}

async function start(wasmModule: WebAssembly.Module, options: WasmBackendOptions): Promise<void> {
  // Read by the BackendWasm constructor. Left at its default (-1) it asks for
  // "one per core", which the non-threaded binary ignores; be explicit.
  setThreadsCount(options.numThreads ?? 1);
  let cause: unknown;
  registerWasmBackend(wasmModule, (err) => {
    cause = err;
  });
  await setWasmBackend(() => cause);
}

async function setWasmBackend(cause: (() => unknown) | undefined): Promise<void> {
  const ok = await tf.setBackend(BACKEND_NAME);
  if (!ok) {
    throw new Error('tfjs-backend-wasm: the WASM backend failed to initialise', { cause: cause?.() });
  }
  await tf.ready();
}

/**
 * The active backend's name and, on WASM, the size of its linear memory. The
 * heap only grows (emscripten never shrinks it), so this is the high-water mark;
 * keep it well under the isolate's 128 MB in the Worker.
 */
export function wasmBackendInfo(): WasmBackendInfo {
  // Reads only: `getBackend()` and the engine's registry of initialised
  // backends. `tf.backend()` would initialise the best backend if none were set
  // (and throws while an initialisation is pending or after one failed).
  const backend = tf.getBackend();
  if (backend !== BACKEND_NAME) {
    return { backend: backend ?? 'none', heapBytes: 0 };
  }
  const instance = tf.engine().registry[BACKEND_NAME] as unknown as { wasm?: { HEAPU8?: Uint8Array } | null } | undefined;
  return { backend, heapBytes: instance?.wasm?.HEAPU8?.buffer.byteLength ?? 0 };
}
