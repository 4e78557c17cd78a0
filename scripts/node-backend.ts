/**
 * Node-side helpers to start a TF.js backend for tests, scripts and benchmarks.
 *
 * The Worker gets the SIMD binary as a precompiled `WebAssembly.Module` from its
 * bundler; in Node the module is compiled here from the file in node_modules and
 * handed to the same `startWasmBackend` the Worker uses, so both run the same
 * start-up code.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initImageDecoder } from '../shared/image/decode.ts';
import { startWasmBackend } from '../shared/model/wasm-backend.ts';

const require = createRequire(import.meta.url);

/**
 * Absolute path of a file inside an installed package. Resolves the package's
 * `package.json` and joins, rather than resolving the file itself, so that an
 * `exports` map (which may not list the file) cannot block it.
 */
export function packageFile(packageName: string, relativePath: string): string {
  const packageJson = require.resolve(`${packageName}/package.json`);
  return path.join(path.dirname(packageJson), relativePath);
}

/** Path of the SIMD, non-threaded WASM binary of `@tensorflow/tfjs-backend-wasm`. */
export function simdWasmPath(): string {
  return packageFile('@tensorflow/tfjs-backend-wasm', 'dist/tfjs-backend-wasm-simd.wasm');
}

/**
 * Node has the `WebAssembly` global, but TypeScript only types it in lib.dom and
 * @types/node does not add it, so describe the one call used here.
 */
const wasmRuntime = (globalThis as unknown as {
  WebAssembly: { compile(bytes: Uint8Array): Promise<WebAssembly.Module> };
}).WebAssembly;

let compiled: Promise<WebAssembly.Module> | undefined;

/** Compiles (once per process) the SIMD binary from its file bytes. */
export function compileSimdWasm(): Promise<WebAssembly.Module> {
  compiled ??= readFile(simdWasmPath()).then((bytes) => wasmRuntime.compile(bytes));
  return compiled;
}

/**
 * Starts the WASM SIMD backend in Node, through the same `startWasmBackend` the
 * Worker uses. Idempotent; also makes 'wasm' active again after a switch to cpu.
 */
export async function startNodeWasmBackend(): Promise<void> {
  await startWasmBackend(await compileSimdWasm());
}

/** Path of MozJPEG's decoder binary from `@jsquash/jpeg` (JPEG decoding in shared/image-decode). */
export function mozjpegWasmPath(): string {
  return packageFile('@jsquash/jpeg', 'codec/dec/mozjpeg_dec.wasm');
}

let compiledMozjpeg: Promise<WebAssembly.Module> | undefined;

/**
 * Makes JPEG decoding available in Node: compiles (once per process) the same MozJPEG binary the
 * Worker imports and hands it to the same `initImageDecoder`. Idempotent. PNG needs none of it.
 */
export async function initNodeImageDecoder(): Promise<void> {
  compiledMozjpeg ??= readFile(mozjpegWasmPath()).then((bytes) => wasmRuntime.compile(bytes));
  await initImageDecoder(await compiledMozjpeg);
}

/**
 * Starts TF.js's pure-JavaScript `cpu` backend (the reference implementation;
 * ~25x slower than WASM SIMD on MobileNetV2). For benchmarks and for checking
 * WASM results. Importing the package registers it.
 */
export async function startNodeCpuBackend(): Promise<void> {
  await import('@tensorflow/tfjs-backend-cpu');
  const ok = await tf.setBackend('cpu');
  if (!ok) throw new Error('TF.js cpu backend failed to initialise');
  await tf.ready();
}
