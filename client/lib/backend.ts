/**
 * Starts the TF.js backend in the browser, best first:
 *
 * 1. **threaded SIMD** — only when the page is `crossOriginIsolated` (COOP/COEP), through the
 *    stock `@tensorflow/tfjs-backend-wasm` initialisation (`setWasmPaths` pointing at the
 *    Vite-emitted `.wasm`; the pthread worker script is inlined in the package and started from a
 *    Blob URL). A broken threaded build hangs silently instead of failing (FIELD-NOTES), so its
 *    start is raced against a timeout;
 * 2. **SIMD, one thread** — the same start the Worker and Node use (`startWasmBackend` in
 *    shared/model/wasm-backend.ts), with the module compiled here by `WebAssembly.compileStreaming`;
 * 3. **plain WASM** (no SIMD) through the same start, for engines without WASM SIMD;
 * 4. **cpu** — TF.js's JavaScript reference backend, ~25x slower: last resort only.
 *
 * Every step down is recorded in `fallbackReason`, so the caller can tell the user (or a test can
 * assert) why it is not on the fast path. Call {@link startBackend} before any other `tf.*` call.
 */
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import plainWasmUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import simdWasmUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import threadedSimdWasmUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { startWasmBackend } from '../../shared/model/wasm-backend.ts';
import { compileWasm } from './wasm.ts';

/** Which binary runs. */
export type BackendBuild = 'threaded-simd' | 'simd' | 'wasm' | 'cpu';

/** What {@link startBackend} started. */
export interface BackendInfo {
  backend: 'wasm' | 'cpu';
  build: BackendBuild;
  /** XNNPACK threads in use (1 unless the threaded build runs). */
  threads: number;
  simd: boolean;
  /** Whether the page was cross-origin isolated (the threaded build needs it). */
  crossOriginIsolated: boolean;
  /** Why a faster build was not used (absent on the best path for this page). */
  fallbackReason?: string;
  /** Milliseconds the start took, fallbacks included. */
  startMs: number;
}

/** Options for {@link startBackend}. */
export interface BackendOptions {
  /**
   * `'auto'` (default): threaded SIMD when isolated, else SIMD. `'simd'`: never the threaded
   * build. `'cpu'`: the cpu backend only (benchmarks, debugging).
   */
  prefer?: 'auto' | 'simd' | 'cpu';
  /** How long the threaded build may take to start before falling back (default 10 s). */
  threadedTimeoutMs?: number;
  /** How long a single-threaded WASM start may take (default 20 s). */
  wasmTimeoutMs?: number;
  /** Threads for the threaded build; default: TF.js's choice (half the logical cores). */
  threads?: number;
  /** Test hook: the threaded start never settles, as a broken build does. */
  simulateThreadedHang?: boolean;
}

const DEFAULT_THREADED_TIMEOUT_MS = 10_000;
const DEFAULT_WASM_TIMEOUT_MS = 20_000;
const WASM_PRIORITY = 2;

/**
 * The stock 'wasm' factory, registered when the package index is imported (as shared/wasm-backend
 * does). Captured now, because `startWasmBackend` replaces it with its own.
 */
const stockWasmFactory = tf.findBackendFactory('wasm');

let started: Promise<BackendInfo> | undefined;
let active: BackendInfo | null = null;

/**
 * Starts the best TF.js backend this page can run (see the module comment) and resolves with what
 * runs. Idempotent: later calls return the first call's result (their options are ignored); a
 * failed start is forgotten so the next call retries.
 */
export function startBackend(options: BackendOptions = {}): Promise<BackendInfo> {
  started ??= start(options).then(
    (info) => {
      active = info;
      return info;
    },
    (err: unknown) => {
      started = undefined;
      throw err;
    },
  );
  return started;
}

/** The backend {@link startBackend} started, or null before it has finished. */
export function activeBackend(): BackendInfo | null {
  return active;
}

async function start(options: BackendOptions): Promise<BackendInfo> {
  const t0 = performance.now();
  const isolated = globalThis.crossOriginIsolated === true;
  const reasons: string[] = [];
  const done = (info: Omit<BackendInfo, 'startMs' | 'crossOriginIsolated' | 'fallbackReason'>): BackendInfo => ({
    ...info,
    crossOriginIsolated: isolated,
    ...(reasons.length ? { fallbackReason: reasons.join('; ') } : {}),
    startMs: performance.now() - t0,
  });
  const prefer = options.prefer ?? 'auto';

  if (prefer !== 'cpu') {
    const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
    if (!simd) reasons.push('this browser has no WebAssembly SIMD');

    // Threads need cross-origin isolation; a page without it gets the SIMD build by design, which
    // is not a fallback.
    if (prefer === 'auto' && simd && isolated) {
      if (!(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'))) {
        reasons.push('the page is cross-origin isolated but WebAssembly threads are not available');
      } else {
        try {
          const threads = await withTimeout(
            startThreaded(options),
            options.threadedTimeoutMs ?? DEFAULT_THREADED_TIMEOUT_MS,
            'the threaded SIMD build did not start',
          );
          return done({ backend: 'wasm', build: 'threaded-simd', threads, simd: true });
        } catch (err) {
          reasons.push(describe(err));
        }
      }
    }

    const binary = simd ? simdWasmUrl : plainWasmUrl;
    try {
      await withTimeout(
        compileWasm(binary).then((module) => startWasmBackend(module)),
        options.wasmTimeoutMs ?? DEFAULT_WASM_TIMEOUT_MS,
        `the ${simd ? 'SIMD' : 'plain'} WASM build did not start`,
      );
      return done({ backend: 'wasm', build: simd ? 'simd' : 'wasm', threads: 1, simd });
    } catch (err) {
      reasons.push(describe(err));
    }
  } else {
    reasons.push('cpu backend requested');
  }

  await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend('cpu'))) {
    throw new Error(`no TF.js backend could start (${reasons.join('; ')})`);
  }
  await tf.ready();
  return done({ backend: 'cpu', build: 'cpu', threads: 1, simd: false });
}

/**
 * The threaded SIMD build through the stock initialisation, which picks the threaded binary
 * itself when SharedArrayBuffer is usable. Resolves with the thread count XNNPACK got.
 */
async function startThreaded(options: BackendOptions): Promise<number> {
  if (stockWasmFactory == null) throw new Error('the stock tfjs-backend-wasm factory is not registered');
  if (tf.findBackendFactory('wasm') != null) tf.removeBackend('wasm');
  const factory = options.simulateThreadedHang ? () => new Promise<never>(() => undefined) : stockWasmFactory;
  tf.registerBackend('wasm', factory, WASM_PRIORITY);
  // A map (not a prefix): Vite gives each binary its own hashed name.
  setWasmPaths({
    'tfjs-backend-wasm.wasm': absolute(plainWasmUrl),
    'tfjs-backend-wasm-simd.wasm': absolute(simdWasmUrl),
    'tfjs-backend-wasm-threaded-simd.wasm': absolute(threadedSimdWasmUrl),
  });
  setThreadsCount(options.threads ?? -1);
  if (!(await tf.setBackend('wasm'))) {
    throw new Error('the threaded SIMD build failed to initialise (see the console)');
  }
  await tf.ready();
  return getThreadsCount();
}

/** Resolves or rejects like `promise`, or rejects with `message` after `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function absolute(url: string): string {
  return new URL(url, globalThis.location?.href).href;
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}
