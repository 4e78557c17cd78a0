/**
 * What the two emscripten-built WASM modules (TF.js's backend, the MozJPEG decoder) need to start
 * the same way in workerd, the browser and Node: a precompiled `WebAssembly.Module` instantiated
 * through emscripten's `instantiateWasm` hook (workerd forbids compiling from bytes), and the
 * glue's environment detection kept from taking paths that break or leave traces.
 */

/** WebAssembly import object, as emscripten builds it. */
export type WasmImports = Record<string, Record<string, unknown>>;

/** An instantiated module; emscripten reads its `exports`. */
export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

/**
 * The one WebAssembly call used. Why a local description: TypeScript only types the
 * `WebAssembly` global in lib.dom/lib.webworker, and @types/node does not add it, so the Node
 * tsconfig has no `WebAssembly.instantiate`; the Worker and browser configs do. Only
 * `WebAssembly.Module`, an opaque type, is taken from the ambient typings.
 */
interface WasmRuntime {
  instantiate(module: WebAssembly.Module, imports: WasmImports): Promise<WasmInstance>;
}
export const wasmRuntime = (globalThis as unknown as { WebAssembly: WasmRuntime }).WebAssembly;

/** Emscripten's `instantiateWasm` hook: instantiate, then call `receive`. */
export type InstantiateWasmHook = (
  imports: WasmImports,
  receive: (instance: WasmInstance, module: WebAssembly.Module) => void,
) => Record<string, never>;

/**
 * The factory function of an emscripten module. CommonJS factories arrive as the namespace's
 * `default` or as the namespace itself depending on the bundler's interop; ES ones as `default`.
 */
export function resolveEmscriptenFactory<F>(namespace: unknown, what: string): F {
  const ns = namespace as { default?: unknown };
  const candidate: unknown = typeof ns.default === 'function' ? ns.default : ns;
  if (typeof candidate !== 'function') throw new Error(`${what}: emscripten factory not found`);
  return candidate as F;
}

export interface EmscriptenGlobalsOptions {
  /**
   * Hide `globalThis.process` so the glue does not take its Node.js path. It decides it is in
   * Node when `process.versions.node` (or `process.release.name`) exists, which workerd has
   * whenever Node.js compatibility is on (always under the Vitest pool, and by default from
   * compatibility date 2026-08-04). That path calls `require("fs")`, reads `__dirname` (in a
   * wrangler bundle: "ReferenceError: __dirname is not defined") and installs
   * `uncaughtException` handlers that rethrow. With `process` hidden it takes the plain path,
   * which does no I/O because `instantiateWasm` is supplied.
   */
  hideProcess: boolean;
  /** A constructor lent as `globalThis.ImageData` where the platform has none (Node, workerd). */
  imageData?: unknown;
  /**
   * Lend `self.location = { href: '' }` where `self` exists without it (workerd), so glue that
   * would install one for good finds it present.
   */
  selfLocation?: boolean;
}

/**
 * Runs `fn` (a synchronous factory call or a call into the module) with globals arranged as
 * `options` says, restoring every one of them afterwards: nothing is left behind.
 */
export function withEmscriptenGlobals<T>(options: EmscriptenGlobalsOptions, fn: () => T): T {
  const holder = globalThis as { ImageData?: unknown; process?: unknown; self?: { location?: unknown } };
  const lendImageData = options.imageData !== undefined && holder.ImageData === undefined;
  const processDescriptor = options.hideProcess ? Object.getOwnPropertyDescriptor(globalThis, 'process') : undefined;
  const hideProcess = processDescriptor !== undefined && (processDescriptor.configurable === true || processDescriptor.writable === true);
  const self = options.selfLocation ? holder.self : undefined;
  const lendLocation = self !== undefined && self !== null && self.location === undefined && Object.isExtensible(self);
  if (lendImageData) Object.defineProperty(globalThis, 'ImageData', { value: options.imageData, configurable: true, writable: true });
  if (hideProcess && processDescriptor) {
    if (processDescriptor.configurable) delete holder.process;
    else holder.process = undefined;
  }
  if (lendLocation) Object.defineProperty(self, 'location', { value: { href: '' }, configurable: true, writable: true });
  try {
    return fn();
  } finally {
    if (lendLocation) delete self.location;
    if (hideProcess && processDescriptor) {
      if (processDescriptor.configurable) Object.defineProperty(globalThis, 'process', processDescriptor);
      else holder.process = processDescriptor.value;
    }
    if (lendImageData) delete holder.ImageData;
  }
}
