/** Compiling WebAssembly modules that Vite emitted as assets (`?url` imports). */

const compiled = new Map<string, Promise<WebAssembly.Module>>();

/**
 * Compiles the `.wasm` file at `url` once per page: streaming when the server sends
 * `application/wasm`, from the bytes otherwise. A failed compile is forgotten so a later call
 * retries.
 */
export function compileWasm(url: string): Promise<WebAssembly.Module> {
  let module = compiled.get(url);
  if (!module) {
    module = compile(url);
    compiled.set(url, module);
    module.catch(() => compiled.delete(url));
  }
  return module;
}

async function compile(url: string): Promise<WebAssembly.Module> {
  const response = await fetch(url, { credentials: 'same-origin' });
  if (!response.ok) throw new Error(`could not load ${url}: HTTP ${response.status}`);
  const type = response.headers.get('content-type') ?? '';
  if (typeof WebAssembly.compileStreaming === 'function' && type.startsWith('application/wasm')) {
    return WebAssembly.compileStreaming(response);
  }
  return WebAssembly.compile(await response.arrayBuffer());
}
