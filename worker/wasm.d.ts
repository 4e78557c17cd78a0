/**
 * `.wasm` files imported by the Worker (and by tests running in workerd) arrive
 * as precompiled modules: wrangler's default CompiledWasm rule, which the Vitest
 * pool applies too. Compiling from bytes at run time is forbidden in workerd.
 */
declare module '*.wasm' {
  const wasmModule: WebAssembly.Module;
  export default wasmModule;
}
